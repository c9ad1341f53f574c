"""What the QAT tools share (qat_encoder.py, qat_cnn.py): the plan file (converters/qat_plan.h), the scheme
table's integer quantizers exactly as the engine rounds (engine/include/rmsmp/quant.h), LSQ-style fake
quantization, and the paper's row reassignment. Needs torch and numpy only (Debian python3-torch)."""
import json, os, sys

import numpy as np
import torch

# The scheme table's integer schemes (engine/include/rmsmp/quant.h): code -> (name, largest |q|).
FIXED8, FIXED4, POT4 = 1, 2, 3
MAX_Q = {FIXED8: 127, FIXED4: 7, POT4: 64}
PLAN_FORMAT = "rmsmp-qat-plan/1"


# ---- safetensors (F32 only, as qat_plan.h writes) ----
def read_safetensors(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        if e["dtype"] != "F32":
            sys.exit(f"{path}: tensor {name} is {e['dtype']}, a plan holds F32 only")
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(data[b:end], dtype="<f4").reshape(e["shape"]).copy()
    return out, meta


def write_safetensors(path, tensors, meta):
    header, off = {"__metadata__": meta}, 0
    names = sorted(tensors)
    for name in names:
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for name in names:
            f.write(np.ascontiguousarray(tensors[name], dtype="<f4").tobytes())
    os.replace(tmp, path)


# ---- quantizers ----
def round_half_away(x):
    return torch.sign(x) * torch.floor(torch.abs(x) + 0.5)


def quant_levels(x, kinds):
    """Nearest level of each row's scheme for x = w / step (rows x cols); kinds: (rows,) scheme codes."""
    maxq = torch.where(kinds == FIXED8, 127.0, 7.0).unsqueeze(1)
    fixed = torch.clamp(round_half_away(x), -maxq, maxq)
    a = torch.abs(x)
    e = torch.clamp(torch.floor(torch.log2(torch.clamp(a, min=1.0))), 0, 6)
    lo = torch.pow(2.0, e)
    mag = torch.where(a >= 1.5 * lo, torch.clamp(2 * lo, max=64.0), lo)
    pot = torch.sign(x) * torch.where(a < 0.5, torch.zeros_like(a), mag)
    return torch.where((kinds == POT4).unsqueeze(1), pot, fixed)


def fake_quant(w, step, kinds):
    """STE fake quantization: value step * q; d/dw = 1, d/dstep = q - w/step (LSQ)."""
    s = step.unsqueeze(1)
    x = w / s
    q = quant_levels(x.detach(), kinds)
    return s * (x + (q - x).detach())


def mse_steps(w, kind):
    """Per-row MSE-optimal step for one scheme over a grid of clip fractions (the converter's --clip mse idea)."""
    amax = w.abs().amax(dim=1).clamp(min=1e-12)
    kinds = torch.full((w.shape[0],), kind, dtype=torch.int64)
    best, best_err = amax / MAX_Q[kind], None
    for f in torch.linspace(0.3, 1.0, 36):
        s = amax * f / MAX_Q[kind]
        err = ((w - s.unsqueeze(1) * quant_levels(w / s.unsqueeze(1), kinds)) ** 2).sum(dim=1)
        if best_err is None:
            best_err = err
        else:
            better = err < best_err
            best = torch.where(better, s, best)
            best_err = torch.where(better, err, best_err)
    return best


# ---- the paper's reassignment ----
@torch.no_grad()
def reassign(model, fisher):
    changed = 0
    for key, w in model.w.items():
        kinds = model.kinds[key]
        counts = {k: int((kinds == k).sum()) for k in (FIXED8, FIXED4, POT4)}
        steps = {k: mse_steps(w, k) for k in (FIXED4, POT4, FIXED8)}
        sens = {}
        for k in (FIXED4, POT4):
            kk = torch.full_like(kinds, k)
            err = w - steps[k].unsqueeze(1) * quant_levels(w / steps[k].unsqueeze(1), kk)
            sens[k] = (fisher[key] * err * err).sum(dim=1)
        cost4 = torch.minimum(sens[FIXED4], sens[POT4])
        new = torch.full_like(kinds, POT4)
        order = torch.argsort(cost4, descending=True, stable=True)
        new[order[:counts[FIXED8]]] = FIXED8
        rest = order[counts[FIXED8]:]
        wr = w[rest] / w[rest].abs().amax(dim=1, keepdim=True).clamp(min=1e-12)
        var = wr.var(dim=1, unbiased=False)
        flat = rest[torch.argsort(var, descending=True, stable=True)[:counts[FIXED4]]]
        new[flat] = FIXED4
        moved = new != kinds
        for k in (FIXED8, FIXED4, POT4):
            sel = moved & (new == k)
            model.step0[key][sel] = steps[k][sel]
            model.log_step[key].data[sel] = 0
        model.kinds[key] = new
        changed += int(moved.sum())
    return changed


@torch.no_grad()
def update_fisher(model, fisher, n):
    """Running mean of squared gradients of the latent weights (n: this step's count, from 1): the Fisher estimate
    of the loss Hessian that reassign() weights each row's error with."""
    for key, w in model.w.items():
        if w.grad is not None:
            fisher[key] += (w.grad ** 2 - fisher[key]) / n


@torch.no_grad()
def export_rows(model, key, name):
    """Plan tensors of one trained layer (qat_plan.h): values exactly steps[r] * q, the steps, the schemes."""
    s, kinds = model.step(key).detach(), model.kinds[key]
    q = quant_levels(model.w[key] / s.unsqueeze(1), kinds)
    return {name + ".rmsmp_dequant": (s.unsqueeze(1) * q).numpy(), name + ".rmsmp_step": s.numpy(),
            name + ".rmsmp_kind": kinds.numpy().astype(np.float32)}
