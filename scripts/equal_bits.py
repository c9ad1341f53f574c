#!/usr/bin/env python3
"""One comparison at equal bits (issue 17): the same post-training quantization (PTQ) and the same
quantization-aware training (QAT) for every scheme, row-wise RMSMP against uniform Fixed-4, PoT-4, layer-wise
and random rows, with Fixed-8 and fp32 as references. Writes OUT/results.json and OUT/results.md.

  /usr/bin/python3 scripts/equal_bits.py [--models fmnist,effnet,minilm] [--out out/equal-bits] [--qat-steps N]

Per model (every conversion: nothing pinned, the same calibration, GPTQ rounding; vision: bias correction and
static activation clips; QAT: converters/train/qat_cnn.py or qat_encoder.py from the PTQ rows, same options):
- fmnist: the committed Fashion-MNIST ResNet-20, top-1 on the 10,000 test images at 8-bit and at 4-bit
  activations (the paper's W4A4); calibration and QAT on training images only.
- effnet: EfficientNet-Lite0 on the photos of scripts/photos.sh, without labels: top-1 agreement with fp32 and
  mean KL on eval/ (109 photos); calibration and QAT on calib/ (61 photos) only.
- minilm: all-MiniLM-L6-v2: SST-2 dev accuracy with a head fitted on fp32 features, STS-B dev Spearman of the
  embeddings' cosine similarity (the MTEB protocol, no head), embedding cosine to fp32 (mean, min) on SST-2 dev;
  calibration on data/calib/text.txt, QAT on the SST-2 train sample's sentences (never its labels).
Run after `bash scripts/setup.sh` and a build. Times on 2 cores (measured: docs/bench/equal-bits-fmnist-xeon.json,
docs/bench/qat-effnet-xeon.json, README's MiniLM QAT): fmnist ~15 min in all; effnet ~5 min per 100 QAT steps
per scheme; minilm ~4 min per 100 QAT steps per scheme.
"""
import argparse, json, os, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("RMSMP_BIN_DIR", os.path.join(ROOT, "build", "apps"))
PY = os.environ.get("RMSMP_TORCH_PYTHON", "/usr/bin/python3")
TRAIN = os.path.join(ROOT, "converters", "train")
# scheme row -> rmsmp-convert options; every row converts with nothing pinned, so the bits are the scheme's.
SCHEMES = [("fixed8", ["--scheme", "fixed8"]),
           ("rmsmp", ["--scheme", "rmsmp"]),
           ("fixed4", ["--scheme", "fixed4"]),
           ("pot4", ["--scheme", "pot4"]),
           ("layerwise", ["--scheme", "layerwise"]),
           ("random", ["--scheme", "random"])]
