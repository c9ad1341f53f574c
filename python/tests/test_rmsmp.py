"""The Python package against references made outside it: sentence-transformers' embeddings (committed
goldens), transformers' logits of the tiny classifier (committed goldens), and the rmsmp-run tool's own
output for the same model and inputs (bit for bit for quantized models). Run by CTest (Python.Package) with
PYTHONPATH=build/python; needs RMSMP_CHECKPOINT_DIR (scripts/checkpoint_dir.sh) and RMSMP_BIN_DIR."""
import concurrent.futures
import json
import os
import subprocess

import numpy as np
import pytest

import rmsmp

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests", "data")
BIN = os.environ.get("RMSMP_BIN_DIR", os.path.join(ROOT, "build", "apps"))


from conftest import checkpoint


@pytest.fixture(scope="module")
def fp32_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("m") / "fp32.rmsmp"
    rep = rmsmp.convert(checkpoint(), out, scheme="fp32")
    assert rep["model"]["scheme"] == "fp32"
    return rmsmp.Model(out)


@pytest.fixture(scope="module")
def fixed4_model(fixed4_path):
    return rmsmp.Model(fixed4_path)


def test_fp32_embeddings_match_sentence_transformers(fp32_model):
    g = json.load(open(os.path.join(DATA, "minilm_embeddings.json")))
    got = fp32_model.encode(g["sentences"], batch_size=5)
    want = np.asarray(g["embeddings"], dtype=np.float32)
    assert got.shape == want.shape and got.dtype == np.float32
    assert np.max(np.abs(got - want)) < 1e-5
    one = fp32_model.encode(g["sentences"][3])
    assert one.shape == (want.shape[1],) and np.max(np.abs(one - want[3])) < 1e-5


def test_quantized_embeddings_equal_rmsmp_run_bit_for_bit(fixed4_model, tmp_path):
    texts = ["the movie was good", "not fun , the plot was dull and far too long for what it had to say", "great",
             "a very dull plot , it is bad .", "I would watch it again tomorrow"]
    f = tmp_path / "in.txt"
    f.write_text("\n".join(texts) + "\n")
    raw = subprocess.run([os.path.join(BIN, "rmsmp-run"), "embed", "--model", fixed4_model.info["path"], "--input",
                          str(f), "--format", "f32"], check=True, capture_output=True).stdout
    want = np.frombuffer(raw, dtype="<f4").reshape(len(texts), -1)
    for bs in (1, 2, 32):  # any batching and length sorting: the same bits
        assert np.array_equal(fixed4_model.encode(texts, batch_size=bs), want)
    ids = subprocess.run([os.path.join(BIN, "rmsmp-run"), "tokenize", "--model", fixed4_model.info["path"],
                          "--input", str(f)], check=True, capture_output=True, text=True).stdout.split("\n")
    assert fixed4_model.tokenize(texts) == [[int(x) for x in line.split()] for line in ids[:len(texts)]]


def test_predict_matches_transformers_logits(tmp_path):
    out = tmp_path / "cls.rmsmp"
    rmsmp.convert(os.path.join(DATA, "tiny_classifier"), out, scheme="fp32")
    m = rmsmp.Model(out)
    g = json.load(open(os.path.join(DATA, "tiny_classifier", "golden_logits.json")))
    assert m.info["labels"] == g["labels"]
    inputs = [c["a"] if c["b"] is None else [c["a"], c["b"]] for c in g["cases"]]
    got = m.predict(inputs)
    assert got.shape == (len(inputs), len(g["labels"]))
    assert np.max(np.abs(got - np.asarray([c["logits"] for c in g["cases"]]))) < 1e-4
    # fp32: one input alone may differ from the batch in the last bits (GEMM sums of another shape)
    assert np.allclose(m.predict(inputs[0]), got[0], rtol=0, atol=1e-5)


def test_errors_name_the_input(fp32_model, tmp_path):
    with pytest.raises(rmsmp.Error) as e:
        rmsmp.Model(tmp_path / "missing.rmsmp")
    assert e.value.code == "not found" and "missing.rmsmp" in str(e.value)
    bad = tmp_path / "bad.rmsmp"
    bad.write_bytes(b"RMSMP" + b"\0" * 100)
    with pytest.raises(rmsmp.Error) as e:
        rmsmp.Model(bad)
    assert e.value.code == "invalid file" and "bad.rmsmp" in str(e.value)
    with pytest.raises(TypeError):
        fp32_model.encode([1, 2])
    with pytest.raises(TypeError):
        fp32_model.encode(b"bytes")
    with pytest.raises(ValueError):
        fp32_model.encode(["a"], batch_size=0)
    with pytest.raises(rmsmp.Error) as e:  # over max_seq_length with truncation off: the caller's index
        fp32_model.encode(["short", "word " * 600, "x"], truncate=False)
    assert e.value.code == "invalid text" and str(e.value).startswith("item 1:")
    with pytest.raises(rmsmp.Error) as e:
        fp32_model.predict(["no head here"])
    assert e.value.code == "unsupported"
    with pytest.raises(rmsmp.Error) as e:
        rmsmp.convert(checkpoint(), tmp_path / "x.rmsmp", scheme="fixed3")
    assert e.value.code == "invalid argument" and "fixed3" in str(e.value)
    assert not (tmp_path / "x.rmsmp").exists()
    assert fp32_model.encode([]).shape == (0, fp32_model.info["hidden_size"])
    assert fp32_model.encode(["caf\u00e9 \U0001F600 \u00fcber"]).shape == (1, 384)  # non-ASCII text is fine


def test_one_model_shared_by_threads(fixed4_model):
    texts = [f"sentence number {i} about a film that was {'good' if i % 2 else 'bad'}" for i in range(64)]
    serial = fixed4_model.encode(texts, batch_size=8)
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        parts = list(ex.map(lambda k: fixed4_model.encode(texts[k::4], batch_size=4), range(4)))
    for k in range(4):
        assert np.array_equal(parts[k], serial[k::4])


def test_vision_model_classifies_paths_and_arrays_as_rmsmp_run(tmp_path):
    pth = os.environ.get("RMSMP_EFFNET_PTH")
    assert pth, "RMSMP_EFFNET_PTH: run through scripts/test.sh, which sets it"
    out = tmp_path / "lite0.rmsmp"
    rmsmp.convert(pth, out, scheme="fp32", labels=os.path.join(ROOT, "data", "images", "imagenet_classes.txt"))
    vm = rmsmp.VisionModel(out)
    img = os.path.join(ROOT, "data", "images", "chelsea.png")
    cli = json.loads(subprocess.run([os.path.join(BIN, "rmsmp-run"), "classify", "--model", str(out), "--json",
                                     "--top", "3", img], check=True, capture_output=True, text=True).stdout)
    top = vm.classify(img, top_k=3)
    assert [c for c, _, _ in top] == cli["classes"] and [n for _, n, _ in top] == cli["names"]
    assert np.allclose([p for _, _, p in top], cli["probabilities"], rtol=0, atol=1e-6)
    from PIL import Image  # PNG decoding is exact, so the array path sees the same pixels
    arr = np.asarray(Image.open(img).convert("RGB"))
    assert np.array_equal(vm.logits(arr), vm.logits(img))
    with pytest.raises(TypeError):
        vm.logits(arr.astype(np.float32))
    with pytest.raises(rmsmp.Error) as e:
        vm.classify(str(tmp_path / "nope.png"))
    assert e.value.code == "not found"
