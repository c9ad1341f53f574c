#!/usr/bin/env python3
"""Load benchmark of rmsmp-serve (issue 19), closed loop: C clients (1, 8, 32) each send one text per request to
OpenAI's /v1/embeddings (its usage field counts the tokens) and send the next as soon as the answer arrives,
for SECONDS per case; short texts (SST-2 dev sentences, about 16 tokens) and long ones (consecutive SST-2
sentences joined to about 128 tokens). Per case: inputs/s, tokens/s, p50/p99 latency, statuses, the server's
peak RSS (VmHWM) and the ratio of its tokens/s to the bare engine's on the same texts in the same run
(`rmsmp-run embed --format f32` over the same texts, as one input file, same threads).

A peer server already running (--peer-url, an OpenAI-style /embeddings endpoint, e.g. infinity-emb with its
ONNX Runtime engine: scripts/serve_peer.sh) gets the same cases in the same run, one instance for all of them
(--peer-pid: its peak RSS). Tokens are counted with the model's own tokenizer for both (`rmsmp-run tokenize`),
so tokens/s compare; the peer's usage field may count otherwise (infinity-emb counts characters).
Stdlib only. Output: OUT/serve_load.jsonl (one record per case) and OUT/serve_load.md.

usage: python3 benchmarks/serve_load.py BIN_DIR MODEL.rmsmp [--seconds 8] [--out out/serve-load] [--clients 1,8,32]
                 [--peer-url URL --peer-name NAME --peer-model ID --peer-pid PID] [-- rmsmp-serve options]
"""
import argparse, json, os, platform, subprocess, sys, tempfile, threading, time, urllib.error, urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("bin_dir")
ap.add_argument("model")
ap.add_argument("--seconds", type=float, default=8.0)
ap.add_argument("--out", default="out/serve-load")
ap.add_argument("--clients", default="1,8,32")
ap.add_argument("--peer-url", default="")
ap.add_argument("--peer-name", default="peer")
ap.add_argument("--peer-model", default="m")
ap.add_argument("--peer-pid", type=int, default=0)
args, extra = ap.parse_known_args()
extra = [e for e in extra if e != "--"]
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sst = [l.split("\t")[0].strip() for l in open(os.path.join(root, "data", "sst2", "dev.tsv"), encoding="utf-8").read().splitlines()[1:]]
short = [t for t in sst if 8 <= len(t.split()) <= 16]
long_, cur = [], []
for t in sst:  # consecutive sentences joined to about 100 words (about 128 tokens)
    cur.append(t)
    if sum(len(c.split()) for c in cur) >= 95:
        long_.append(" ".join(cur))
        cur = []
sets = {"short": short, "long": long_}


