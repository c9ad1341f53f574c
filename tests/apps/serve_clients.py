"""rmsmp-serve through the clients people already use: OpenAI's `openai` package (embeddings.create, which asks
for base64 and decodes it itself) and Hugging Face's `huggingface_hub.InferenceClient.feature_extraction` (TEI's
dialect on POST /). Both must return exactly the embeddings `rmsmp-run embed` computes for the same texts. The
server runs with an API key (from $RMSMP_API_KEY, sent by both clients as a Bearer token; a request without it
gets 401) and --access-log (one JSON line per request on stderr, checked at the end).

usage: serve_clients.py BIN_DIR MODEL.rmsmp
"""
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

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

KEY = "test-key-123"
server = subprocess.Popen([f"{bin_dir}/rmsmp-serve", "--model", model, "--port", "0", "--access-log"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "RMSMP_API_KEY": KEY})
try:
    line = server.stdout.readline()
    assert line.startswith("listening on "), line
    port = int(line.strip().rsplit(":", 1)[1])

    try:
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/embed", data=b'{"inputs": "a"}',
                                                      headers={"Content-Type": "application/json"}))
        raise AssertionError("no API key: expected 401")
    except urllib.error.HTTPError as e:
        assert e.code == 401 and json.loads(e.read())["error_type"] == "Unauthorized", e

    oa = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY)
    r = oa.embeddings.create(input=texts, model="minilm")
    got = np.array([d.embedding for d in sorted(r.data, key=lambda d: d.index)], dtype=np.float32)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    assert np.array_equal(got, ref), f"openai: max |diff| {np.abs(got - ref).max()}"
    assert r.model == "minilm" and r.usage.prompt_tokens > len(texts), r
    r = oa.embeddings.create(input=texts[0], model="minilm", encoding_format="float", dimensions=32)
    cut = ref_single[0][:32] / np.linalg.norm(ref_single[0][:32].astype(np.float64))
    assert np.allclose(r.data[0].embedding, cut, atol=1e-6), "openai: dimensions=32"

    hf = InferenceClient(model=f"http://127.0.0.1:{port}", token=KEY)
    for i, t in enumerate(texts):
        e = hf.feature_extraction(t)
        assert np.array_equal(np.asarray(e, dtype=np.float32).reshape(-1), ref_single[i]), f"huggingface_hub: text {i}"
    e = hf.feature_extraction(texts[1], normalize=True, truncate=True)
    assert np.array_equal(np.asarray(e, dtype=np.float32).reshape(-1), ref_single[1])
    print(f"openai {__import__('openai').__version__} and huggingface_hub "
          f"{__import__('huggingface_hub').__version__}: {len(texts)} texts identical to rmsmp-run embed")
finally:
    server.terminate()
    _, err = server.communicate(timeout=30)
log = [json.loads(l) for l in err.splitlines() if l.startswith("{")]
assert [e["status"] for e in log] == [401, 200, 200, 200, 200, 200, 200], log
assert [e["route"] for e in log[1:3]] == ["/v1/embeddings"] * 2 and log[3]["route"] == "/embed", log
assert log[1]["inputs"] == 3 and log[1]["tokens"] > 3 and log[1]["compute_ms"] > 0, log
