#!/usr/bin/env python3
"""Quantization-aware training of a row-wise mixed (RMSMP) CNN: the paper's loop, post-training start.

  rmsmp-convert --in CKPT.pth --out ptq.rmsmp --calib-images CALIB --export-plan ptq.plan   # PTQ: the start
  python3 converters/train/qat_cnn.py --plan ptq.plan --images CALIB --out qat.plan --minutes 20
  rmsmp-convert --in CKPT.pth --out qat.rmsmp --plan qat.plan                              # packed bit-exactly

What it does (../shared/RMSMP.md, section 5), on any graph rmsmp-convert writes (models/cnn.h: conv with groups,
padding, residual and ReLU/ReLU6, max/avg pools, global average pool; ResNets, EfficientNet-Lite):
- Every conv row keeps its plan's scheme and step (converters/vision_plan.h: the format); the forward quantizes
  each row with its own scheme and each conv's input with the plan's quantizer (a static clip, or each image's
  max |x|; the unsigned grid after ReLU), exactly as the engine does. Gradients pass the rounding straight
  through (zero beyond the clip), row steps learn in log space (LSQ), biases learn; activation clips stay.
- Latent weights start at the plan's quantized values, so step 0 is exactly the post-training model.
- No labels: the loss distils the fp32 teacher (the plan's NAME.weight / NAME.bias, BatchNorm folded):
  KL(teacher || student) of the softmax at --temperature, plus --feature-weight times each conv output's MSE
  to the teacher's, normalised by the teacher's variance (dense supervision: every pixel of every layer, which
  is what lets a few dozen photos train 4.6 M weights without fitting their logits alone). Training photos get random resized crops and flips
  (torchvision's RandomResizedCrop idea, PIL bilinear), with --mixup a random blend of two crops that teacher
  and student both see ("function matching", Beyer et al. 2022); grayscale IDX images random flips.
- --reassign-every N: the paper's periodic reassignment (rmsmp_quant.reassign: Fisher-weighted 4-bit error,
  same counts per layer, so the same bits). Off by default, as for the encoder.
- The output plan holds per conv values exactly steps[r] * q, the trained bias as NAME.bias.rmsmp_quant, and
  the teacher unchanged, so `rmsmp-convert --plan` packs what the training computed with.
--logits SRC writes the fake-quantized forward's logits (raw float32, images x classes) for the parity test
(tests/converters/qat_cnn_parity.sh), no training. Deterministic for a given seed and thread count.
"""
import argparse, gzip, json, math, os, random, struct, sys, time

import numpy as np
import torch
import torch.nn.functional as F

from rmsmp_quant import FIXED4, FIXED8, POT4, PLAN_FORMAT, export_rows, fake_quant, read_safetensors, reassign, \
    round_half_away, update_fisher, write_safetensors