def git_sha():
    try:
        return subprocess.run(["git", "-C", root, "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def cpu_name():
    for l in open("/proc/cpuinfo"):
        if l.startswith("model name"):
            return l.split(":", 1)[1].strip()
    return platform.processor()


def bare_engine(texts):
    """inputs/s and tokens/s of rmsmp-run embed on texts (one file), and each text's token count."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write("\n".join(texts) + "\n")
        path = f.name
    tok = subprocess.run([f"{args.bin_dir}/rmsmp-run", "tokenize", "--model", args.model, "--input", path],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    counts = [len(l.split()) for l in tok]
    tokens = sum(counts)
    best = None
    for _ in range(2):  # the first run also warms the page cache
        t0 = time.time()
        subprocess.run([f"{args.bin_dir}/rmsmp-run", "embed", "--model", args.model, "--input", path, "--format", "f32"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        el = time.time() - t0
        best = el if best is None else min(best, el)
    os.unlink(path)
    return len(texts) / best, tokens / best, counts


def peak_rss_mb(pid):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmHWM:"):
            return round(int(l.split()[1]) / 1024, 1)
    return 0.0


def run_case(url, model_id, pid, texts, counts, clients):
    lat, statuses, tokens = [], {}, [0]
    lock = threading.Lock()
    stop = time.time() + args.seconds

    def client(i):
        k = i
        while time.time() < stop:
            j = k % len(texts)
            body = json.dumps({"input": texts[j], "model": model_id}).encode()
            k += clients
            t0 = time.time()
            req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=120) as r:
                    ok = len(json.loads(r.read())["data"]) == 1
                    n, st = (counts[j], r.status) if ok else (0, "bad body")
            except urllib.error.HTTPError as e:
                n, st = 0, e.code
            except OSError:
                n, st = 0, "error"
            with lock:
                lat.append(time.time() - t0)
                statuses[st] = statuses.get(st, 0) + 1
                tokens[0] += n

    th = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    t0 = time.time()
    for t in th:
        t.start()
    for t in th:
        t.join()
    el = time.time() - t0
    lat.sort()
    hwm = peak_rss_mb(pid) if pid else 0.0
    ok = statuses.get(200, 0)
    return {"requests_per_s": len(lat) / el, "inputs_per_s": ok / el, "tokens_per_s": tokens[0] / el,
            "p50_ms": 1000 * lat[len(lat) // 2], "p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))],
            "statuses": {str(k): v for k, v in statuses.items()}, "server_peak_rss_mb": hwm}


os.makedirs(args.out, exist_ok=True)
records = []
meta = {"git_sha": git_sha(), "cpu": cpu_name(), "cores": os.cpu_count(), "model": os.path.basename(args.model),
        "seconds": args.seconds, "serve_options": " ".join(extra) or "defaults",
        "peer": args.peer_name if args.peer_url else "none"}
for name, texts in sets.items():
    bare_ips, bare_tps, counts = bare_engine(texts)
    for c in [int(x) for x in args.clients.split(",")]:
        # A fresh server per case, so that each peak RSS is that case's.
        srv = subprocess.Popen([f"{args.bin_dir}/rmsmp-serve", "--model", args.model, "--port", "0"] + extra,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        port = int(srv.stdout.readline().strip().rsplit(":", 1)[1])
        r = run_case(f"http://127.0.0.1:{port}/v1/embeddings", "m", srv.pid, texts, counts, c)
        srv.terminate()
        srv.wait()
        runs = [("rmsmp-serve", r)]
        if args.peer_url:  # the same case on the peer, right after (its RSS: the peak so far)
            runs.append((args.peer_name, run_case(args.peer_url, args.peer_model, args.peer_pid, texts, counts, c)))
        for server, r in runs:
            r.update(meta, server=server, texts=name, clients=c, mean_tokens=round(r["tokens_per_s"] / max(r["inputs_per_s"], 1e-9), 1),
                     bare_inputs_per_s=bare_ips, bare_tokens_per_s=bare_tps, tokens_vs_bare=r["tokens_per_s"] / bare_tps)
            records.append(r)
            print(f"{server:12s} {name:5s} x{c:2d}: {r['inputs_per_s']:7.1f} inputs/s {r['tokens_per_s']:8.0f} tokens/s "
                  f"({r['tokens_vs_bare']:.2f} of bare) p50 {r['p50_ms']:.1f} ms p99 {r['p99_ms']:.1f} ms "
                  f"statuses {r['statuses']} rss {r['server_peak_rss_mb']} MB", flush=True)
with open(os.path.join(args.out, "serve_load.jsonl"), "w") as f:
    for r in records:
        f.write(json.dumps(r) + "\n")
with open(os.path.join(args.out, "serve_load.md"), "w") as f:
    f.write(f"CPU: {meta['cpu']} ({meta['cores']} cores) · git {meta['git_sha']} · {meta['model']} · "
            f"{args.seconds:g} s per case · rmsmp-serve {meta['serve_options']} · peer: {meta['peer']}\n\n")
    f.write("| server | texts | clients | inputs/s | tokens/s | of bare engine | p50 ms | p99 ms | statuses | server peak RSS MB |\n")
    f.write("|---|---|---:|---:|---:|---:|---:|---:|---|---:|\n")
    for r in records:
        f.write(f"| {r['server']} | {r['texts']} ({r['mean_tokens']:.0f} tokens) | {r['clients']} | {r['inputs_per_s']:.1f} | "
                f"{r['tokens_per_s']:.0f} | {r['tokens_vs_bare']:.2f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
                f"{r['statuses']} | {r['server_peak_rss_mb']} |\n")
print("wrote", os.path.join(args.out, "serve_load.md"))
