"""encode() from Python beside the C++ tool on the same model, texts and threads, in one run (median of
--repeats): `rmsmp-run embed --format f32` over the file (its time minus the same command on one line, which is
the process start and model load), and rmsmp.Model.encode with its defaults (batch_size 32; model loaded once, before timing).

    PYTHONPATH=build/python python3 benchmarks/python_encode.py MODEL.rmsmp data/sst2/dev.tsv [--threads 2]

Prints one JSON object (texts/s of both, the ratio, CPU, git SHA); the embeddings are also compared bit for bit."""
import argparse, csv, json, os, statistics, subprocess, tempfile, time

import numpy as np

import rmsmp

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("tsv")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--repeats", type=int, default=5)
ap.add_argument("--bin", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "apps"))
a = ap.parse_args()
with open(a.tsv, encoding="utf-8") as f:
    rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
texts = [r[0] for r in rows[1:] if r and r[0].strip()]
tmp = tempfile.mkdtemp()
all_f, one_f = os.path.join(tmp, "all.txt"), os.path.join(tmp, "one.txt")
open(all_f, "w", encoding="utf-8").write("\n".join(texts) + "\n")
open(one_f, "w", encoding="utf-8").write(texts[0] + "\n")
env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
run = lambda f: subprocess.run([os.path.join(a.bin, "rmsmp-run"), "embed", "--model", a.model, "--input", f, "--format",
                                "f32"], check=True, capture_output=True, env=env).stdout
model = rmsmp.Model(a.model, threads=a.threads)
cli_t, py_t = [], []
for _ in range(a.repeats):  # interleaved, so drifts of a noisy host touch both
    t0 = time.perf_counter(); run(one_f); t1 = time.perf_counter(); raw = run(all_f); t2 = time.perf_counter()
    cli_t.append((t2 - t1) - (t1 - t0))
    t0 = time.perf_counter(); got = model.encode(texts); py_t.append(time.perf_counter() - t0)
same = np.array_equal(np.frombuffer(raw, dtype="<f4").reshape(len(texts), -1), got)
sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                     cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "")
c, p = statistics.median(cli_t), statistics.median(py_t)
print(json.dumps({"texts": len(texts), "model": a.model, "threads": a.threads, "cpu": cpu, "git_sha": sha,
                  "cli_texts_per_s": round(len(texts) / c, 1), "python_texts_per_s": round(len(texts) / p, 1),
                  "python_vs_cli": round(c / p, 3), "bit_identical": bool(same), "repeats": a.repeats}))