# ---- the graph ----
class Cnn(torch.nn.Module):
    """The plan's graph, NCHW. quantized: the student (plan rows, quantized biases and activation quantizers);
    else the fp32 teacher."""

    def __init__(self, arch, t, quantized):
        super().__init__()
        self.arch, self.quantized = arch, quantized
        self.w, self.b, self.log_step = torch.nn.ParameterDict(), torch.nn.ParameterDict(), torch.nn.ParameterDict()
        self.step0, self.kinds, self.act, self.shape = {}, {}, {}, {}
        for n in arch["nodes"]:
            if n["op"] != "conv":
                continue
            name = n["layer"]
            key = name.replace(".", "_")
            if quantized:
                w, kinds, steps = (t[name + ".weight" + s] for s in (".rmsmp_dequant", ".rmsmp_kind", ".rmsmp_step"))
                if not np.isin(kinds, (FIXED8, FIXED4, POT4)).all():
                    sys.exit(f"{name}: rows outside fixed8/fixed4/pot4 (this trainer quantizes every conv row)")
                self.w[key] = torch.nn.Parameter(torch.tensor(w))
                self.step0[key] = torch.tensor(np.maximum(steps, 1e-8))  # an all-zero row: any step, q = 0
                self.log_step[key] = torch.nn.Parameter(torch.zeros(len(steps)))
                self.kinds[key] = torch.tensor(kinds.astype(np.int64))
                self.b[key] = torch.nn.Parameter(torch.tensor(t[name + ".bias.rmsmp_quant"]))
                bits, clip, nonneg = (float(v) for v in t[name + ".rmsmp_act"])
                max_q = (127 if bits >= 8 else 2 ** int(bits) - 1) if nonneg else 2 ** (int(bits) - 1) - 1
                self.act[key] = (max_q, clip)
            else:
                self.w[key] = torch.nn.Parameter(torch.tensor(t[name + ".weight"]), requires_grad=False)
                self.b[key] = torch.nn.Parameter(torch.tensor(t[name + ".bias"]), requires_grad=False)
            kh, kw = n["kernel"]
            cols = self.w[key].shape[1]
            self.shape[key] = (kh, kw, cols // (kh * kw))

    def step(self, key):
        return self.step0[key] * torch.exp(self.log_step[key])

    def weight(self, key):
        w = fake_quant(self.w[key], self.step(key), self.kinds[key]) if self.quantized else self.w[key]
        kh, kw, cin_g = self.shape[key]
        return w.view(w.shape[0], kh, kw, cin_g).permute(0, 3, 1, 2)  # rows are (ky, kx, ci): NHWC patches

    def act_quant(self, key, x):
        """quant/act_quant.cc: step = clip / max_q (or each image's max|x| / max_q), q = round(x * (1/step))
        half away from zero, saturated; straight-through inside the clip, zero gradient beyond it."""
        max_q, clip = self.act[key]
        if clip > 0:
            step = torch.tensor(clip, dtype=torch.float32) / max_q
        else:
            step = x.detach().abs().amax(dim=(1, 2, 3), keepdim=True) / max_q
            step = torch.where(step > 0, step, torch.ones_like(step))
        v = x * (1.0 / step)
        q = torch.clamp(round_half_away(v.detach()), -max_q, max_q)
        inside = (v.detach().abs() <= max_q + 0.5).to(x.dtype)
        return x * inside + (q * step - x * inside).detach()

    def forward(self, x, features=None):
        """Logits; with a list `features`, every conv's output is appended to it (the feature loss)."""
        vals = {0: x}
        for n in self.arch["nodes"]:
            y, op = vals[n["in"]], n["op"]
            if op == "conv":
                key = n["layer"].replace(".", "_")
                if self.quantized:
                    y = self.act_quant(key, y)
                pt, pl, pb, pr = n["pad"]
                y = F.conv2d(F.pad(y, (pl, pr, pt, pb)), self.weight(key), self.b[key], stride=n["stride"],
                             groups=n["groups"])
                if n["residual"] >= 0:
                    y = y + vals[n["residual"]]
                if n["act"] == "relu":
                    y = F.relu(y)
                elif n["act"] == "relu6":
                    y = torch.clamp(y, 0.0, 6.0)
                if features is not None:
                    features.append(y)
            elif op in ("maxpool", "avgpool"):
                pt, pl, pb, pr = n["pad"]
                if op == "maxpool":
                    y = F.max_pool2d(F.pad(y, (pl, pr, pt, pb), value=-math.inf), n["kernel"], n["stride"])
                else:  # divides by the whole window, padding included (models/cnn.h)
                    y = F.avg_pool2d(F.pad(y, (pl, pr, pt, pb)), n["kernel"], n["stride"])
            elif op == "global_avgpool":
                y = y.mean(dim=(2, 3), keepdim=True)
            else:
                sys.exit(f"unknown op {op!r} in the plan's graph")
            vals[n["out"]] = y
        return vals[self.arch["output"]].flatten(1)


# ---- images ----
def read_idx(path):
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        magic, n, h, w = struct.unpack(">IIII", f.read(16))
        if magic != 0x803:
            sys.exit(f"{path}: not an IDX3 uint8 image file")
        return np.frombuffer(f.read(n * h * w), dtype=np.uint8).reshape(n, h, w)


class Images:
    """A folder of photos (.jpg/.png, recursive, sorted: the converter's order) or an IDX image file, with the
    model's eval transform (vision_io/preprocess.h: PIL bilinear resize of the shorter side, center crop,
    (p / 255 - mean) / std) and, for training, random resized crops and flips."""

    def __init__(self, src, inp, limit=None):
        self.inp = inp
        self.mean = torch.tensor(inp["mean"]).view(-1, 1, 1)
        self.std = torch.tensor(inp["std"]).view(-1, 1, 1)
        if os.path.isdir(src):
            from PIL import Image  # Debian python3-pil (scripts/setup.sh)
            files = sorted(os.path.join(d, f) for d, _, fs in os.walk(src) for f in fs
                           if f.lower().endswith((".jpg", ".jpeg", ".png")))
            if not files:
                sys.exit(f"{src}: no .jpg/.png images")
            self.photos = [Image.open(f).convert("RGB") for f in files[:limit]]
            self.gray = None
        else:
            self.gray = read_idx(src)[:limit]
            self.photos = None

    def __len__(self):
        return len(self.photos) if self.photos is not None else len(self.gray)

    def _tensor(self, img):
        a = torch.tensor(np.asarray(img, dtype=np.float32) / 255.0)
        a = a.permute(2, 0, 1) if a.dim() == 3 else a.unsqueeze(0)
        return (a - self.mean) / self.std

    def eval_item(self, i):
        if self.gray is not None:
            return self._tensor(self.gray[i])
        from PIL import Image
        im, inp = self.photos[i], self.inp
        if inp["resize"]:
            w, h = im.size
            s = inp["resize"]
            size = (s, int(s * h / w)) if w <= h else (int(s * w / h), s)
            im = im.resize(size, Image.BILINEAR)
        if inp["crop"]:
            w, h, c = im.size[0], im.size[1], inp["crop"]
            left, top = int(round((w - c) / 2.0)), int(round((h - c) / 2.0))
            im = im.crop((left, top, left + c, top + c))
        return self._tensor(im)

    def train_item(self, i, rng):
        if self.gray is not None:
            x = self._tensor(self.gray[i])
            return torch.flip(x, dims=(2,)) if rng.random() < 0.5 else x
        from PIL import Image
        im, size = self.photos[i], (self.inp["width"], self.inp["height"])
        w, h = im.size
        for _ in range(10):  # RandomResizedCrop(scale=(0.25, 1), ratio=(3/4, 4/3))
            area = w * h * rng.uniform(0.25, 1.0)
            ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
            cw, ch = int(round(math.sqrt(area * ratio))), int(round(math.sqrt(area / ratio)))
            if 0 < cw <= w and 0 < ch <= h:
                left, top = rng.randint(0, w - cw), rng.randint(0, h - ch)
                break
        else:
            cw = ch = min(w, h)
            left, top = (w - cw) // 2, (h - ch) // 2
        im = im.crop((left, top, left + cw, top + ch)).resize(size, Image.BILINEAR)
        if rng.random() < 0.5:
            im = im.transpose(Image.FLIP_LEFT_RIGHT)
        return self._tensor(im)


def kl(teacher_logits, student_logits, temperature=1.0):
    """Mean KL(p_teacher || p_student) in nats over the batch."""
    pt = F.log_softmax(teacher_logits / temperature, dim=-1)
    ps = F.log_softmax(student_logits / temperature, dim=-1)
    return (pt.exp() * (pt - ps)).sum(-1).mean()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plan", required=True, help="start: a plan from rmsmp-convert --export-plan (or a QAT plan)")
    ap.add_argument("--images", help="unlabelled training images: a folder (.jpg/.png) or an IDX file (.gz ok)")
    ap.add_argument("--limit", type=int, help="use the first N images of --images (or of --logits)")
    ap.add_argument("--val", type=int, default=0, help="hold out the last N training images for the printed "
                    "agreement with the teacher (default 0: print it on the training images, eval transform)")
    ap.add_argument("--out", help="output plan (rmsmp-convert --plan)")
    ap.add_argument("--logits", metavar="SRC", help="no training: write the plan's fake-quantized logits of these "
                    "images (eval transform) to --logits-out as raw float32, images x classes")
    ap.add_argument("--logits-out", help="file for --logits")
    ap.add_argument("--steps", type=int, default=400, help="optimizer steps; the learning rate decays to 0 there")
    ap.add_argument("--minutes", type=float, default=60.0, help="wall-clock cap: stop early (default 60)")
    ap.add_argument("--warmup", type=int, default=20, help="steps of linear learning-rate warm-up")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate of the latent weights and biases")
    ap.add_argument("--freeze-weights", action="store_true", help="keep the latent weights at their "
                    "post-training values (codes change only where a step moves); "
                    "train only the row steps and the biases (about 2 parameters per row: little to overfit)")
    ap.add_argument("--step-lr", type=float, default=1e-4, help="Adam learning rate of the log row steps (1e-3 "
                    "drifted: held-out KL rose on Fashion-MNIST and EfficientNet-Lite0)")
    ap.add_argument("--temperature", type=float, default=1.0, help="softmax temperature of the distillation KL")
    ap.add_argument("--feature-weight", type=float, default=1.0, help="weight of the per-conv feature MSE terms "
                    "(mean over convs; 0: logits only)")
    ap.add_argument("--mixup", type=float, default=0.0, help="Beta(a, a) blend of two training inputs (default 0: "
                    "off)")
    ap.add_argument("--reassign-every", type=int, default=0, help="steps between the paper's row reassignments "
                    "(default 0: never)")
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: all cores)")
    ap.add_argument("--seed", type=int, default=20211011)
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    torch.set_num_threads(a.threads or os.cpu_count())
    t, meta = read_safetensors(a.plan)
    if meta.get("format") != PLAN_FORMAT:
        sys.exit(f"{a.plan}: not a QAT plan (format {meta.get('format')!r}, expected {PLAN_FORMAT})")
    arch = json.loads(meta["architecture"])
    if arch.get("type") != "cnn":
        sys.exit(f"{a.plan}: not a CNN plan (architecture type {arch.get('type')!r}); text models: qat_encoder.py")
    student = Cnn(arch, t, quantized=True)

    if a.logits:
        if not a.logits_out:
            sys.exit("--logits needs --logits-out FILE")
        imgs = Images(a.logits, arch["input"], a.limit)
        with torch.no_grad():
            out = torch.cat([student(torch.stack([imgs.eval_item(j) for j in range(i, min(i + 64, len(imgs)))]))
                             for i in range(0, len(imgs), 64)])
        out.numpy().astype("<f4").tofile(a.logits_out)
        return
    if not a.images or not a.out:
        sys.exit("--images and --out are required for training (or --logits SRC --logits-out F alone)")
    teacher = Cnn(arch, t, quantized=False).eval()
    imgs = Images(a.images, arch["input"], a.limit)
    mixup = a.mixup
    n_train = len(imgs) - a.val
    if n_train < 1:
        sys.exit(f"{a.images}: {len(imgs)} images, none left for training after --val {a.val}")
    val_idx = list(range(n_train, len(imgs))) if a.val else list(range(len(imgs)))
    val_x = torch.stack([imgs.eval_item(i) for i in val_idx])
    with torch.no_grad():
        val_t = torch.cat([teacher(val_x[i:i + 32]) for i in range(0, len(val_x), 32)])

    @torch.no_grad()
    def agreement():
        s = torch.cat([student(val_x[i:i + 32]) for i in range(0, len(val_x), 32)])
        return float((s.argmax(-1) == val_t.argmax(-1)).float().mean() * 100), float(kl(val_t, s))

    if a.freeze_weights:
        for w in student.w.values():
            w.requires_grad_(False)
    opt = torch.optim.Adam([{"params": [p for p in list(student.w.values()) + list(student.b.values())
                                        if p.requires_grad], "lr": a.lr},
                            {"params": list(student.log_step.values()), "lr": a.step_lr}])
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: min(1.0, (i + 1) / a.warmup) * max(0.0, 1.0 - i / a.steps))
    fisher = {k: torch.zeros_like(w) for k, w in student.w.items()}
    fisher_n = 0
    agree, k = agreement()
    which = "held-out" if a.val else "training"
    print(f"[qat] start: top-1 agreement {agree:.1f}% KL {k:.4f} on {len(val_idx)} {which} images; "
          f"{n_train} training images", flush=True)
    log = [{"step": 0, "top1_agreement": agree, "kl": k}]
    t0, step = time.time(), 0
    while step < a.steps and time.time() - t0 < a.minutes * 60:
        x = torch.stack([imgs.train_item(rng.randrange(n_train), rng) for _ in range(a.batch)])
        if mixup > 0:
            lam = torch.distributions.Beta(mixup, mixup).sample((a.batch, 1, 1, 1))
            x = lam * x + (1 - lam) * x[torch.randperm(a.batch)]
        ft, fs = ([], []) if a.feature_weight > 0 else (None, None)
        with torch.no_grad():
            lt = teacher(x, ft)
        loss = kl(lt, student(x, fs), a.temperature)
        if fs:
            loss = loss + a.feature_weight * sum(((u - v) ** 2).mean() / v.var().clamp(min=1e-12)
                                                 for u, v in zip(fs, ft)) / len(fs)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        fisher_n += 1
        update_fisher(student, fisher, fisher_n)
        opt.step()
        sched.step()
        step += 1
        if a.reassign_every and step % a.reassign_every == 0 and step < a.steps:
            moved = reassign(student, fisher)
            fisher, fisher_n = {key: torch.zeros_like(w) for key, w in student.w.items()}, 0
            print(f"[qat] step {step}: reassigned {moved} rows", flush=True)
        if step % a.eval_every == 0:
            agree, k = agreement()
            log.append({"step": step, "loss": float(loss), "top1_agreement": agree, "kl": k,
                        "seconds": time.time() - t0})
            print(f"[qat] step {step} loss {float(loss):.4f} agreement {agree:.1f}% KL {k:.4f} "
                  f"({time.time() - t0:.0f} s)", flush=True)

    agree, k = agreement()
    log.append({"step": step, "top1_agreement": agree, "kl": k, "seconds": time.time() - t0})
    print(f"[qat] done: {step} steps, agreement {agree:.1f}% KL {k:.4f}", flush=True)
    with torch.no_grad():
        out = dict(t)
        for n in arch["nodes"]:
            if n["op"] != "conv":
                continue
            name, key = n["layer"], n["layer"].replace(".", "_")
            out.update(export_rows(student, key, name + ".weight"))
            out[name + ".bias.rmsmp_quant"] = student.b[key].detach().numpy()
        meta = dict(meta)
        meta["history"] = meta.get("history", "") + f"\nqat_cnn.py: {' '.join(sys.argv[1:])}; {step} steps"
        meta["qat_log"] = json.dumps(log)
        write_safetensors(a.out, out, meta)
    print(f"[qat] wrote {a.out}", flush=True)


if __name__ == "__main__":
    main()
