#!/usr/bin/env python3
"""ONNX Runtime peer for rmsmp-bench: builds a BERT encoder ONNX graph from a checkpoint's safetensors (numpy +
the `onnx` package; no PyTorch), quantizes it the way ORT users do, and times it on the same shapes.

Engines:
  onnxruntime-fp32  the fp32 graph, ORT_ENABLE_ALL graph optimisations (ORT fuses LayerNorm/GELU/attention
                    where its patterns match; the record says whether an Attention node was fused)
  onnxruntime-int8  onnxruntime.quantization.quantize_dynamic (QInt8 weights, per-channel, dynamic u8
                    activations) on that graph
  onnxruntime-q4    MatMulNBitsQuantizer (4-bit, block 32, symmetric) on that graph

Prints one JSON object per line in rmsmp-bench's record format (called by rmsmp-bench --engines onnxruntime-*;
it can be run alone with the same options). Models are cached in --work/onnx.
"""
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ort_common import arg_parser, make_session, time_runs  # noqa: E402


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        if e["dtype"] != "F32":
            if not name.endswith("position_ids"):  # buffers some checkpoints carry; not weights
                raise SystemExit(f"{path}: tensor {name} is {e['dtype']}; this script reads F32 checkpoints")
            continue
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(data[b:end], dtype=np.float32).reshape(e["shape"])
    return out


