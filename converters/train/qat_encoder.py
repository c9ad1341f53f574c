#!/usr/bin/env python3
"""Quantization-aware training of a row-wise mixed (RMSMP) BERT encoder: the paper's loop, post-training start.

  rmsmp-convert --in CKPT --out ptq.rmsmp --calib calib.txt --export-plan ptq.plan   # PTQ rows: the start
  rmsmp-run tokenize --model ptq.rmsmp --input train.txt > train.ids                  # unlabelled text
  python3 converters/train/qat_encoder.py --plan ptq.plan --ids train.ids --out qat.plan --minutes 30
  rmsmp-convert --in CKPT --out qat.rmsmp --plan qat.plan                             # packed bit-exactly

What it does (../shared/RMSMP.md, section 5):
- Every row keeps the scheme and step of the plan (qat_plan.h: the format); the forward quantizes each weight
  row with its own scheme (Fixed-8, Fixed-4 or PoT-4) and each linear's input per token to int8, as the
  engine does; gradients pass the rounding straight through (STE), steps learn as in LSQ (dq/ds = q - w/s).
- Latent weights start at the plan's quantized values, so step 0 is exactly the post-training model.
- No labels: the loss distils the fp32 teacher (the plan's fp32 tensors): 1 - cosine of the pooled
  embeddings plus each layer's hidden-state MSE normalised by the teacher's variance (TinyBERT-style).
- Every --reassign-every steps (off by default: measured to hurt from a GPTQ start) the rows are reassigned
  as the paper does, with the same counts per layer (so the same bits): a Fisher estimate of the loss Hessian
  (running mean of squared gradients) weights each row's quantization error under each scheme; the rows with
  the largest 4-bit cost go to Fixed-8, and of the rest the flattest (highest normalised variance) to Fixed-4,
  the others to PoT-4. A row that changes scheme takes that scheme's MSE-optimal step.
- The output plan holds, per quantized tensor, values exactly steps[r] * q, so the converter packs the codes
  the training computed with; the trained biases replace the plan's; LayerNorms and embeddings stay frozen.
  The teacher is always the converter-exported plan's fp32 weights (--teacher when resuming from a QAT plan).
Deterministic for a given seed and thread count. Needs torch and numpy only (Debian python3-torch).
"""
import argparse, json, math, os, random, sys, time

import numpy as np
import torch

from rmsmp_quant import (FIXED4, FIXED8, POT4, PLAN_FORMAT, export_rows, fake_quant, read_safetensors, reassign,
                         round_half_away, update_fisher, write_safetensors)


def act_quant(x):
    """Dynamic per-token int8 (quant/act_quant.cc): step = max|x| / 127, round half away, STE."""
    step = x.detach().abs().amax(dim=-1, keepdim=True) / 127.0
    safe = torch.where(step > 0, step, torch.ones_like(step))
    q = torch.clamp(round_half_away(x.detach() * (1.0 / safe)), -127, 127)  # x * (1/step), as the engine
    return x + (q * safe * (step > 0) - x).detach()


# ---- the encoder ----
LINEARS = ("q", "k", "v", "attn_out", "ffn_in", "ffn_out")


