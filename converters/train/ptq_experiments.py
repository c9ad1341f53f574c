#!/usr/bin/env python3
"""Post-training experiments on a converter-exported plan, measured by embedding cosine to fp32 (MiniLM).

Measures two ideas from the fidelity issue before they cost engine work, with the trainer's exact quantizers
(qat_encoder.py: the engine's grids, per-token int8 activations) and each row's scheme from the plan:
  rtn            nearest rounding, per-row MSE steps
  awq            + per-input-channel scales s = mean|x|^alpha (alpha searched per layer on the calibration
                 H = X^T X, shared by q/k/v), folded as W diag(s) and x / s (the engine would need the x / s)
  gptq           error-compensated rounding (act-order, 1% damping), as the converter does
  outl:F:gptq    GPTQ with the fraction F of weights (largest |w| sqrt(H_jj)) kept exact: a sparse side-matrix
Usage (plan from rmsmp-convert --export-plan; ids from rmsmp-run tokenize):
  /usr/bin/python3 converters/train/ptq_experiments.py PLAN CALIB_IDS DEV_IDS rtn awq gptq outl:0.005:gptq
Measured on MiniLM (default mix, Yelp calibration, 256 calibration and 400 SST-2 dev sentences), 2026-11-30:
  plan (C++ GPTQ) 0.9651; rtn 0.9296; awq 0.9315; gptq 0.9611; outl 0.5% 0.9636; outl 1% 0.9653.
"""
import sys, math, json, time
sys.path.insert(0, __import__("os").path.dirname(__import__("os").path.abspath(__file__)))
import numpy as np, torch
import qat_encoder as Q

torch.set_num_threads(2)
if len(sys.argv) < 5:
    sys.exit(__doc__)
PLAN, CALIB_IDS, DEV_IDS = sys.argv[1:4]
METHODS = sys.argv[4:]
t, meta = Q.read_safetensors(PLAN)
cfg = json.loads(meta["architecture"])
rows = {}
for name in list(t):
    if name.endswith(".rmsmp_dequant"):
        base = name[: -len(".rmsmp_dequant")]
        rows[base] = (t[name], t[base + ".rmsmp_kind"], t[base + ".rmsmp_step"])
calib = Q.read_ids(CALIB_IDS, 128)
dev = Q.read_ids(DEV_IDS, 128)
L = cfg["num_layers"]

# --- capture each linear's input on calibration (teacher) ---
teacher = Q.Encoder(cfg, t, {}, quantized=False).eval()
X = {}
orig_linear = Q.Encoder.linear
def cap_linear(self, key, x):
    X.setdefault(key, []).append(x.detach().reshape(-1, x.shape[-1]))
    return orig_linear(self, key, x)
with torch.no_grad():
    Q.Encoder.linear = cap_linear
    for i in range(0, len(calib), 32):
        ids, mask = Q.batch(calib[i:i + 32])
        teacher(ids, mask)
        # drop padded tokens: keep rows where mask==1
        m = mask.reshape(-1) > 0
        for k in X:
            if X[k][-1].shape[0] == m.shape[0]:
                X[k][-1] = X[k][-1][m]
    Q.Encoder.linear = orig_linear
X = {k: torch.cat(v) for k, v in X.items()}
print("captured", len(X), "inputs, tokens", X["encoder_0_q"].shape, flush=True)

def quant_rows(w, kinds, steps):
    return steps.unsqueeze(1) * Q.quant_levels(w / steps.unsqueeze(1), kinds)

def mse_steps_kinds(w, kinds):
    st = torch.zeros(w.shape[0])
    for k in (Q.FIXED8, Q.FIXED4, Q.POT4):
        sel = kinds == k
        if sel.any():
            st[sel] = Q.mse_steps(w[sel], k)
    return st

def gptq(w, H, kinds, steps, damp=0.01, block=128):
    W = w.clone()
    n = W.shape[1]
    H = H.clone()
    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    perm = torch.argsort(torch.diag(H), descending=True)
    W = W[:, perm]; H = H[perm][:, perm]
    H += damp * torch.mean(torch.diag(H)) * torch.eye(n)
    Hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)
    Qw = torch.zeros_like(W)
    for i1 in range(0, n, block):
        i2 = min(i1 + block, n)
        W1 = W[:, i1:i2].clone(); Q1 = torch.zeros_like(W1); E1 = torch.zeros_like(W1)
        Hi = Hinv[i1:i2, i1:i2]
        for i in range(i2 - i1):
            wc = W1[:, i]
            q = quant_rows(wc.unsqueeze(1), kinds, steps).squeeze(1)
            Q1[:, i] = q
            e = (wc - q) / Hi[i, i]
            W1[:, i:] -= e.unsqueeze(1) * Hi[i, i:].unsqueeze(0)
            E1[:, i] = e
        Qw[:, i1:i2] = Q1
        W[:, i2:] -= E1 @ Hinv[i1:i2, i2:]
    inv = torch.argsort(perm)
    return Qw[:, inv]

GROUPS = []
for l in range(L):
    p = f"encoder_{l}_"
    GROUPS.append(([p + "q", p + "k", p + "v"], p + "q"))
    GROUPS.append(([p + "attn_out"], p + "attn_out"))
    GROUPS.append(([p + "ffn_in"], p + "ffn_in"))
    GROUPS.append(([p + "ffn_out"], p + "ffn_out"))

def key2name(k):
    l = k.split("_")[1]; rest = "_".join(k.split("_")[2:])
    return f"encoder.{l}.{rest}.weight"

