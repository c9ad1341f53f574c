#!/usr/bin/env python3
"""Writes tests/data/images/goldens.json: torchvision's ImageNet eval transform on the shared real photos,
computed the way torchvision computes it for PIL images (Pillow resize BILINEAR, center crop with Python's
round, float32 ToTensor + Normalize), and a JPEG copy of chelsea.png (Pillow, quality 90) with Pillow's
decoding of it. Needs Pillow and numpy only (torchvision's PIL path is Pillow).

usage: python3 converters/goldens/make_image_goldens.py [SHARED_IMAGES_DIR]
"""
import hashlib
import json
import os
import sys

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "tests", "data", "images")
SRC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "shared", "data", "images")
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def transform(im):
    w, h = im.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = 256, int(256 * long / short)
    nw, nh = (new_short, new_long) if w <= h else (new_long, new_short)
    r = im.resize((nw, nh), Image.BILINEAR)
    top, left = int(round((nh - 224) / 2.0)), int(round((nw - 224) / 2.0))
    c = r.crop((left, top, left + 224, top + 224))
    x = np.asarray(c, dtype=np.uint8).astype(np.float32) / np.float32(255)
    x = (x - MEAN) / STD
    chw = np.ascontiguousarray(x.transpose(2, 0, 1)).astype("<f4")
    return r, c, chw


def entry(path):
    im = Image.open(path).convert("RGB")
    r, c, chw = transform(im)
    flat = chw.ravel()
    idx = list(range(0, flat.size, flat.size // 40))[:40]
    return {"width": im.size[0], "height": im.size[1], "decoded_sha256": sha(im.tobytes()),
            "resized": [r.size[0], r.size[1]], "resized_sha256": sha(r.tobytes()), "crop_sha256": sha(c.tobytes()),
            "tensor_sha256": sha(flat.tobytes()), "channel_means": [float(chw[i].mean(dtype=np.float64)) for i in range(3)],
            "samples": {str(i): float(flat[i]) for i in idx}}


def main():
    os.makedirs(OUT, exist_ok=True)
    g = {"pillow": Image.__version__, "images": {}}
    for name in ("chelsea.png", "coffee.png"):
        g["images"][name] = entry(os.path.join(SRC, name))
    jpg = os.path.join(OUT, "chelsea_q90.jpg")
    Image.open(os.path.join(SRC, "chelsea.png")).convert("RGB").save(jpg, quality=90)
    e = entry(jpg)
    dec = np.asarray(Image.open(jpg).convert("RGB"), dtype=np.uint8)
    e["decoded_channel_sums"] = [int(dec[..., i].sum()) for i in range(3)]
    g["images"]["chelsea_q90.jpg"] = e
    json.dump(g, open(os.path.join(OUT, "goldens.json"), "w"), indent=1)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