class Encoder(torch.nn.Module):
    def __init__(self, cfg, t, plan_rows, quantized):
        super().__init__()
        self.cfg, self.quantized = cfg, quantized
        f = lambda a: torch.tensor(a)
        word = plan_rows["embeddings.word"][0] if "embeddings.word" in plan_rows else t["embeddings.word"]
        self.register_buffer("word", f(word))
        for n in ("embeddings.position", "embeddings.token_type", "embeddings.ln.gamma", "embeddings.ln.beta"):
            self.register_buffer(n.replace(".", "_"), f(t[n]))
        # Steps learn in log space (step0 * exp(u)): one learning rate moves a Fixed-8 and a PoT-4 step alike.
        self.w, self.b, self.log_step, self.step0, self.kinds = (torch.nn.ParameterDict(), torch.nn.ParameterDict(),
                                                                 torch.nn.ParameterDict(), {}, {})
        for l in range(cfg["num_layers"]):
            for k in LINEARS:
                n = f"encoder.{l}.{k}"
                key = n.replace(".", "_")
                if quantized:
                    wq, kinds, steps = plan_rows[n + ".weight"]
                    self.w[key] = torch.nn.Parameter(f(wq))
                    self.step0[key] = f(np.maximum(steps, 1e-8))  # an all-zero row: any step, q = 0
                    self.log_step[key] = torch.nn.Parameter(torch.zeros(len(steps)))
                    self.kinds[key] = torch.tensor(kinds.astype(np.int64))
                else:
                    self.w[key] = torch.nn.Parameter(f(t[n + ".weight"]))
                self.b[key] = torch.nn.Parameter(f(t[n + ".bias"]))
            for ln in ("ln_attn", "ln_ffn"):
                for p in ("gamma", "beta"):
                    self.register_buffer(f"encoder_{l}_{ln}_{p}", f(t[f"encoder.{l}.{ln}.{p}"]))

    def step(self, key):
        return self.step0[key] * torch.exp(self.log_step[key])

    def weight(self, key):
        if not self.quantized:
            return self.w[key]
        return fake_quant(self.w[key], self.step(key), self.kinds[key])

    def linear(self, key, x):
        if self.quantized:
            x = act_quant(x)
        return torch.nn.functional.linear(x, self.weight(key), self.b[key])

    def forward(self, ids, mask):
        cfg, eps = self.cfg, self.cfg["layer_norm_eps"]
        B, T = ids.shape
        ln = torch.nn.functional.layer_norm
        h = self.word[ids] + self.embeddings_position[:T].unsqueeze(0) + self.embeddings_token_type[0]
        h = ln(h, (h.shape[-1],), self.embeddings_ln_gamma, self.embeddings_ln_beta, eps)
        H, nh = cfg["hidden_size"], cfg["num_heads"]
        hd = H // nh
        bias = (1.0 - mask[:, None, None, :]) * -1e9
        hidden = []
        for l in range(cfg["num_layers"]):
            p = f"encoder_{l}_"
            heads = lambda y: y.view(B, T, nh, hd).transpose(1, 2)
            q, k, v = (heads(self.linear(p + n, h)) for n in ("q", "k", "v"))
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + bias, dim=-1)
            ctx = (att @ v).transpose(1, 2).reshape(B, T, H)
            h = ln(h + self.linear(p + "attn_out", ctx), (H,), getattr(self, p + "ln_attn_gamma"),
                   getattr(self, p + "ln_attn_beta"), eps)
            ff = torch.nn.functional.gelu(self.linear(p + "ffn_in", h))
            h = ln(h + self.linear(p + "ffn_out", ff), (H,), getattr(self, p + "ln_ffn_gamma"),
                   getattr(self, p + "ln_ffn_beta"), eps)
            hidden.append(h)
        m = mask.unsqueeze(-1)
        pooled = (h * m).sum(1) / m.sum(1) if cfg["pooling"] == "mean" else h[:, 0]
        if cfg["normalize"]:
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return pooled, hidden


# ---- data ----
def read_ids(path, max_len):
    seqs = []
    with open(path) as f:
        for i, line in enumerate(f):
            ids = [int(t) for t in line.split()]
            if not ids:
                sys.exit(f"{path}: line {i + 1} is empty (expected rmsmp-run tokenize output)")
            seqs.append(ids[:max_len])
    return seqs


