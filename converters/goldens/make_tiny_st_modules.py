#!/usr/bin/env python3
"""Writes tests/data/tiny_st_modules/: the sentence-transformers module files of a model whose Transformer is
tests/data/tiny_roberta (the test copies that folder's files in beside these), and golden_embeddings.json with
sentence-transformers' own encode() output for three pipelines:
- "full": Pooling with all four modes (cls, max, mean, mean_sqrt_len: 4 x 32 = 128 wide), Dense 128 -> 24 (Tanh,
  weights in model.safetensors), Dense 24 -> 16 (Identity, no bias, weights in pytorch_model.bin), Normalize;
- "max": Pooling with max alone, nothing after it;
- "mean_sqrt_len": Pooling with mean_sqrt_len alone, then Normalize.
Torch seed 17 for the Dense weights (torch's default nn.Linear init).
Usage: /usr/bin/python3 converters/goldens/make_tiny_st_modules.py  (needs torch, transformers, sentence-transformers;
make_tiny_roberta.py first)."""
import json, os, shutil, tempfile
import torch, transformers, sentence_transformers
from sentence_transformers import SentenceTransformer, models

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.normpath(os.path.join(here, "..", ".."))
src = os.path.join(root, "tests", "data", "tiny_roberta")
out = os.path.join(root, "tests", "data", "tiny_st_modules")
MADE_WITH = (f"sentence-transformers {sentence_transformers.__version__}, transformers {transformers.__version__}, "
             f"torch {torch.__version__}")
sentences = ["The movie was good!", "Not fun, the plot was dull.", "great", "It's a very bad play.",
             "I don't think they'll come back in 2024 :("]

torch.manual_seed(17)
word = models.Transformer(src, max_seq_length=40)
H = word.get_word_embedding_dimension()
pool_all = models.Pooling(H, pooling_mode_cls_token=True, pooling_mode_max_tokens=True, pooling_mode_mean_tokens=True,
                          pooling_mode_mean_sqrt_len_tokens=True)
dense1 = models.Dense(4 * H, 24, activation_function=torch.nn.Tanh())
dense2 = models.Dense(24, 16, bias=False, activation_function=torch.nn.Identity())
pipelines = {
    "full": [word, pool_all, dense1, dense2, models.Normalize()],
    "max": [word, models.Pooling(H, pooling_mode="max")],
    "mean_sqrt_len": [word, models.Pooling(H, pooling_mode_mean_tokens=False, pooling_mode_mean_sqrt_len_tokens=True),
                      models.Normalize()],
}
golden = {"made_with": MADE_WITH, "transformer": "tests/data/tiny_roberta", "pipelines": {}}
shutil.rmtree(out, ignore_errors=True)
for name, mods in pipelines.items():
    m = SentenceTransformer(modules=mods, device="cpu").eval()
    emb = m.encode(sentences, convert_to_numpy=True, batch_size=2)
    with tempfile.TemporaryDirectory() as tmp:
        m.save(tmp)
        files = {}
        for dirpath, _, names in os.walk(tmp):
            rel = os.path.relpath(dirpath, tmp)
            if rel == ".":  # the Transformer's own files come from tiny_roberta; keep the pipeline's files
                for n in ("modules.json", "sentence_bert_config.json"):
                    files[n] = json.load(open(os.path.join(tmp, n)))
                continue
            for n in names:
                if n == "config.json":
                    files[os.path.join(rel, n)] = json.load(open(os.path.join(dirpath, n)))
        if name == "full":  # the module folders with their weights, committed
            for d in ("1_Pooling", "2_Dense", "3_Dense", "4_Normalize"):
                shutil.copytree(os.path.join(tmp, d), os.path.join(out, d), dirs_exist_ok=True)
            for n in ("modules.json", "sentence_bert_config.json"):
                shutil.copy(os.path.join(tmp, n), os.path.join(out, n))
            # The second Dense as torch.save writes it (older sentence-transformers): the .bin reader is used too.
            from safetensors.torch import load_file
            d3 = os.path.join(out, "3_Dense")
            torch.save(load_file(os.path.join(d3, "model.safetensors")), os.path.join(d3, "pytorch_model.bin"))
            os.remove(os.path.join(d3, "model.safetensors"))
    golden["pipelines"][name] = {"files": files,
                                 "cases": [{"sentence": s, "embedding": e.tolist()} for s, e in zip(sentences, emb)]}
json.dump(golden, open(os.path.join(out, "golden_embeddings.json"), "w"), indent=1)
print("wrote", out)
