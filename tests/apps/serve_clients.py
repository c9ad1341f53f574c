"""rmsmp-serve through the clients people already use: OpenAI's `openai` package (embeddings.create, which asks
for base64 and decodes it itself) and Hugging Face's `huggingface_hub.InferenceClient.feature_extraction` (TEI's
dialect on POST /). Both must return exactly the embeddings `rmsmp-run embed` computes for the same texts.

usage: serve_clients.py BIN_DIR MODEL.rmsmp
"""
import json
import subprocess
import sys

import numpy as np
from huggingface_hub import InferenceClient
from openai import OpenAI

bin_dir, model = sys.argv[1], sys.argv[2]
texts = ["a charming and often affecting journey .", "unflinchingly bleak and desperate", "great"]


def engine(args, stdin=None):
    out = subprocess.run([f"{bin_dir}/rmsmp-run", "embed", "--model", model] + args, check=True, input=stdin,
                         capture_output=True, text=True).stdout
    return np.stack([np.array(json.loads(l)["embedding"], dtype=np.float32) for l in out.splitlines()])


# An fp32 GEMM's sums depend on how many rows it runs at once, so a batch is compared with the same batch
# (rmsmp-run embed --input -, one chunk) and a single text with the text alone.
ref = engine(["--input", "-"], "\n".join(texts) + "\n")
ref_single = np.concatenate([engine(["--text", t]) for t in texts])

server = subprocess.Popen([f"{bin_dir}/rmsmp-serve", "--model", model, "--port", "0"], stdout=subprocess.PIPE, text=True)
try:
    line = server.stdout.readline()
    assert line.startswith("listening on "), line
    port = int(line.strip().rsplit(":", 1)[1])

    oa = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused")
    r = oa.embeddings.create(input=texts, model="minilm")
    got = np.array([d.embedding for d in sorted(r.data, key=lambda d: d.index)], dtype=np.float32)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    assert np.array_equal(got, ref), f"openai: max |diff| {np.abs(got - ref).max()}"
    assert r.model == "minilm" and r.usage.prompt_tokens > len(texts), r
    r = oa.embeddings.create(input=texts[0], model="minilm", encoding_format="float", dimensions=32)
    cut = ref_single[0][:32] / np.linalg.norm(ref_single[0][:32].astype(np.float64))
    assert np.allclose(r.data[0].embedding, cut, atol=1e-6), "openai: dimensions=32"

    hf = InferenceClient(model=f"http://127.0.0.1:{port}")
    for i, t in enumerate(texts):
        e = hf.feature_extraction(t)
        assert np.array_equal(np.asarray(e, dtype=np.float32).reshape(-1), ref_single[i]), f"huggingface_hub: text {i}"
    e = hf.feature_extraction(texts[1], normalize=True, truncate=True)
    assert np.array_equal(np.asarray(e, dtype=np.float32).reshape(-1), ref_single[1])
    print(f"openai {__import__('openai').__version__} and huggingface_hub "
          f"{__import__('huggingface_hub').__version__}: {len(texts)} texts identical to rmsmp-run embed")
finally:
    server.terminate()
    server.wait(timeout=30)
