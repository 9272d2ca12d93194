#!/usr/bin/env bash
# Builds mediamtx, a benchmark reference only (not a test peer: it shares
# gortsplib with avcat), at an exact version under AVCAT_PEERS_DIR/bin
# (default /opt/avcat-peers). mediamtx is not a Debian package and `go
# install` asks the proxy for a version list, which it refuses: the exact
# module is downloaded and built from the module cache. Its two generated
# files (VERSION, the hls.js bundle that `go generate` fetches from the
# web) are written as placeholders: the benchmark uses RTSP only.
# Idempotent: prints the binary's path.
set -euo pipefail

MTX_MODULE=github.com/bluenviron/mediamtx
MTX_VERSION=${MTX_VERSION:-v1.14.0}
dir=${AVCAT_PEERS_DIR:-/opt/avcat-peers}
bin=$dir/bin/mediamtx

if [ -x "$bin" ] && [ "$(cat "$bin.version" 2>/dev/null)" = "$MTX_VERSION" ]; then
	echo "$bin"
	exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ] && [ ! -w "$(dirname "$dir")" ]; then SUDO=sudo; fi
$SUDO mkdir -p "$dir/bin"
src=$(go mod download -json "$MTX_MODULE@$MTX_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$src" ] || { echo "install-mediamtx: go mod download $MTX_MODULE@$MTX_VERSION failed" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$src" "$tmp/src"
chmod -R u+w "$tmp/src"
echo "$MTX_VERSION" >"$tmp/src/internal/core/VERSION"
: >"$tmp/src/internal/servers/hls/hls.min.js"
(cd "$tmp/src" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -o "$tmp/mediamtx" .) >&2
$SUDO install -m 0755 "$tmp/mediamtx" "$bin"
echo "$MTX_VERSION" | $SUDO tee "$bin.version" >/dev/null
echo "install-mediamtx: mediamtx $MTX_VERSION installed in $bin" >&2
echo "$bin"
