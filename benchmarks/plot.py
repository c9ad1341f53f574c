#!/usr/bin/env python3
"""Plot rmsmp-bench records: end-to-end latency against sequence length, one line per engine, one panel per
(model, batch). Usage: python3 benchmarks/plot.py PREFIX  (reads PREFIX.jsonl and PREFIX.json, writes PREFIX.png)."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    prefix = sys.argv[1]
    recs = [json.loads(l) for l in open(prefix + ".jsonl") if l.strip()]
    stamp = json.load(open(prefix + ".json"))
    e2e = [r for r in recs if r.get("suite") == "e2e"]
    panels = sorted({(r["model"], r["batch"]) for r in e2e})
    if not panels:
        raise SystemExit(f"{prefix}.jsonl has no e2e records")
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), squeeze=False)
    for ax, (model, batch) in zip(axes[0], panels):
        engines = sorted({r["engine"] + ("" if r["device"].startswith("cpu") else "@" + r["device"]) for r in e2e
                          if r["model"] == model and r["batch"] == batch})
        for e in engines:
            pts = sorted((r["seq"], r["median_ms"]) for r in e2e if r["model"] == model and r["batch"] == batch and
                         r["engine"] + ("" if r["device"].startswith("cpu") else "@" + r["device"]) == e)
            style = "-" if e.startswith("rmsmp") else "--"
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, marker="o", label=e)
        ax.set_title(f"{model}, batch {batch}")
        ax.set_xlabel("tokens per sequence")
        ax.set_ylabel("median latency (ms, lowest process)")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{stamp.get('cpu', '?')}, {stamp.get('threads', '?')} threads, git {stamp.get('git_sha', '?')}",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(prefix + ".png", dpi=110)
    print(prefix + ".png")


if __name__ == "__main__":
    main()
