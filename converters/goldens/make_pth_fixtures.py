#!/usr/bin/env python3
"""Writes tests/data/pth/: tiny PyTorch checkpoints in both torch.save containers, made without PyTorch by
reproducing torch.serialization's pickling (fake `torch` / `torch._utils` modules give the same GLOBAL and
persistent-id records), plus expected values; a checkpoint that tries to call os.system; and goldens for the
real EfficientNet-Lite0 .pth read with Python's own pickle machinery.

usage: python3 converters/goldens/make_pth_fixtures.py [EFFICIENTNET_LITE0.pth]
"""
import collections
import io
import json
import os
import pickle
import struct
import sys
import types
import zipfile

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "pth")

torch = types.ModuleType("torch")
utils = types.ModuleType("torch._utils")
sys.modules["torch"], sys.modules["torch._utils"] = torch, utils


def _rebuild_tensor_v2(*a):  # pickled by reference only
    raise RuntimeError


_rebuild_tensor_v2.__module__ = "torch._utils"
utils._rebuild_tensor_v2 = _rebuild_tensor_v2
STORAGE_TYPES = {}
for name, dt in (("FloatStorage", np.float32), ("HalfStorage", np.float16), ("LongStorage", np.int64)):
    cls = type(name, (), {})
    cls.__module__ = "torch"
    setattr(torch, name, cls)
    STORAGE_TYPES[np.dtype(dt)] = cls


class Storage:
    def __init__(self, key, array):
        self.key, self.array = key, np.ascontiguousarray(array).ravel()


class Tensor:
    def __init__(self, storage, offset, shape, stride):
        self.storage, self.offset, self.shape, self.stride = storage, offset, shape, stride

    def __reduce_ex__(self, proto):
        return (_rebuild_tensor_v2, (self.storage, self.offset, tuple(self.shape), tuple(self.stride), False,
                                     collections.OrderedDict()))


def contents():
    rng = np.random.default_rng(7)
    conv = rng.standard_normal((2, 3, 1, 1)).astype(np.float32)
    mean = rng.standard_normal(2).astype(np.float32)
    fc = rng.standard_normal((2, 3)).astype(np.float32)          # stored as (2, 3); the tensor is its transpose
    half = np.array([0.5, -2.0, 65504.0, 1e-4], dtype=np.float16)
    s = {"0": Storage("0", conv), "1": Storage("1", mean), "2": Storage("2", fc), "3": Storage("3", half),
         "4": Storage("4", np.array([7], dtype=np.int64))}
    sd = collections.OrderedDict()
    sd["conv.weight"] = Tensor(s["0"], 0, (2, 3, 1, 1), (3, 1, 1, 1))
    sd["bn.running_mean"] = Tensor(s["1"], 0, (2,), (1,))
    sd["bn.num_batches_tracked"] = Tensor(s["4"], 0, (), ())
    sd["fc.weight_t"] = Tensor(s["2"], 0, (3, 2), (1, 3))        # non-contiguous view
    sd["half"] = Tensor(s["3"], 1, (3,), (1,))                   # storage offset 1
    ckpt = {"epoch": 3, "state_dict": sd}
    expected = {"state_dict.conv.weight": conv.ravel().tolist(), "state_dict.bn.running_mean": mean.tolist(),
                "state_dict.fc.weight_t": fc.T.ravel().tolist(), "state_dict.half": half[1:].astype(np.float32).tolist()}
    shapes = {"state_dict.conv.weight": [2, 3, 1, 1], "state_dict.bn.running_mean": [2], "state_dict.bn.num_batches_tracked": [],
              "state_dict.fc.weight_t": [3, 2], "state_dict.half": [3]}
    return ckpt, s, expected, shapes


def pid_legacy(obj):
    if isinstance(obj, Storage):
        return ("storage", STORAGE_TYPES[obj.array.dtype], obj.key, "cpu", obj.array.size, None)
    return None


def pid_zip(obj):
    if isinstance(obj, Storage):
        return ("storage", STORAGE_TYPES[obj.array.dtype], obj.key, "cpu", obj.array.size)
    return None


def write_legacy(path, ckpt, storages):
    f = io.BytesIO()
    pickle.dump(0x1950a86a20f9469cfc6c, f, protocol=2)
    pickle.dump(1001, f, protocol=2)
    pickle.dump({"protocol_version": 1001, "little_endian": True,
                 "type_sizes": {"short": 2, "int": 4, "long": 4}}, f, protocol=2)
    p = pickle.Pickler(f, protocol=2)
    p.persistent_id = pid_legacy
    p.dump(ckpt)
    keys = sorted(storages)
    pickle.dump(keys, f, protocol=2)
    for k in keys:
        a = storages[k].array
        f.write(struct.pack("<q", a.size))
        f.write(a.tobytes())
    open(path, "wb").write(f.getvalue())


