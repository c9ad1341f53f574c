"""The hostile-client measurements quoted in README and docs/ROBUSTNESS.md, against a running rmsmp-serve:
/health and /embed latency with N idle keep-alive or slow (a byte every 2 s, request never finished) clients
connected, a chunked body far over --max-body (answer, time, server peak RSS), and one in-limit request of many
long texts (server RSS after it).

    ./build/apps/rmsmp-serve --model M.rmsmp --port 18080 --max-body 8000000 &
    python3 benchmarks/serve_hostile.py 18080 [--idle 300] [--slow 100] [--chunked-mb 300] [--texts 256]

Prints one JSON object."""
import argparse, json, socket, subprocess, threading, time, urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("--idle", type=int, default=300)
ap.add_argument("--slow", type=int, default=100)
ap.add_argument("--chunked-mb", type=int, default=300)
ap.add_argument("--texts", type=int, default=256)
a = ap.parse_args()
pid = subprocess.run(["pgrep", "-f", "rmsmp-serve"], capture_output=True, text=True).stdout.split()[0]
status = lambda key: open(f"/proc/{pid}/status").read().split(key + ":")[1].split("\n")[0].strip()


def timed(route, body=None, timeout=60):
    t = time.time()
    req = urllib.request.Request(f"http://127.0.0.1:{a.port}{route}", data=json.dumps(body).encode() if body else None,
                                 headers={"Content-Type": "application/json"})
    try:
        r = urllib.request.urlopen(req, timeout=timeout)
        r.read()
        return {"status": r.status, "seconds": round(time.time() - t, 3)}
    except Exception as e:
        return {"error": str(e)[:80], "seconds": round(time.time() - t, 3)}


out = {}
for kind, n in (("idle", a.idle), ("slow", a.slow)):
    conns = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", a.port))
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" if kind == "idle" else b"P")
        conns.append(s)
    stop = threading.Event()
    def drip():
        while not stop.wait(2):
            for s in conns:
                try:
                    s.sendall(b"O")
                except OSError:
                    pass
    if kind == "slow":
        threading.Thread(target=drip, daemon=True).start()
    time.sleep(0.5)
    out[f"{kind}_{n}"] = {"health": timed("/health"), "embed": timed("/embed", {"inputs": "a b c"})}
    stop.set()
    for s in conns:
        s.close()
s = socket.create_connection(("127.0.0.1", a.port))
s.sendall(b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
t, sent = time.time(), 0
try:
    chunk = b"%x\r\n" % (1 << 20) + b"a" * (1 << 20) + b"\r\n"
    for _ in range(a.chunked_mb):
        s.sendall(chunk)
        sent += 1
    s.sendall(b"0\r\n\r\n")
except OSError:
    pass
try:
    head = s.recv(64).split(b"\r\n")[0].decode()
except OSError as e:
    head = str(e)
out["chunked"] = {"mb_offered": a.chunked_mb, "mb_sent": sent, "answer": head, "seconds": round(time.time() - t, 3),
                  "server_peak_rss": status("VmHWM")}
texts = [" ".join(f"w{i}x{j}" for j in range(120)) for i in range(a.texts)]
out["many_long_texts"] = dict(timed("/embed", {"inputs": texts}, timeout=600), server_rss_after=status("VmRSS"))
print(json.dumps(out))
