#!/usr/bin/env bash
# A two-node Ray cluster on this machine (a head and a worker node, separate `ray start` processes, one CPU
# each) embeds every SST-2 train sentence with rmsmp.ray (1 actor, then 2), checks each vector against
# Model.encode in one process bit for bit, prints the throughputs as JSON, and stops the cluster.
# Usage: bash scripts/ray_cluster_check.sh MODEL.rmsmp [SST2_TRAIN_TSV]
#   (default TSV: ../shared/data/glue/SST-2/train.tsv, 67,349 sentences; needs build/python, ray[data])
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=$(realpath "$1")
TSV=$(realpath "${2:-../shared/data/glue/SST-2/train.tsv}")
export PYTHONPATH="$PWD/build/python${PYTHONPATH:+:$PYTHONPATH}"
PORT=6391
# A loopback-only cluster for this check: every node binds 127.0.0.1, so Ray's token authentication (on by
# default since 2.5x) is switched off for it; a real cluster keeps it (see Ray's token-auth docs).
export RAY_AUTH_MODE=disabled
trap 'ray stop --force >/dev/null 2>&1 || true' EXIT
ray stop --force >/dev/null 2>&1 || true
ray start --head --node-ip-address 127.0.0.1 --port "$PORT" --num-cpus 1 --include-dashboard false \
  --disable-usage-stats >/dev/null
ray start --address "127.0.0.1:$PORT" --node-ip-address 127.0.0.1 --num-cpus 1 --disable-usage-stats >/dev/null
python3 - "$MODEL" "$TSV" <<'PY'
import csv, json, sys, time
import numpy as np, ray
import rmsmp, rmsmp.ray
model, tsv = sys.argv[1], sys.argv[2]
with open(tsv, encoding="utf-8") as f:
    texts = [r[0] for r in list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:] if r]
t0 = time.perf_counter()
want = rmsmp.Model(model, threads=1).encode(texts, batch_size=256)
local = time.perf_counter() - t0
ray.init(address="auto", log_to_driver=False, configure_logging=False)
nodes = [n for n in ray.nodes() if n["Alive"]]
out = {"texts": len(texts), "nodes": len(nodes), "encode_1_thread_texts_per_s": round(len(texts) / local, 1)}
for actors in (1, 2):
    ds = ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts)])
    t0 = time.perf_counter()
    rows = rmsmp.ray.embed(ds, model, concurrency=actors, threads=1, batch_size=512).take_all()
    dt = time.perf_counter() - t0
    assert len(rows) == len(texts)
    bad = sum(not np.array_equal(r["embedding"], want[r["id"]]) for r in rows)
    out[f"ray_{actors}_actors_texts_per_s"] = round(len(texts) / dt, 1)
    out[f"ray_{actors}_actors_mismatches"] = int(bad)
print(json.dumps(out))
sys.exit(0 if all(v == 0 for k, v in out.items() if k.endswith("mismatches")) else 1)
PY
