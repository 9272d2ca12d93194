// Package interop holds interop tests of the verbs against independent
// RTSP/RTMP servers that share no code with avcat: lal's lalserver (Go, its
// own RTSP and RTMP stacks) and node-media-server (Node.js, RTMP). The peers
// are installed by .ci/install-extra-peers; see internal/testpeer.
package interop
