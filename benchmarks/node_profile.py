#!/usr/bin/env python3
"""Per-node CNN times: ours from RMSMP_VERBOSE=profile logs, ONNX Runtime's from its own profiler.

  # ours: one log per run (interleave the runs of two builds for an A/B), then the lowest time per node
  OMP_NUM_THREADS=1 RMSMP_VERBOSE=profile ./build/apps/rmsmp-bench --suite vision --engines rmsmp-mix \\
      --vision-models resnet50 --threads 1 --repeats 15 --processes 1 2> a1.txt
  python3 benchmarks/node_profile.py rmsmp a1.txt a2.txt -- b1.txt b2.txt   # columns: before, after
  # ONNX Runtime: the QDQ model rmsmp-bench built (out/bench/onnx/*-int8.onnx), lowest kernel_time per node
  python3 benchmarks/node_profile.py ort out/bench/onnx/resnet50-random-int8.onnx --threads 1

The rmsmp columns are per-node minima over all the logs of each group (groups separated by "--"); the last
line sums them. ORT's rows come in graph order with the op and shapes; its QLinearAdd nodes are separate
(ours fuse the residual into the conv, "+residual").
"""
import argparse, collections, json, re, sys, tempfile


def rmsmp(groups):
    mins = []
    for files in groups:
        d = collections.defaultdict(lambda: float("inf"))
        for f in files:
            for line in open(f):
                m = re.search(r"profile node (\d+) (.*) ([\d.]+) us", line)
                if m:
                    k = (int(m.group(1)), m.group(2))
                    d[k] = min(d[k], float(m.group(3)))
        mins.append(d)
    for k in sorted(mins[0]):
        print("%4d %-52s" % (k[0], k[1][:52]) + "".join("%8.0f" % d.get(k, 0) for d in mins))
    print("total" + " " * 52 + "".join("%8.0f" % sum(d.values()) for d in mins))


def ort(model, threads, runs):
    import numpy as np
    import onnxruntime as rt
    so = rt.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    so.enable_profiling = True
    so.profile_file_prefix = tempfile.mkdtemp() + "/ort"
    s = rt.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    inp = s.get_inputs()[0]
    x = np.random.RandomState(0).randn(*[d if isinstance(d, int) else 1 for d in inp.shape]).astype(np.float32)
    for _ in range(runs):
        s.run(None, {inp.name: x})
    events = [e for e in json.load(open(s.end_profiling()))
              if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    best, order = {}, []
    for e in events:
        if e["name"] not in best:
            order.append(e)
        best[e["name"]] = min(best.get(e["name"], float("inf")), e["dur"])
    shape = lambda a, k: ",".join("x".join(map(str, list(v.values())[0])) for v in a.get(k, []))
    for e in order:
        a = e["args"]
        print("%6d %-20s in %s out %s" % (best[e["name"]], a.get("op_name"), shape(a, "input_type_shape")[:60],
                                          shape(a, "output_type_shape")))
    print("total %d us over %d nodes" % (sum(best.values()), len(best)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    r = sub.add_parser("rmsmp")
    r.add_argument("logs", nargs="+", help="profile logs; '--' starts the next column")
    o = sub.add_parser("ort")
    o.add_argument("model")
    o.add_argument("--threads", type=int, default=1)
    o.add_argument("--runs", type=int, default=30)
    a = ap.parse_args(sys.argv[1:2] + [x if x != "--" else "@@" for x in sys.argv[2:]])
    if a.what == "rmsmp":
        groups = [[]]
        for f in a.logs:
            if f == "@@":
                groups.append([])
            else:
                groups[-1].append(f)
        rmsmp([g for g in groups if g])
    else:
        ort(a.model, a.threads, a.runs)


if __name__ == "__main__":
    main()
