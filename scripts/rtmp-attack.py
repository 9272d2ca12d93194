#!/usr/bin/env python3
"""Hostile RTMP peers of issue 14 (items 1 and 2), run against a built avcat.

  scripts/rtmp-attack.py serve AVCAT [ATTACK...]  # attack `serve`: RSS growth < 64 MB, still serving
  scripts/rtmp-attack.py pull  AVCAT [ATTACK...]  # attack `rtmp-pull`: exit 3, one line, peak RSS < 100 MB

Attacks (each about 8 MB after the handshake):
  nested-amf0   SetChunkSize 10485760, then an 8 MB connect of 2 000 000 nested objects
  chunk-size-0  SetChunkSize 0, a 1 MB video header, then 8 MB of 0xC3
  chunk-size-1  SetChunkSize 1, then a 4 MB video message one byte per chunk
  partial-flood 61 unfinished 10 MiB messages at chunk size 128, interleaved,
                up to 14 MiB: every message within its limit
Loopback only. Prints one line per attack and exits 1 if a bound is broken.
"""
import os
import socket
import struct
import subprocess
import sys
import threading
import time


def chunk0(csid, length, typ):
    return bytes([csid, 0, 0, 0]) + length.to_bytes(3, "big") + bytes([typ, 0, 0, 0, 0])


def set_chunk_size(v):
    return chunk0(2, 4, 1) + struct.pack(">I", v)


def attack(name):
    if name == "nested-amf0":
        body = b"\x02\x00\x07connect" + b"\x00\x3f\xf0" + b"\x00" * 6 + b"\x03\x00\x01a" * 2_000_000
        return set_chunk_size(10485760) + chunk0(3, len(body), 20) + body
    if name == "chunk-size-0":
        return set_chunk_size(0) + chunk0(3, 1 << 20, 9) + b"\xc3" * (8 << 20)
    if name == "chunk-size-1":
        size = 4 << 20
        return set_chunk_size(1) + chunk0(3, size, 9) + b"\x17" + b"\xc3\x01" * (size - 1)
    if name == "partial-flood":
        out = [chunk0(cs, 10 << 20, 9) + bytes(128) for cs in range(3, 64)]
        for _ in range((14 << 20) // (61 * 128)):
            out += [bytes([0xC0 | cs]) + bytes(128) for cs in range(3, 64)]
        return b"".join(out)
    raise ValueError(name)


ATTACKS = ["nested-amf0", "chunk-size-0", "chunk-size-1", "partial-flood"]


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            raise EOFError("peer closed during the handshake")
        b += d
    return b


def drain(s):
    try:
        while s.recv(65536):
            pass
    except OSError:
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_port(port, proc, limit=15):
    end = time.time() + limit
    while time.time() < end:
        if proc.poll() is not None:
            raise SystemExit(f"avcat exited early ({proc.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"port {port} not ready")


def rtmp_client_attack(port, payload):
    """Handshake as a client, send payload; return how the server ended it."""
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.settimeout(15)
    s.sendall(b"\x03" + bytes(1536))
    s01 = recv_exact(s, 1 + 1536 + 1536)
    s.sendall(s01[1:1537])
    result = "server kept the connection"
    try:
        s.sendall(payload)
        while s.recv(65536):
            pass
        result = "closed by server"
    except (ConnectionResetError, BrokenPipeError) as e:
        result = f"closed by server ({type(e).__name__})"
    except socket.timeout:
        pass
    s.close()
    return result


def serve(avcat, names):
    rtsp, rtmp = free_port(), free_port()
    proc = subprocess.Popen([avcat, "serve", "-v", "--rtsp", f"127.0.0.1:{rtsp}", "--rtmp", f"127.0.0.1:{rtmp}",
                             "--rtp-port", str(free_port() & ~1)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ok = True
    try:
        wait_port(rtmp, proc)
        for name in names or ATTACKS:
            payload = attack(name)
            base = rss_kb(proc.pid)
            peak = [base]
            stop = threading.Event()

            def sample():
                while not stop.is_set():
                    try:
                        peak[0] = max(peak[0], rss_kb(proc.pid))
                    except OSError:
                        return
                    time.sleep(0.005)

            th = threading.Thread(target=sample)
            th.start()
            how = rtmp_client_attack(rtmp, payload)
            time.sleep(0.3)  # let the sampler see the aftermath; not a readiness wait
            stop.set()
            th.join()
            alive = proc.poll() is None
            probe = subprocess.run([avcat, "probe", f"rtmp://127.0.0.1:{rtmp}/demo"], capture_output=True,
                                   text=True, timeout=60)
            growth = (peak[0] - base) / 1024
            good = alive and probe.returncode == 0 and growth < 64
            ok &= good
            print(f"serve {name:13s} RSS {base/1024:6.1f} MB -> peak {peak[0]/1024:6.1f} MB (growth {growth:5.1f} MB), "
                  f"{how}, still serving: {alive and probe.returncode == 0} {'OK' if good else 'FAIL'}")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    for line in err.splitlines():
        if "RTMP client" in line:
            print("  serve log:", line.strip())
    return ok


def pull(avcat, names):
    ok = True
    for name in names or ATTACKS:
        payload = attack(name)
        ln = socket.socket()
        ln.bind(("127.0.0.1", 0))
        ln.listen(1)
        port = ln.getsockname()[1]

        def server():
            c, _ = ln.accept()
            c.settimeout(15)
            try:
                c01 = recv_exact(c, 1537)
                c.sendall(b"\x03" + bytes(1536) + c01[1:])
                recv_exact(c, 1536)
                threading.Thread(target=drain, args=(c,), daemon=True).start()
                c.sendall(payload)
            except OSError:
                pass
            finally:
                c.close()

        th = threading.Thread(target=server, daemon=True)
        th.start()
        out = f"/tmp/rtmp-attack-{os.getpid()}.flv"
        # /usr/bin/time reports the peak RSS of avcat alone (a child forked
        # from this script would start with the script's own RSS).
        rssfile = out + ".rss"
        r = subprocess.run(["/usr/bin/time", "-o", rssfile, "-f", "%M", avcat, "rtmp-pull",
                            f"rtmp://127.0.0.1:{port}/live/x", "-o", out],
                           capture_output=True, text=True, timeout=60)
        ln.close()
        with open(rssfile) as f:
            peak_mb = int(f.read().split()[-1]) / 1024
        for p in (out, rssfile):
            if os.path.exists(p):
                os.remove(p)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        good = r.returncode == 3 and len(lines) == 1 and peak_mb < 100
        ok &= good
        print(f"rtmp-pull {name:13s} exit {r.returncode}, peak RSS {peak_mb:5.1f} MB, "
              f"{len(lines)} stderr line(s): {lines[0] if lines else ''} {'OK' if good else 'FAIL'}")
    return ok


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("serve", "pull") or not set(sys.argv[3:]) <= set(ATTACKS):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    run = serve if sys.argv[1] == "serve" else pull
    ok = run(sys.argv[2], sys.argv[3:])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
