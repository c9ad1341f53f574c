"""Shared by the ONNX Runtime peers (ort_bench.py, ort_cnn_bench.py): session set-up and timing, so both time
ORT the same way (one warm-up run, then `repeats` timed runs; median of the sorted times)."""
import argparse
import time


def arg_parser(doc, engines):
    """The options both peers take (rmsmp-bench passes them); callers add their model-specific ones."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", required=True, choices=engines)
    ap.add_argument("--model", required=True, help="name for the records, e.g. minilm-l6 or resnet18")
    ap.add_argument("--weights", default="real")
    ap.add_argument("--work", default="out/bench")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    return ap


def make_session(path, threads, optimized_model_path=None):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if optimized_model_path:
        so.log_severity_level = 3  # the optimized-model dump warns that it is machine-specific: it is only read here
        so.optimized_model_filepath = optimized_model_path
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def time_runs(sess, feed, repeats):
    """Returns (median_ms, sorted list of ms)."""
    sess.run(None, feed)
    ms = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sess.run(None, feed)
        ms.append((time.perf_counter() - t0) * 1e3)
    ms.sort()
    med = ms[len(ms) // 2] if len(ms) % 2 else 0.5 * (ms[len(ms) // 2 - 1] + ms[len(ms) // 2])
    return med, ms
