"""rmsmp: quantized (RMSMP row-wise mixed-precision) inference for BERT-family encoders and CNNs.

    import rmsmp
    model = rmsmp.Model("minilm.rmsmp")               # a file made by rmsmp-convert or rmsmp.convert()
    vectors = model.encode(["a sentence", "another"])  # numpy float32, shape (2, embedding_size)

A Model is immutable once loaded: share one between Python threads (the engine releases the GIL while it
computes). Errors raise rmsmp.Error (a RuntimeError) whose .code names the engine's error kind
(InvalidArgument, InvalidFile, NotFound, IoError, InvalidText, Unsupported, Internal) and whose message names
the input at fault.
"""
from __future__ import annotations

import json
import os
import sys
import time
from typing import List, Optional, Sequence, Union

import numpy as np

from . import _rmsmp
from ._rmsmp import Error

__all__ = ["Model", "VisionModel", "convert", "Error", "__version__"]
__version__ = _rmsmp.__version__


def _check_texts(texts, what="texts"):
    if isinstance(texts, str):
        return [texts], True
    if isinstance(texts, (bytes, bytearray)):
        raise TypeError(f"{what} must be str or a list of str, not bytes (decode it first)")
    try:
        items = list(texts)
    except TypeError:
        raise TypeError(f"{what} must be str or a list of str, not {type(texts).__name__}") from None
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise TypeError(f"{what}[{i}] must be str, not {type(t).__name__}")
    return items, False


class Model:
    """A text encoder (.rmsmp file): embeddings, tokenization and, with a head, predictions.

    device: "cpu" (best instruction set here), "cpu:generic|avx2|avx512|amx", or "reference" (the plain-loop
    oracle). threads: OpenMP threads per call (0: the process default).
    """

    def __init__(self, path: Union[str, os.PathLike], device: str = "cpu", threads: int = 0):
        if not isinstance(threads, int) or isinstance(threads, bool):
            raise TypeError("threads must be an int")
        self._m = _rmsmp.Model(os.fspath(path), device, threads)
        self.info = self._m.info
        """scheme, avg_weight_bits, hidden_size, embedding_size, max_seq_length, pooling, normalize, num_labels, labels, ..."""

    def encode(self, texts: Union[str, Sequence[str]], batch_size: int = 32, normalize: Optional[bool] = None,
               show_progress_bar: bool = False, truncate: bool = True) -> np.ndarray:
        """Embeddings as float32, shape (n, embedding_size) in input order; a single str gives (embedding_size,).

        Texts are sorted by length inside (as sentence-transformers does) so each batch holds texts of
        similar length; batches are packed without padding either way. normalize: None keeps the model's
        setting (all-MiniLM-L6-v2: L2-normalised). truncate=False raises rmsmp.Error for a text longer than
        max_seq_length instead of cutting it. Quantized models give the same bits whatever the batching.
        """
        items, single = _check_texts(texts)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError("batch_size must be a positive int")
        out = np.empty((len(items), self.info["embedding_size"]), dtype=np.float32)
        order = sorted(range(len(items)), key=lambda i: -len(items[i]))
        t0, done = time.monotonic(), 0
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            try:
                rows = self._m.embed([items[i] for i in idx], normalize, truncate)
            except Error as e:  # name the caller's index, not the position inside the sorted batch
                raise _renumbered(e, idx) from None
            out[idx] = rows
            done += len(idx)
            if show_progress_bar:
                rate = done / max(time.monotonic() - t0, 1e-9)
                print(f"\rrmsmp: {done}/{len(items)} texts, {rate:.0f}/s", end="", file=sys.stderr, flush=True)
        if show_progress_bar and items:
            print(file=sys.stderr)
        return out[0] if single else out

    def predict(self, inputs: Union[str, Sequence[Union[str, Sequence[str]]]], batch_size: int = 32) -> np.ndarray:
        """Logits of the model's classification head, float32 (n, num_labels); a single input gives
        (num_labels,). An input is a text or a [text, pair] (cross-encoders, NLI). Raises rmsmp.Error
        (Unsupported) for a model without a head."""
        items = [inputs] if isinstance(inputs, str) else list(inputs)
        texts, pairs = [], []
        for i, x in enumerate(items):
            if isinstance(x, str):
                texts.append(x), pairs.append(None)
            elif isinstance(x, (list, tuple)) and len(x) == 2 and all(isinstance(s, str) for s in x):
                texts.append(x[0]), pairs.append(x[1])
            else:
                raise TypeError(f"inputs[{i}] must be str or a [str, str] pair")
        n = self.info["num_labels"]
        out = np.empty((len(texts), n), dtype=np.float32)
        for b in range(0, len(texts), batch_size):
            try:
                out[b:b + batch_size] = self._m.predict(texts[b:b + batch_size], pairs[b:b + batch_size], True)
            except Error as e:
                raise _renumbered(e, list(range(b, b + batch_size))) from None
        return out[0] if isinstance(inputs, str) else out

    def tokenize(self, texts: Union[str, Sequence[str]]) -> Union[List[int], List[List[int]]]:
        """The token ids the model sees ([CLS] ... [SEP], truncated to max_seq_length): a list of ids for a
        str, a list of such lists for a list."""
        items, single = _check_texts(texts)
        ids = [self._m.tokenize(t, None)[0] for t in items]
        return ids[0] if single else ids

    def token_piece(self, token_id: int) -> str:
        """The vocabulary's string for a token id ("##ing", "[CLS]"; "" outside the vocabulary)."""
        return self._m.token_piece(token_id)

    def __repr__(self):
        i = self.info
        return f"rmsmp.Model({i['path']!r}, scheme={i['scheme']}, bits={i['avg_weight_bits']:.2f}, dim={i['embedding_size']})"