# EfficientNet-Lite0 also gets the global allocation (the best post-training rmsmp there).
EFFNET_EXTRA = [("rmsmp-global", ["--scheme", "rmsmp", "--allocation", "global"])]


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode:
        sys.exit(f"equal_bits: {' '.join(cmd)} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return r.stdout


def sh(script, *args):
    return run(["bash", os.path.join(ROOT, "scripts", script), *args]).strip()


def last_json(text):
    return json.loads(text.strip().splitlines()[-1])


def qat_log(path):
    lines = [l for l in open(path) if l.startswith("[qat]")]
    return lines[-2].strip() if len(lines) >= 2 else ""


# ---- Fashion-MNIST ResNet-20 ----
def fmnist(out, steps, rows):
    pth = os.path.join(ROOT, "tests", "data", "fmnist", "resnet20_fmnist.pth")
    data = os.environ.get("RMSMP_FMNIST_DIR", "/usr/share/datasets/fashion-mnist")
    train = os.path.join(data, "train-images-idx3-ubyte.gz")
    top1 = lambda m: last_json(run([f"{BIN}/rmsmp-run", "mnist", "--model", m, "--data", data]))
    fp32 = f"{out}/fmnist-fp32.rmsmp"
    run([f"{BIN}/rmsmp-convert", "--quiet", "--in", pth, "--out", fp32, "--scheme", "fp32"])
    r = top1(fp32)
    rows.append({"model": "fmnist-resnet20", "scheme": "fp32", "act_bits": 32, "stage": "fp32",
                 "avg_weight_bits": 32.0, "top1": r["top1"]})
    for act in (8, 4):
        for name, opts in SCHEMES:
            base = f"{out}/fmnist-a{act}-{name}"
            run([f"{BIN}/rmsmp-convert", "--quiet", "--in", pth, "--out", base + ".ptq.rmsmp", *opts,
                 "--pin-first-last", "none", "--calib-images", train, "--calib-n", "256", "--act-bits", str(act),
                 "--export-plan", base + ".ptq.plan"])
            r = top1(base + ".ptq.rmsmp")
            bits = r["model"]["avg_weight_bits"]
            rows.append({"model": "fmnist-resnet20", "scheme": name, "act_bits": act, "stage": "ptq",
                         "avg_weight_bits": bits, "top1": r["top1"]})
            print(f"equal_bits: fmnist a{act} {name} ptq top-1 {r['top1']:.2f}", flush=True)
            if name == "fixed8" or steps == 0:
                continue
            with open(base + ".qat.log", "w") as log:
                subprocess.run([PY, f"{TRAIN}/qat_cnn.py", "--plan", base + ".ptq.plan", "--images", train,
                                "--limit", "20000", "--val", "1000", "--steps", str(steps), "--batch", "64",
                                "--lr", "1e-4", "--eval-every", str(max(steps // 4, 1)),
                                "--out", base + ".qat.plan"], stdout=log, stderr=subprocess.STDOUT, check=True)
            run([f"{BIN}/rmsmp-convert", "--quiet", "--in", pth, "--out", base + ".qat.rmsmp",
                 "--plan", base + ".qat.plan"])
            r = top1(base + ".qat.rmsmp")
            rows.append({"model": "fmnist-resnet20", "scheme": name, "act_bits": act, "stage": "qat",
                         "avg_weight_bits": bits, "top1": r["top1"], "qat": qat_log(base + ".qat.log")})
            print(f"equal_bits: fmnist a{act} {name} qat top-1 {r['top1']:.2f}", flush=True)


# ---- EfficientNet-Lite0 on photos ----
def effnet(out, steps, rows):
    pth = sh("checkpoint_dir.sh", "--effnet")
    photos = sh("photos.sh")
    fp32 = f"{out}/effnet-fp32.rmsmp"
    run([f"{BIN}/rmsmp-convert", "--quiet", "--in", pth, "--out", fp32, "--scheme", "fp32"])
    agree = lambda m: last_json(run([f"{BIN}/rmsmp-run", "agree", "--model", m, "--reference", fp32,
                                     "--data", f"{photos}/eval"]))
    keep = lambda r: {"top1_agreement": r["top1_agreement"], "reference_top1_in_top5": r["reference_top1_in_top5"],
                      "kl_mean": r["kl_mean"]}
    schemes = SCHEMES[:2] + EFFNET_EXTRA + SCHEMES[2:]
    for name, opts in schemes:
        base = f"{out}/effnet-{name}"
        run([f"{BIN}/rmsmp-convert", "--quiet", "--in", pth, "--out", base + ".ptq.rmsmp", *opts,
             "--pin-first-last", "none", "--calib-images", f"{photos}/calib", "--calib-n", "1000",
             "--export-plan", base + ".ptq.plan"])
        r = agree(base + ".ptq.rmsmp")
        bits = r["model"]["avg_weight_bits"]
        rows.append({"model": "efficientnet-lite0", "scheme": name, "act_bits": 8, "stage": "ptq",
                     "avg_weight_bits": bits, **keep(r)})
        print(f"equal_bits: effnet {name} ptq agreement {r['top1_agreement']:.1f}", flush=True)
        if name == "fixed8" or steps == 0:
            continue
        with open(base + ".qat.log", "w") as log:
            subprocess.run([PY, f"{TRAIN}/qat_cnn.py", "--plan", base + ".ptq.plan", "--images", f"{photos}/calib",
                            "--steps", str(steps), "--batch", "16", "--lr", "5e-5",
                            "--eval-every", str(max(steps // 4, 1)),
                            "--out", base + ".qat.plan"], stdout=log, stderr=subprocess.STDOUT, check=True)
        run([f"{BIN}/rmsmp-convert", "--quiet", "--in", pth, "--out", base + ".qat.rmsmp", "--plan", base + ".qat.plan"])
        r = agree(base + ".qat.rmsmp")
        rows.append({"model": "efficientnet-lite0", "scheme": name, "act_bits": 8, "stage": "qat",
                     "avg_weight_bits": bits, **keep(r), "qat": qat_log(base + ".qat.log")})
        print(f"equal_bits: effnet {name} qat agreement {r['top1_agreement']:.1f}", flush=True)


# ---- all-MiniLM-L6-v2 ----
def embed(model, texts, path):
    with open(path + ".txt", "w") as f:
        f.write("\n".join(texts) + "\n")
    raw = subprocess.run([f"{BIN}/rmsmp-run", "embed", "--model", model, "--input", path + ".txt", "--format", "f32"],
                         capture_output=True, check=True).stdout
    import numpy as np
    return np.frombuffer(raw, dtype="<f4").reshape(len(texts), -1)


def stsb_spearman(model, pairs, gold, path):
    import numpy as np
    a, b = embed(model, [p[0] for p in pairs], path + ".a"), embed(model, [p[1] for p in pairs], path + ".b")
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    rank = lambda v: np.argsort(np.argsort(v, kind="stable"), kind="stable").astype(float)  # no ties in cosines
    g = np.asarray(gold)
    # Spearman with average ranks for the gold scores' ties.
    order = np.argsort(g, kind="stable")
    gr = np.empty(len(g))
    i = 0
    while i < len(g):
        j = i
        while j + 1 < len(g) and g[order[j + 1]] == g[order[i]]:
            j += 1
        gr[order[i:j + 1]] = (i + j) / 2.0
        i = j + 1
    return float(np.corrcoef(rank(cos), gr)[0, 1])


def minilm(out, steps, rows):
    ck = sh("checkpoint_dir.sh")
    fp32 = f"{out}/minilm-fp32.rmsmp"
    run([f"{BIN}/rmsmp-convert", "--quiet", "--in", ck, "--out", fp32, "--scheme", "fp32"])
    train = f"{out}/minilm-train.txt"
    with open(os.path.join(ROOT, "data", "sst2", "train_sample.tsv")) as f:
        next(f)
        open(train, "w").write("".join(l.split("\t")[0] + "\n" for l in f))
    head = f"{out}/minilm-head.json"
    run([f"{BIN}/rmsmp-run", "fit-head", "--model", fp32, "--train", os.path.join(ROOT, "data", "sst2", "train_sample.tsv"),
         "--limit", "3000", "--out", head])
    with open(os.path.join(ROOT, "data", "stsb", "dev.tsv")) as f:
        hdr = next(f).rstrip("\n").split("\t")
        recs = [l.rstrip("\n").split("\t") for l in f]
    i1, i2, isc = hdr.index("sentence1"), hdr.index("sentence2"), hdr.index("score")
    pairs, gold = [(r[i1], r[i2]) for r in recs], [float(r[isc]) for r in recs]

    def measure(m, tag):
        e = last_json(run([f"{BIN}/rmsmp-run", "eval", "--model", m, "--head", head, "--data",
                           os.path.join(ROOT, "data", "sst2", "dev.tsv"), "--reference", fp32]))
        return {"sst2_accuracy": 100 * e["accuracy"], "cosine_mean": e["cosine_mean"], "cosine_min": e["cosine_min"],
                "stsb_cosine_spearman": 100 * stsb_spearman(m, pairs, gold, f"{out}/{tag}.stsb"),
                "avg_weight_bits": e["avg_weight_bits"]}

    r = measure(fp32, "minilm-fp32")
    rows.append({"model": "all-MiniLM-L6-v2", "scheme": "fp32", "act_bits": 32, "stage": "fp32", **r})
    for name, opts in SCHEMES:
        base = f"{out}/minilm-{name}"
        run([f"{BIN}/rmsmp-convert", "--quiet", "--in", ck, "--out", base + ".ptq.rmsmp", *opts,
             "--export-plan", base + ".ptq.plan"])
        r = measure(base + ".ptq.rmsmp", f"minilm-{name}-ptq")
        rows.append({"model": "all-MiniLM-L6-v2", "scheme": name, "act_bits": 8, "stage": "ptq", **r})
        print(f"equal_bits: minilm {name} ptq cosine {r['cosine_mean']:.4f}", flush=True)
        if name == "fixed8" or steps == 0:
            continue
        ids = base + ".train.ids"
        with open(ids, "w") as f:
            subprocess.run([f"{BIN}/rmsmp-run", "tokenize", "--model", base + ".ptq.rmsmp", "--input", train],
                           stdout=f, stderr=subprocess.DEVNULL, check=True)
        with open(base + ".qat.log", "w") as log:
            subprocess.run([PY, f"{TRAIN}/qat_encoder.py", "--plan", base + ".ptq.plan", "--ids", ids, "--out",
                            base + ".qat.plan", "--steps", str(steps), "--batch", "32", "--lr", "1e-4",
                            "--eval-every", str(max(steps // 4, 1))], stdout=log, stderr=subprocess.STDOUT, check=True)
        run([f"{BIN}/rmsmp-convert", "--quiet", "--in", ck, "--out", base + ".qat.rmsmp", "--plan", base + ".qat.plan"])
        r = measure(base + ".qat.rmsmp", f"minilm-{name}-qat")
        rows.append({"model": "all-MiniLM-L6-v2", "scheme": name, "act_bits": 8, "stage": "qat", **r,
                     "qat": qat_log(base + ".qat.log")})
        print(f"equal_bits: minilm {name} qat cosine {r['cosine_mean']:.4f}", flush=True)


def markdown(res):
    md = [f"Equal-bits comparison, git {res['git']}, {res['cpu']}, QAT steps {res['qat_steps']}", ""]
    for model, cols in (("fmnist-resnet20", [("top1", "top-1 %", 2)]),
                        ("efficientnet-lite0", [("top1_agreement", "top-1 agreement %", 1),
                                                ("reference_top1_in_top5", "fp32 top-1 in top-5 %", 1),
                                                ("kl_mean", "mean KL", 3)]),
                        ("all-MiniLM-L6-v2", [("sst2_accuracy", "SST-2 acc %", 2),
                                              ("stsb_cosine_spearman", "STS-B cos. Spearman", 2),
                                              ("cosine_mean", "cosine mean", 4), ("cosine_min", "cosine min", 4)])):
        rs = [r for r in res["rows"] if r["model"] == model]
        if not rs:
            continue
        md += [f"### {model}", "", "| scheme | act bits | avg weight bits | stage | " +
               " | ".join(c[1] for c in cols) + " |", "|---|---:|---:|---|" + "---:|" * len(cols)]
        for r in rs:
            md.append(f"| {r['scheme']} | {r['act_bits']} | {r['avg_weight_bits']:.3f} | {r['stage']} | " +
                      " | ".join(f"{r[k]:.{p}f}" for k, _, p in cols) + " |")
        md.append("")
    return "\n".join(md)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="fmnist,effnet,minilm")
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "equal-bits"))
    ap.add_argument("--qat-steps", type=int, default=200, help="QAT steps per scheme (0: PTQ only)")
    ap.add_argument("--schemes", help="comma-separated subset of the rows (default: all; fp32 always runs)")
    a = ap.parse_args()
    if not os.access(f"{BIN}/rmsmp-convert", os.X_OK):
        sys.exit("equal_bits: build first (bash scripts/build.sh)")
    os.makedirs(a.out, exist_ok=True)
    if a.schemes:
        keep = set(a.schemes.split(","))
        SCHEMES[:] = [s for s in SCHEMES if s[0] in keep]
        global EFFNET_EXTRA
        EFFNET_EXTRA = [s for s in EFFNET_EXTRA if s[0] in keep]
    rows, t0 = [], time.time()
    for m in a.models.split(","):
        {"fmnist": fmnist, "effnet": effnet, "minilm": minilm}[m](a.out, a.qat_steps, rows)
        json.dump(rows, open(f"{a.out}/rows.json", "w"), indent=1)  # partial results survive a later failure
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    sha = run(["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"]).strip()
    res = {"git": sha, "cpu": cpu, "qat_steps": a.qat_steps, "seconds": time.time() - t0, "rows": rows}
    json.dump(res, open(f"{a.out}/results.json", "w"), indent=1)
    md = markdown(res)
    open(f"{a.out}/results.md", "w").write(md + "\n")
    print(md)


if __name__ == "__main__":
    main()
