#!/usr/bin/python3
"""RTSP server for avcat's interop tests, built on GstRtspServer (python3-gi).

Usage: /usr/bin/python3 gst_rtsp_server.py CONFIG_JSON

CONFIG_JSON:
  {"port": 8554,
   "mounts": [{"path": "/live", "launch": "( ... )", "shared": true, "record": false}],
   "auth": {"method": "basic"|"digest", "user": "u", "pass": "p"}}   (auth optional)

A launch string is a gst-launch pipeline with payloaders named pay0, pay1...
(or, for a record mount, depayloaders named depay0, depay1...); it is wrapped in
"( )" when needed. The token {aacenc} is replaced by the first AAC encoder that
exists (voaacenc, avenc_aac, fdkaacenc). With "auth", every mount requires the
user, and there is no anonymous user.

Exit codes: 2 bad config, 98 cannot bind the port.
"""

import json
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

ROLE = "user"


def aac_encoder():
    for name in ("voaacenc", "avenc_aac", "fdkaacenc"):
        if Gst.ElementFactory.find(name) is not None:
            return name
    return "voaacenc"  # fails at DESCRIBE time with a clear gst error


def make_auth(cfg):
    method = cfg.get("method", "basic")
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, ROLE)
    if method == "basic":
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(cfg["user"], cfg["pass"]), token)
    elif method == "digest":
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        auth.add_digest(cfg["user"], cfg["pass"], token)
    else:
        sys.stderr.write("unknown auth method %r\n" % method)
        sys.exit(2)
    # No default (anonymous) token: with one, a protected mount answers 404
    # instead of 401.
    return auth


def main():
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        sys.exit(2)
    cfg = json.loads(sys.argv[1])
    Gst.init(None)

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(cfg["port"]))

    auth_cfg = cfg.get("auth")
    if auth_cfg:
        server.set_auth(make_auth(auth_cfg))

    enc = aac_encoder()
    mounts = server.get_mount_points()
    for m in cfg["mounts"]:
        launch = m["launch"].replace("{aacenc}", enc).strip()
        if not launch.startswith("("):
            launch = "( " + launch + " )"
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch)
        factory.set_shared(bool(m.get("shared")))
        if m.get("record"):
            factory.set_transport_mode(GstRtspServer.RTSPTransportMode.RECORD)
        if auth_cfg:
            perms = GstRtspServer.RTSPPermissions()
            perms.add_permission_for_role(ROLE, GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
            perms.add_permission_for_role(ROLE, GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True)
            factory.set_permissions(perms)
        mounts.add_factory(m["path"], factory)
        print("mount %s: %s" % (m["path"], launch), flush=True)

    if server.attach(None) == 0:
        sys.stderr.write("cannot bind 127.0.0.1:%s\n" % cfg["port"])
        sys.exit(98)
    print("listening on rtsp://127.0.0.1:%s" % cfg["port"], flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