class VisionModel:
    """An image classifier (.rmsmp file converted from a ResNet or EfficientNet-Lite checkpoint)."""

    def __init__(self, path: Union[str, os.PathLike], device: str = "cpu"):
        self._m = _rmsmp.VisionModel(os.fspath(path), device)
        self.info = self._m.info

    def logits(self, image) -> np.ndarray:
        """Logits (num_classes,) of one image: a file path (PNG/JPEG) or a uint8 array (height, width, 3),
        resized and cropped by the model's eval transform as rmsmp-run classify does."""
        if isinstance(image, (str, os.PathLike)):
            return self._m.logits_file(os.fspath(image))[0]
        a = np.asarray(image)
        if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
            raise TypeError("an image must be a file path or a uint8 array of shape (height, width, 3)")
        return self._m.logits_rgb(np.ascontiguousarray(a))[0]

    def classify(self, images, top_k: int = 5):
        """For each image (path or uint8 HxWx3 array; a single one is accepted too), the top_k classes as
        [(class_index, label, probability), ...], most probable first (label "" when the file has none)."""
        single = isinstance(images, (str, os.PathLike)) or (isinstance(images, np.ndarray) and images.ndim == 3)
        items = [images] if single else list(images)
        labels = self.info["labels"]
        out = []
        for im in items:
            z = self.logits(im).astype(np.float64)
            p = np.exp(z - z.max())
            p /= p.sum()
            top = np.argsort(-p, kind="stable")[:top_k]
            out.append([(int(c), labels[c] if c < len(labels) else "", float(p[c])) for c in top])
        return out[0] if single else out


def convert(src: Union[str, os.PathLike], dst: Union[str, os.PathLike], scheme: str = "rmsmp",
            calib: Optional[Union[str, os.PathLike]] = None, calib_images: Optional[Union[str, os.PathLike]] = None,
            quiet: bool = True, **options) -> dict:
    """rmsmp-convert from Python: src is a Hugging Face checkpoint folder (BERT family) or a CNN .pth /
    .safetensors file; dst the .rmsmp file to write (atomically). Further options are rmsmp-convert's, with
    '_' for '-' (ratios="pot4=0.65,fixed4=0.30,fixed8=0.05", rounding="nearest", arch="resnet18", ...; True for a
    flag). Returns the conversion report (dict)."""
    args = ["--in", os.fspath(src), "--out", os.fspath(dst), "--scheme", scheme]
    if calib is not None:
        args += ["--calib", os.fspath(calib)]
    if calib_images is not None:
        args += ["--calib-images", os.fspath(calib_images)]
    if quiet:
        args.append("--quiet")
    for k, v in options.items():
        flag = "--" + k.replace("_", "-")
        if v is True:
            args.append(flag)
        elif v is not False and v is not None:
            args += [flag, os.fspath(v) if isinstance(v, os.PathLike) else str(v)]
    if "RMSMP_DEFAULT_CALIB" not in os.environ:
        shipped = os.path.join(os.path.dirname(__file__), "data", "calib.txt")
        if os.path.exists(shipped):  # the wheel's copy of data/calib/text.txt
            os.environ["RMSMP_DEFAULT_CALIB"] = shipped
    return json.loads(_rmsmp.convert(args))


def _renumbered(e: Error, idx):
    """The engine names a batch's item by its position in the batch; say the caller's index instead."""
    msg = str(e)
    if msg.startswith("item "):
        head, _, rest = msg.partition(": ")
        try:
            pos = int(head[5:])
            msg = f"item {idx[pos]}: {rest}"
        except (ValueError, IndexError):
            pass
    r = Error(msg)
    r.code = getattr(e, "code", "")
    return r
