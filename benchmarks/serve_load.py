"""Closed-loop load on rmsmp-serve: 16 client threads, each posting one SST-2 dev sentence per /embed request
(TEI body) for 8 seconds; prints requests/s and p50/p99 latency. A quick check, not the peer benchmark.

usage: python3 benchmarks/serve_load.py BIN_DIR MODEL.rmsmp [rmsmp-serve options, e.g. --max-batch-tokens 1]
"""
import json, os, subprocess, sys, threading, time, urllib.request
binp, model, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
texts = [l.split("\t")[0] for l in open(os.path.join(os.path.dirname(__file__), "..", "data", "sst2", "dev.tsv")).read().splitlines()[1:]]
srv = subprocess.Popen([f"{binp}/rmsmp-serve", "--model", model, "--port", "0"] + extra, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
port = int(srv.stdout.readline().strip().rsplit(":", 1)[1])
done = [0]; lat = []; lock = threading.Lock(); stop = time.time() + 8
def client(i):
    k = i
    while time.time() < stop:
        t = texts[k % len(texts)]; k += 16
        t0 = time.time()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/embed", data=json.dumps({"inputs": t}).encode(), headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req).read()
        with lock: done[0] += 1; lat.append(time.time() - t0)
th = [threading.Thread(target=client, args=(i,)) for i in range(16)]
t0 = time.time(); [t.start() for t in th]; [t.join() for t in th]; el = time.time() - t0
lat.sort()
print(f"{' '.join(extra) or 'default'}: {done[0]/el:.0f} req/s, p50 {1000*lat[len(lat)//2]:.1f} ms, p99 {1000*lat[int(len(lat)*0.99)]:.1f} ms")
srv.terminate(); srv.wait()