def batch(seqs):
    T = max(len(s) for s in seqs)
    ids = torch.zeros(len(seqs), T, dtype=torch.int64)
    mask = torch.zeros(len(seqs), T)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
    return ids, mask


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plan", required=True, help="start: a plan from rmsmp-convert --export-plan (or a QAT plan)")
    ap.add_argument("--teacher", help="plan whose fp32 tensors are the teacher (default: --plan's)")
    ap.add_argument("--ids", help="unlabelled training text as token ids (rmsmp-run tokenize)")
    ap.add_argument("--embed", metavar="IDS", help="no training: print the plan's fake-quantized embeddings of these "
                    "token ids as JSON lines {index, embedding} (the engine's parity reference)")
    ap.add_argument("--val-ids", help="held-out ids for the printed cosine (default: the last 256 of --ids)")
    ap.add_argument("--out", help="output plan (rmsmp-convert --plan)")
    ap.add_argument("--steps", type=int, default=600, help="optimizer steps; the learning rate decays to 0 there")
    ap.add_argument("--minutes", type=float, default=60.0, help="wall-clock cap: stop early (default 60)")
    ap.add_argument("--warmup", type=int, default=50, help="steps of linear learning-rate warm-up")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-5, help="Adam learning rate of the latent weights and biases")
    ap.add_argument("--step-lr", type=float, default=1e-4, help="Adam learning rate of the log row steps")
    ap.add_argument("--hidden-weight", type=float, default=1.0, help="weight of the hidden-state MSE terms")
    ap.add_argument("--reassign-every", type=int, default=0,
                    help="steps between the paper's row reassignments (default 0: never; from a GPTQ start on MiniLM "
                    "the first reassignment moved 4,032 rows and cut the held-out cosine from 0.9597 to 0.9570)")
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: all cores)")
    ap.add_argument("--seed", type=int, default=20211011)
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    random.seed(a.seed)
    torch.set_num_threads(a.threads or os.cpu_count())
    t, meta = read_safetensors(a.plan)
    if meta.get("format") != PLAN_FORMAT:
        sys.exit(f"{a.plan}: not a QAT plan (format {meta.get('format')!r}, expected {PLAN_FORMAT})")
    cfg = json.loads(meta["architecture"])
    if meta.get("act") != "dynamic per-token int8":
        sys.exit(f"{a.plan}: activations are '{meta.get('act')}'; this trainer simulates dynamic per-token int8")
    rows = {}
    for name in list(t):
        if name.endswith(".rmsmp_dequant"):
            base = name[: -len(".rmsmp_dequant")]
            rows[base] = (t[name], t[base + ".rmsmp_kind"], t[base + ".rmsmp_step"])
    for base, (_, kinds, _) in rows.items():
        if not np.isin(kinds, (FIXED8, FIXED4, POT4)).all():
            sys.exit(f"{a.plan}: {base} has rows outside fixed8/fixed4/pot4")
    student = Encoder(cfg, t, rows, quantized=True)
    if a.embed:
        with torch.no_grad():
            for i, s in enumerate(read_ids(a.embed, cfg["max_seq_length"])):
                e = student(*batch([s]))[0][0]
                print(json.dumps({"index": i, "embedding": [float(v) for v in e]}))
        return
    if not a.ids or not a.out:
        sys.exit("--ids and --out are required for training (or --embed IDS alone)")
    if "qat_encoder.py" in meta.get("history", "") and not a.teacher:
        sys.exit(f"{a.plan} comes from a QAT run: pass --teacher with the converter-exported plan")
    teacher_t = read_safetensors(a.teacher)[0] if a.teacher else t
    teacher = Encoder(cfg, teacher_t, {}, quantized=False).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)

    seqs = read_ids(a.ids, min(a.max_len, cfg["max_seq_length"]))
    if a.val_ids:
        train, val = seqs, read_ids(a.val_ids, cfg["max_seq_length"])
    else:
        train, val = seqs[:-256], seqs[-256:]
    if len(train) < a.batch:
        sys.exit(f"{a.ids}: {len(train)} training sequences, fewer than one batch of {a.batch}")
    val_batches = [batch(val[i:i + 64]) for i in range(0, len(val), 64)]

    @torch.no_grad()
    def val_cosine():
        cs = []
        for ids, mask in val_batches:
            cs.append(torch.nn.functional.cosine_similarity(student(ids, mask)[0], teacher(ids, mask)[0], dim=-1))
        c = torch.cat(cs)
        return float(c.mean()), float(c.min())

    opt = torch.optim.Adam([{"params": list(student.w.values()) + list(student.b.values()), "lr": a.lr},
                            {"params": list(student.log_step.values()), "lr": a.step_lr}])
    # Linear warm-up, then linear decay to zero at --steps (Adam's first updates move every weight by ~lr).
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: min(1.0, (i + 1) / a.warmup) * max(0.0, 1.0 - i / a.steps))
    fisher = {k: torch.zeros_like(w) for k, w in student.w.items()}
    fisher_n = 0
    cm, cmin = val_cosine()
    print(f"[qat] start: val cosine mean {cm:.4f} min {cmin:.4f}; {len(train)} train / {len(val)} val sequences",
          flush=True)
    log = [{"step": 0, "cosine_mean": cm, "cosine_min": cmin}]
    # Batches of similar length (sorted, cut, shuffled per epoch): padding would triple the work on short text.
    by_len = sorted(range(len(train)), key=lambda i: (len(train[i]), i))
    chunks = [by_len[i:i + a.batch] for i in range(0, len(by_len) - a.batch + 1, a.batch)]
    t0, order, pos, step = time.time(), [], 0, 0
    while step < a.steps and time.time() - t0 < a.minutes * 60:
        if pos == len(order):
            order, pos = random.sample(chunks, len(chunks)), 0
        ids, mask = batch([train[i] for i in order[pos]])
        pos += 1
        with torch.no_grad():
            pt, ht = teacher(ids, mask)
        ps, hs = student(ids, mask)
        loss = (1 - torch.nn.functional.cosine_similarity(ps, pt, dim=-1)).mean()
        m = mask.unsqueeze(-1)
        for x, y in zip(hs, ht):
            loss = loss + a.hidden_weight * (((x - y) ** 2) * m).sum() / (m.sum() * x.shape[-1]) / y.var()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        fisher_n += 1
        update_fisher(student, fisher, fisher_n)
        opt.step()
        sched.step()
        step += 1
        if a.reassign_every and step % a.reassign_every == 0 and step < a.steps:  # never right before export
            moved = reassign(student, fisher)
            fisher = {k: torch.zeros_like(w) for k, w in student.w.items()}
            fisher_n = 0
            print(f"[qat] step {step}: reassigned {moved} rows", flush=True)
        if step % a.eval_every == 0:
            cm, cmin = val_cosine()
            log.append({"step": step, "loss": float(loss), "cosine_mean": cm, "cosine_min": cmin,
                        "seconds": time.time() - t0})
            print(f"[qat] step {step} loss {float(loss):.4f} val cosine mean {cm:.4f} min {cmin:.4f} "
                  f"({time.time() - t0:.0f} s)", flush=True)

    cm, cmin = val_cosine()
    log.append({"step": step, "cosine_mean": cm, "cosine_min": cmin, "seconds": time.time() - t0})
    print(f"[qat] done: {step} steps, val cosine mean {cm:.4f} min {cmin:.4f}", flush=True)
    with torch.no_grad():
        out = dict(t)
        for key, w in student.w.items():
            name = key.replace("_", ".", 2) + ".weight"  # encoder_3_ffn_in -> encoder.3.ffn_in.weight
            out.update(export_rows(student, key, name))
            out[name.replace(".weight", ".bias")] = student.b[key].detach().numpy()
        meta = dict(meta)
        meta["history"] = meta.get("history", "") + f"\nqat_encoder.py: {' '.join(sys.argv[1:])}; {step} steps"
        meta["qat_log"] = json.dumps(log)
        write_safetensors(a.out, out, meta)
    print(f"[qat] wrote {a.out}", flush=True)


if __name__ == "__main__":
    main()