def build(method, alphas=np.linspace(0, 1, 11), pow2=False):
    """returns dict key -> (Wq in original space (for eval: W'), s vector or None)"""
    out = {}
    for keys, xin in GROUPS:
        x = X[xin]
        H = x.T @ x / x.shape[0]
        xm = x.abs().mean(0).clamp(min=1e-6)
        ws = {k: torch.tensor(t[key2name(k)]) for k in keys}
        kinds = {k: torch.tensor(rows[key2name(k)][1].astype(np.int64)) for k in keys}
        def quantize(s):
            res = {}
            err = 0.0
            for k in keys:
                W = ws[k] * s.unsqueeze(0)
                Hs = H / s.unsqueeze(0) / s.unsqueeze(1)
                st = mse_steps_kinds(W, kinds[k])
                Wq = gptq(W, Hs, kinds[k], st) if "gptq" in method else quant_rows(W, kinds[k], st)
                D = Wq / s.unsqueeze(0) - ws[k]
                err += float(torch.einsum("ij,jk,ik->", D, H, D))
                res[k] = (Wq, s)
            return err, res
        if "awq" in method:
            best = None
            for a in alphas:
                s = xm ** float(a)
                s = s / torch.sqrt(s.max() * s.min())
                if pow2:
                    s = torch.pow(2.0, torch.round(torch.log2(s)))
                e, r = quantize(s) if "gptq" not in method else quantize_fast(s, keys, ws, kinds, H)
                if best is None or e < best[0]:
                    best = (e, r, a, s)
            s = best[3]
            if "gptq" in method:
                e, r = quantize(s)
                best = (e, r, best[2], s)
            e0, _ = quantize(torch.ones_like(xm))
            print(f"{keys[0]:22s} alpha {best[2]:.1f} err {best[0]:.4g} vs unscaled {e0:.4g}", flush=True)
            out.update(best[1])
        else:
            e, r = quantize(torch.ones_like(xm))
            out.update(r)
    return out

def quantize_fast(s, keys, ws, kinds, H):
    # alpha search with nearest rounding (cheap); the final quantization uses gptq
    err = 0.0
    for k in keys:
        W = ws[k] * s.unsqueeze(0)
        st = mse_steps_kinds(W, kinds[k])
        Wq = quant_rows(W, kinds[k], st)
        D = Wq / s.unsqueeze(0) - ws[k]
        err += float(torch.einsum("ij,jk,ik->", D, H, D))
    return err, None

class Student(Q.Encoder):
    def __init__(self, qw):
        super().__init__(cfg, t, {}, quantized=False)
        self.qw = qw
    def linear(self, key, x):
        Wq, s = self.qw[key]
        if s is not None:
            x = x / s
        x = Q.act_quant(x)
        return torch.nn.functional.linear(x, Wq, self.b[key])

@torch.no_grad()
def evaluate(qw):
    st = Student(qw).eval()
    cs = []
    for i in range(0, len(dev), 64):
        ids, mask = Q.batch(dev[i:i + 64])
        cs.append(torch.nn.functional.cosine_similarity(st(ids, mask)[0], teacher(ids, mask)[0], dim=-1))
    c = torch.cat(cs)
    return float(c.mean()), float(c.min())

# plan's own (C++ GPTQ) values
plan_qw = {}
for keys, _ in GROUPS:
    for k in keys:
        plan_qw[k] = (torch.tensor(rows[key2name(k)][0]), None)
print("plan (C++ GPTQ):", evaluate(plan_qw), flush=True)
for m in [a for a in METHODS if not a.startswith("outl")]:
    t0 = time.time()
    qw = build(m, pow2=m.endswith("p2"))
    print(m, evaluate(qw), f"{time.time() - t0:.0f}s", flush=True)

def build_outl(frac, use_gptq=True):
    out = {}
    for keys, xin in GROUPS:
        x = X[xin]
        H = x.T @ x / x.shape[0]
        for k in keys:
            W = torch.tensor(t[key2name(k)])
            kinds = torch.tensor(rows[key2name(k)][1].astype(np.int64))
            sal = W.abs() * torch.sqrt(torch.diag(H)).unsqueeze(0)
            n = int(frac * W.numel())
            mask = torch.zeros_like(W, dtype=torch.bool)
            if n > 0:
                idx = torch.topk(sal.reshape(-1), n).indices
                mask.view(-1)[idx] = True
            st = mse_steps_kinds(torch.where(mask, torch.zeros_like(W), W), kinds)
            if use_gptq:
                Wq = gptq_mask(W, H, kinds, st, mask)
            else:
                Wq = torch.where(mask, W, quant_rows(W, kinds, st))
            out[k] = (Wq, None)
    return out

def gptq_mask(w, H, kinds, steps, mask, damp=0.01):
    W = w.clone(); n = W.shape[1]; H = H.clone()
    perm = torch.argsort(torch.diag(H), descending=True)
    W = W[:, perm]; H = H[perm][:, perm]; M = mask[:, perm]
    H += damp * torch.mean(torch.diag(H)) * torch.eye(n)
    Hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)
    Qw = torch.zeros_like(W)
    for i in range(n):
        wc = W[:, i]
        q = torch.where(M[:, i], wc, quant_rows(wc.unsqueeze(1), kinds, steps).squeeze(1))
        Qw[:, i] = q
        e = (wc - q) / Hinv[i, i]
        W[:, i:] -= e.unsqueeze(1) * Hinv[i, i:].unsqueeze(0)
    return Qw[:, torch.argsort(perm)]

for a in METHODS:
    if a.startswith("outl"):
        frac = float(a.split(":")[1]); g = a.split(":")[2] == "gptq"
        t0 = time.time()
        print(a, evaluate(build_outl(frac, g)), f"{time.time()-t0:.0f}s", flush=True)
