"""Corpus embedding throughput: rmsmp.ray.embed on a local Ray cluster beside Model.encode in this process, on
the same texts and the same total threads, in one run (median of --repeats).

    PYTHONPATH=build/python python3 benchmarks/ray_embed.py MODEL.rmsmp TEXTS.txt [--n 4000] [--actors 2]

Prints one JSON object: texts/s of both, their ratio, and the machine (CPU, cores, git SHA). On one machine Ray
adds scheduling and serialisation; what it buys is spreading the same work over a cluster's nodes."""
import argparse
import json
import os
import platform
import statistics
import subprocess
import time

import ray

import rmsmp
import rmsmp.ray


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("texts")
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--actors", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="OpenMP threads per actor")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    lines = [l.strip() for l in open(a.texts, encoding="utf-8") if l.strip()]
    texts = (lines * (a.n // max(len(lines), 1) + 1))[:a.n]
    total = a.actors * a.threads
    local = rmsmp.Model(a.model, threads=total)
    local_t = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        want = local.encode(texts, batch_size=64)
        local_t.append(time.perf_counter() - t0)
    ray.init(num_cpus=total, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray_t = []
    for _ in range(a.repeats):
        ds = ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts)])
        t0 = time.perf_counter()
        rows = rmsmp.ray.embed(ds, a.model, concurrency=a.actors, threads=a.threads, batch_size=256).take_all()
        ray_t.append(time.perf_counter() - t0)
    ray.shutdown()
    same = all((r["embedding"] == want[r["id"]]).all() for r in rows)
    sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    lt, rt = statistics.median(local_t), statistics.median(ray_t)
    print(json.dumps({"texts": len(texts), "model": a.model, "scheme": local.info["scheme"], "cpu": cpu_name(),
                      "logical_cpus": os.cpu_count(), "git_sha": sha, "threads_total": total, "actors": a.actors,
                      "encode_texts_per_s": round(len(texts) / lt, 1), "ray_texts_per_s": round(len(texts) / rt, 1),
                      "ray_vs_encode": round(lt / rt, 3), "bit_identical": bool(same), "repeats": a.repeats}))


if __name__ == "__main__":
    main()