def write_zip(path, ckpt, storages):
    f = io.BytesIO()
    p = pickle.Pickler(f, protocol=2)
    p.persistent_id = pid_zip
    p.dump(ckpt)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", f.getvalue())
        z.writestr("archive/byteorder", "little")
        for k, s in storages.items():
            z.writestr(f"archive/data/{k}", s.array.tobytes())
        z.writestr("archive/version", "3\n")


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def effnet_goldens(path):
    """Reads the real checkpoint with Python's pickle (the reference unpickler) and records shapes and sums."""
    data = open(path, "rb").read()
    f = io.BytesIO(data)
    for _ in range(3):
        pickle.load(f)
    storages = {}

    class Up(pickle.Unpickler):
        def find_class(self, mod, name):
            if (mod, name) == ("collections", "OrderedDict"):
                return collections.OrderedDict
            if (mod, name) == ("torch._utils", "_rebuild_tensor_v2"):
                return lambda st, off, size, stride, *rest: ("T", st, off, size, stride)
            if mod == "torch" and name.endswith("Storage"):
                return name
            raise pickle.UnpicklingError(f"{mod}.{name}")

        def persistent_load(self, pid):
            storages[pid[2]] = pid[1]
            return pid[2]

    sd = Up(f).load()
    keys = pickle.load(f)
    blobs = {}
    for k in keys:
        (n,) = struct.unpack("<q", f.read(8))
        dt = {"FloatStorage": np.float32, "LongStorage": np.int64}[storages[k]]
        blobs[k] = np.frombuffer(f.read(n * np.dtype(dt).itemsize), dtype=dt)
    out = {"n_tensors": len(sd), "tensors": {}}
    for name, (_, key, off, size, stride) in sd.items():
        if not name.endswith(("weight", "bias", "running_mean", "running_var")):
            continue
        a = np.lib.stride_tricks.as_strided(blobs[key][off:], shape=size,
                                            strides=[s * blobs[key].itemsize for s in stride]).astype(np.float64)
        out["tensors"][name] = {"shape": list(size), "sum": float(a.sum()), "first": float(a.ravel()[0]) if a.size else 0}
    return out


def write_hostile():
    """Issue 22's crashing inputs, each a few bytes to 100 KB, hand-assembled from pickle opcodes."""
    magic = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19."
    with zipfile.ZipFile(os.path.join(OUT, "hostile_nested_tuples.pth"), "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02]" + b"\x85" * 100000 + b".")  # 100,000 nested TUPLE1
    # Legacy container whose root dict holds itself (memo put, key, memo get, SETITEM), then one storage key.
    root = b"\x80\x02}q\x00X\x01\x00\x00\x00ah\x00s."
    with open(os.path.join(OUT, "hostile_self_dict_legacy.pth"), "wb") as f:
        f.write(magic + pickle.dumps(1001, protocol=2) + b"\x80\x02}." + root
                + b"\x80\x02]X\x01\x00\x00\x000a." + struct.pack("<q", 1) + b"\0\0\0\0")
    with zipfile.ZipFile(os.path.join(OUT, "hostile_self_dict_zip.pth"), "w") as z:
        z.writestr("archive/data.pkl", root)
    # A [1, 3, 2^39, 2^39] tensor with zero strides over a one-float storage.
    st = Storage("0", np.zeros(1, dtype=np.float32))
    write_zip(os.path.join(OUT, "hostile_zero_stride.pth"),
              {"w": Tensor(st, 0, (1, 3, 2 ** 39, 2 ** 39), (0, 0, 0, 0))}, {"0": st})


def main():
    os.makedirs(OUT, exist_ok=True)
    ckpt, storages, expected, shapes = contents()
    write_legacy(os.path.join(OUT, "tiny_legacy.pth"), ckpt, storages)
    write_zip(os.path.join(OUT, "tiny_zip.pth"), ckpt, storages)
    with zipfile.ZipFile(os.path.join(OUT, "evil.pth"), "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"w": Evil()}, protocol=2))
    write_hostile()
    golden = {"expected": expected, "shapes": shapes}
    if len(sys.argv) > 1:
        golden["efficientnet_lite0"] = effnet_goldens(sys.argv[1])
    json.dump(golden, open(os.path.join(OUT, "expected.json"), "w"), indent=1)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