def build_graph(ckpt, path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    cfg = json.load(open(os.path.join(ckpt, "config.json")))
    t = read_safetensors(os.path.join(ckpt, "model.safetensors"))
    t = {k[5:] if k.startswith("bert.") else k: v for k, v in t.items()}
    H, NH, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    hd, eps = H // NH, cfg.get("layer_norm_eps", 1e-12)
    inits, nodes = [], []

    def init(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(op, ins, outs=None, **kw):
        outs = outs or [f"{op}_{len(nodes)}"]
        nodes.append(helper.make_node(op, ins, outs, **kw))
        return outs[0]

    def linear(x, prefix):  # x [B,S,in] @ W^T + b (MatMul + Add: the pattern ORT's quantizers target)
        w = init(prefix + ".weight_t", t[prefix + ".weight"].T)
        return node("Add", [node("MatMul", [x, w]), init(prefix + ".bias", t[prefix + ".bias"])])

    def layer_norm(x, prefix):
        return node("LayerNormalization", [x, init(prefix + ".weight", t[prefix + ".weight"]),
                                           init(prefix + ".bias", t[prefix + ".bias"])], axis=-1, epsilon=eps)

    ids, types = "input_ids", "token_type_ids"
    # Position embeddings: rows [0, S) of the table, S = shape(input_ids)[1] (1-D slices only).
    i64 = lambda name, v: init(name, np.array(v, dtype=np.int64))
    seq = node("Slice", [node("Shape", [ids]), i64("s1", [1]), i64("s2", [2])])
    pos = node("Slice", [init("posemb", t["embeddings.position_embeddings.weight"]), i64("s0", [0]), seq, i64("ax0", [0])])
    e = node("Add", [node("Gather", [init("word", t["embeddings.word_embeddings.weight"]), ids]), pos])
    e = node("Add", [e, node("Gather", [init("typeemb", t["embeddings.token_type_embeddings.weight"]), types])])
    x = layer_norm(e, "embeddings.LayerNorm")
    split_shape = init("split_shape", np.array([0, 0, NH, hd], dtype=np.int64))
    merge_shape = init("merge_shape", np.array([0, 0, H], dtype=np.int64))
    scale = init("scale", np.array(1.0 / np.sqrt(hd), dtype=np.float32))
    for i in range(L):
        p = f"encoder.layer.{i}."
        heads = {}
        for n, perm in (("query", [0, 2, 1, 3]), ("key", [0, 2, 3, 1]), ("value", [0, 2, 1, 3])):
            y = linear(x, p + "attention.self." + n)
            heads[n] = node("Transpose", [node("Reshape", [y, split_shape])], perm=perm)
        s = node("Mul", [node("MatMul", [heads["query"], heads["key"]]), scale])
        ctx = node("MatMul", [node("Softmax", [s], axis=-1), heads["value"]])
        ctx = node("Reshape", [node("Transpose", [ctx], perm=[0, 2, 1, 3]), merge_shape])
        x = layer_norm(node("Add", [linear(ctx, p + "attention.output.dense"), x]), p + "attention.output.LayerNorm")
        h = linear(x, p + "intermediate.dense")
        h = node("Mul", [node("Mul", [h, init(f"half{i}", np.array(0.5, np.float32))]),
                         node("Add", [node("Erf", [node("Div", [h, init(f"sqrt2_{i}", np.array(np.sqrt(2.0), np.float32))])]),
                                      init(f"one{i}", np.array(1.0, np.float32))])])
        x = layer_norm(node("Add", [linear(h, p + "output.dense"), x]), p + "output.LayerNorm")
    node("ReduceMean", [x], ["embedding"], axes=[1], keepdims=0)  # mean pooling (opset 17: axes attribute)
    g = helper.make_graph(nodes, "bert", [helper.make_tensor_value_info(ids, TensorProto.INT64, ["B", "S"]),
                                          helper.make_tensor_value_info(types, TensorProto.INT64, ["B", "S"])],
                          [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["B", H])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path, save_as_external_data=True, location=os.path.basename(path) + ".data")
    return cfg


def variant(engine, fp32_path, out_path):
    if engine == "onnxruntime-int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic
        quantize_dynamic(fp32_path, out_path, weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"], use_external_data_format=True)
    elif engine == "onnxruntime-q4":
        import onnx
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
        q = MatMulNBitsQuantizer(onnx.load(fp32_path), block_size=32, is_symmetric=True)
        q.process()
        q.model.save_model_to_file(out_path, use_external_data_format=True)


def main():
    ap = arg_parser(__doc__, ["onnxruntime-fp32", "onnxruntime-int8", "onnxruntime-q4"])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--batch", default="1,8")
    ap.add_argument("--seq", default="16,128,384")
    a = ap.parse_args()

    import onnxruntime as ort

    d = os.path.join(a.work, "onnx")
    os.makedirs(d, exist_ok=True)
    fp32 = os.path.join(d, f"{a.model}-{a.weights}-fp32.onnx")
    if not os.path.exists(fp32):
        print(f"[ort] building {fp32}", file=sys.stderr)
        build_graph(a.checkpoint, fp32)
    path = fp32 if a.engine == "onnxruntime-fp32" else os.path.join(d, f"{a.model}-{a.weights}-{a.engine.split('-')[1]}.onnx")
    if not os.path.exists(path):
        print(f"[ort] quantizing {path}", file=sys.stderr)
        variant(a.engine, fp32, path)
    opt_path = path + ".opt.onnx"
    sess = make_session(path, a.threads, opt_path)
    import onnx
    fused = any(n.op_type in ("Attention", "MultiHeadAttention", "QAttention")
                for n in onnx.load(opt_path, load_external_data=False).graph.node)
    rng = np.random.default_rng(5)
    for seq in [int(s) for s in a.seq.split(",")]:
        for b in [int(x) for x in a.batch.split(",")]:
            ids = rng.integers(1000, 21000, size=(b, seq), dtype=np.int64)
            ids[:, 0], ids[:, -1] = 101, 102
            feed = {"input_ids": ids, "token_type_ids": np.zeros_like(ids)}
            med, ms = time_runs(sess, feed, a.repeats)
            print(json.dumps({"suite": "e2e", "engine": a.engine, "device": "cpu", "model": a.model, "weights": a.weights,
                              "batch": b, "seq": seq, "threads": a.threads, "median_ms": med, "min_ms": ms[0],
                              "max_ms": ms[-1], "repeats": len(ms), "tokens_per_s": b * seq / (med * 1e-3),
                              "ort_version": ort.__version__, "fused_attention": fused}), flush=True)


if __name__ == "__main__":
    main()
