#!/usr/bin/env python3
"""Hostile RTSP clients of issue 14 (items 3-5), run against a built avcat serve.

  scripts/rtsp-attack.py AVCAT [--timeout 3] [--slow 50]

- slow: SLOW connections each send an OPTIONS request one byte every 0.5 s;
  every one must be cut off within 2x --timeout of its first byte.
- transport: interleaved=300-301 and client_port=70000-70001 must get 461.
- tracks: ANNOUNCE of a 1000-track SDP must get a 4xx.
- sessions: with --max-sessions 4, the 5th SETUP must get 453.
Loopback only. Prints one line per check and exits 1 if a bound is broken.
"""
import os
import socket
import subprocess
import sys
import threading
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start_serve(avcat, timeout, extra=()):
    port = free_port()
    rtp = free_port() & ~1  # even; RTCP on the next port
    p = subprocess.Popen([avcat, "serve", "--rtsp", f"127.0.0.1:{port}", "--no-rtmp", "--rtp-port", str(rtp),
                          "--timeout", f"{timeout}s", *extra],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p, port
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise SystemExit("serve did not start")


def request(port, text, conn=None):
    s = conn or socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(text.encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    line = buf.split(b"\r\n", 1)[0].decode(errors="replace")
    return s, line


def slow_client(port, results, i):
    msg = f"OPTIONS rtsp://127.0.0.1:{port}/demo RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: {'s' * 60}\r\n\r\n".encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.settimeout(0.5)
    start = time.time()
    for b in msg:
        try:
            s.send(bytes([b]))
            if s.recv(4096) == b"":
                break
        except socket.timeout:
            continue
        except OSError:
            break
    results[i] = time.time() - start
    s.close()


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    avcat = sys.argv[1]
    timeout = 3.0
    slow = 50
    args = sys.argv[2:]
    while args:
        if args[0] == "--timeout":
            timeout = float(args[1])
        elif args[0] == "--slow":
            slow = int(args[1])
        args = args[2:]
    ok = True

    p, port = start_serve(avcat, timeout, ["--max-sessions", "4"])
    try:
        results = [None] * slow
        threads = [threading.Thread(target=slow_client, args=(port, results, i)) for i in range(slow)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        worst = max(results)
        good = worst < 2 * timeout
        ok &= good
        print(f"slow: {slow} clients at 1 byte/0.5 s, --timeout {timeout:g}s: cut off after "
              f"{min(results):.2f}-{worst:.2f} s (bound {2 * timeout:g} s) {'ok' if good else 'FAIL'}")

        url = f"rtsp://127.0.0.1:{port}/demo"
        for tr in ["RTP/AVP/TCP;unicast;interleaved=300-301", "RTP/AVP;unicast;client_port=70000-70001"]:
            s, line = request(port, f"SETUP {url}/trackID=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: {tr}\r\n\r\n")
            s.close()
            good = " 461 " in line
            ok &= good
            print(f"transport {tr}: {line} {'ok' if good else 'FAIL'}")

        sdp = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\n" + "".join(
            f"m=video 0 RTP/AVP 96\r\na=control:trackID={i}\r\na=rtpmap:96 H264/90000\r\n"
            f"a=fmtp:96 packetization-mode=1\r\n" for i in range(1000))
        s, line = request(port, f"ANNOUNCE rtsp://127.0.0.1:{port}/many RTSP/1.0\r\nCSeq: 1\r\n"
                                f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}")
        s.close()
        good = line.startswith("RTSP/1.0 4")
        ok &= good
        print(f"tracks: ANNOUNCE of 1000 tracks: {line} {'ok' if good else 'FAIL'}")

        held, lines = [], []
        for i in range(5):
            s, line = request(port, f"SETUP {url}/trackID=0 RTSP/1.0\r\nCSeq: 1\r\n"
                                    f"Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n")
            held.append(s)
            lines.append(line)
        good = all(" 200 " in x for x in lines[:4]) and " 453 " in lines[4]
        ok &= good
        print(f"sessions: --max-sessions 4, 5th SETUP: {lines[4]} {'ok' if good else 'FAIL'}")
        for s in held:
            s.close()
    finally:
        p.kill()
        p.wait()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
