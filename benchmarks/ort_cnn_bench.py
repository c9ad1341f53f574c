#!/usr/bin/env python3
"""ONNX Runtime peer for rmsmp-bench --suite vision: rebuilds a CNN as an ONNX graph from an fp32 .rmsmp file
(the converter's BatchNorm-folded weights and graph, so ORT runs exactly the weights we run; numpy + the `onnx`
package, no PyTorch) and times batch-1 inference.

Engines:
  onnxruntime-fp32  the fp32 graph (NCHW Conv/Relu/Clip/MaxPool/GlobalAveragePool/Add), ORT_ENABLE_ALL
  onnxruntime-int8  onnxruntime.quantization.quantize_static: QDQ, int8 per-channel weights, uint8 activations
                    calibrated (MinMax) on 8 random N(0,1) images (timing only)

Prints one JSON object per line in rmsmp-bench's record format. Models are cached in --work/onnx.
The .rmsmp layout is documented in engine/src/io/model_format.h and engine/src/models/cnn.h.
"""
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ort_common import arg_parser, make_session, time_runs  # noqa: E402


def read_rmsmp(path):
    with open(path, "rb") as f:
        b = f.read()
    if b[:8] != b"RMSMPMDL":
        raise SystemExit(f"{path}: not an .rmsmp file")
    header_bytes, data_offset = struct.unpack_from("<QQ", b, 16)
    h = json.loads(b[64:64 + header_bytes])

    def tensor(name, dtype):
        t = h["tensors"][name]
        o = data_offset + t["offset"]
        return np.frombuffer(b[o:o + t["bytes"]], dtype=dtype).reshape(t["shape"])

    if h["architecture"].get("type") != "cnn":
        raise SystemExit(f"{path}: not a CNN model")
    layers = {}
    for name, e in h["linears"].items():
        if [g["scheme"] for g in e["groups"]] != ["fp32"]:
            raise SystemExit(f"{path}: layer {name} is not fp32; pass the fp32 conversion")
        rows, cols = e["rows"], e["cols"]
        stored = tensor(e["groups"][0]["codes"], np.uint8).view(np.float32).reshape(rows, cols)
        w = np.empty_like(stored)
        w[tensor(e["perm"], np.int32)] = stored  # stored row i is original row perm[i]
        layers[name] = (w, tensor(e["bias"], np.float32) if e["bias"] else np.zeros(rows, np.float32))
    return h["architecture"], layers


def build_graph(model_path, out_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    arch, layers = read_rmsmp(model_path)
    vals, inits, nodes = arch["values"], [], []
    name = lambda i: "input" if i == 0 else f"v{i}"
    for k, n in enumerate(arch["nodes"]):
        x, y = name(n["in"]), name(n["out"])
        if n["op"] == "conv":
            w, bias = layers[n["layer"]]
            kh, kw = n["kernel"]
            cin_g = w.shape[1] // (kh * kw)
            wt = w.reshape(w.shape[0], kh, kw, cin_g).transpose(0, 3, 1, 2).copy()  # (ky, kx, ci) -> OIHW
            inits += [numpy_helper.from_array(wt, f"w{k}"), numpy_helper.from_array(bias, f"b{k}")]
            pt, pl, pb, pr = n["pad"]
            out = y if n["residual"] < 0 and n["act"] == "none" else f"c{k}"
            nodes.append(helper.make_node("Conv", [x, f"w{k}", f"b{k}"], [out], kernel_shape=[kh, kw],
                                          strides=n["stride"], pads=[pt, pl, pb, pr], group=n["groups"]))
            if n["residual"] >= 0:
                nxt = y if n["act"] == "none" else f"a{k}"
                nodes.append(helper.make_node("Add", [out, name(n["residual"])], [nxt]))
                out = nxt
            if n["act"] == "relu":
                nodes.append(helper.make_node("Relu", [out], [y]))
            elif n["act"] == "relu6":
                inits += [numpy_helper.from_array(np.float32(0), f"lo{k}"), numpy_helper.from_array(np.float32(6), f"hi{k}")]
                nodes.append(helper.make_node("Clip", [out, f"lo{k}", f"hi{k}"], [y]))
        elif n["op"] == "maxpool":
            pt, pl, pb, pr = n["pad"]
            nodes.append(helper.make_node("MaxPool", [x], [y], kernel_shape=n["kernel"], strides=n["stride"],
                                          pads=[pt, pl, pb, pr]))
        elif n["op"] == "avgpool":
            pt, pl, pb, pr = n["pad"]
            nodes.append(helper.make_node("AveragePool", [x], [y], kernel_shape=n["kernel"], strides=n["stride"],
                                          pads=[pt, pl, pb, pr], count_include_pad=1))
        elif n["op"] == "global_avgpool":
            nodes.append(helper.make_node("GlobalAveragePool", [x], [y]))
        else:
            raise SystemExit(f"{model_path}: op {n['op']} not handled")
    nodes.append(helper.make_node("Flatten", [name(arch["output"])], ["logits"]))
    inp = arch["input"]
    g = helper.make_graph(nodes, "rmsmp_cnn",
                          [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                         [1, inp["channels"], inp["height"], inp["width"]])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, arch["num_classes"]])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, out_path)
    return inp


def quantize_int8(fp32_path, out_path, inp):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(1)
            self.data = iter([{"input": rng.standard_normal((1, inp["channels"], inp["height"], inp["width"]),
                                                             dtype=np.float32)} for _ in range(8)])

        def get_next(self):
            return next(self.data, None)

    quantize_static(fp32_path, out_path, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)


def main():
    ap = arg_parser(__doc__, ["onnxruntime-fp32", "onnxruntime-int8"])
    ap.add_argument("--rmsmp", required=True, help="the fp32 .rmsmp conversion of that model")
    a = ap.parse_args()
    import onnxruntime as ort

    d = os.path.join(a.work, "onnx")
    os.makedirs(d, exist_ok=True)
    fp32 = os.path.join(d, f"{a.model}-{a.weights}-fp32.onnx")
    inp = read_rmsmp(a.rmsmp)[0]["input"]
    if not os.path.exists(fp32):
        print(f"[ort] building {fp32}", file=sys.stderr)
        build_graph(a.rmsmp, fp32 + ".tmp")
        os.replace(fp32 + ".tmp", fp32)
    path = fp32
    if a.engine == "onnxruntime-int8":
        path = os.path.join(d, f"{a.model}-{a.weights}-int8.onnx")
        if not os.path.exists(path):
            print(f"[ort] quantizing {path}", file=sys.stderr)
            quantize_int8(fp32, path + ".tmp.onnx", inp)
            os.replace(path + ".tmp.onnx", path)
    sess = make_session(path, a.threads)
    x = np.random.default_rng(5).standard_normal((1, inp["channels"], inp["height"], inp["width"]), dtype=np.float32)
    med, ms = time_runs(sess, {"input": x}, a.repeats)
    print(json.dumps({"suite": "vision", "engine": a.engine, "device": "cpu", "model": a.model, "weights": a.weights,
                      "batch": 1, "seq": inp["height"], "threads": a.threads, "median_ms": med, "min_ms": ms[0],
                      "max_ms": ms[-1], "repeats": len(ms), "images_per_s": 1e3 / med,
                      "ort_version": ort.__version__}), flush=True)


if __name__ == "__main__":
    main()
