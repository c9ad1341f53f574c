#!/usr/bin/env python3
"""Trains the Fashion-MNIST ResNet-20 that issue 5's accuracy table quantizes (fp32 weights, BatchNorm unfolded).

  python3 converters/train/fmnist_resnet20.py --out tests/data/fmnist/resnet20_fmnist.pth

Data: Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist, MIT licence, Zalando Research).
Model: ResNet-20 as in He et al. 2016 (CIFAR variant: 3x3 stem, three stages of three BasicBlocks with 16/32/64
channels), adapted to 1x28x28 inputs, with 1x1-conv + BN shortcuts where the shape changes ("option B").
Parameter names follow torchvision's ResNet (conv1, bn1, layerS.B.conv1/bn1/conv2/bn2/downsample.0/1, fc), so
rmsmp-convert reads it with its torchvision ResNet builder (--arch resnet20).
Reproducible: fixed seed, one thread, deterministic algorithms; the printed test accuracy is the fp32 baseline.
The file is written with torch.save's default (zip) format, so it also exercises the converter's zip .pth path.
"""
import argparse, gzip, os, struct, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST training-set pixel mean/std (of x/255)


def read_idx(path):
    with gzip.open(path, 'rb') as f:
        data = f.read()
    magic, = struct.unpack('>I', data[:4])
    ndim = magic & 0xff
    dims = struct.unpack('>' + 'I' * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + idt)


class ResNet20(nn.Module):
    def __init__(self, in_ch=1, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        cin, layers = 16, []
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for b in range(3):
                blocks.append(Block(cin, cout, stride if b == 0 else 1))
                cin = cout
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', default='/usr/share/datasets/fashion-mnist')
    ap.add_argument('--out', required=True)
    ap.add_argument('--epochs', type=int, default=5)
    ap.add_argument('--seed', type=int, default=20211011)
    ap.add_argument('--threads', type=int, default=1)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)

    def load(split):
        x = read_idx(os.path.join(args.data, f'{split}-images-idx3-ubyte.gz')).astype(np.float32) / 255.0
        y = read_idx(os.path.join(args.data, f'{split}-labels-idx1-ubyte.gz')).astype(np.int64)
        return torch.from_numpy((x - MEAN) / STD).unsqueeze(1), torch.from_numpy(y)

    xtr, ytr = load('train')
    xte, yte = load('t10k')
    model = ResNet20()
    bs = 128
    steps = args.epochs * ((len(xtr) + bs - 1) // bs)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=steps, pct_start=0.15)
    g = torch.Generator().manual_seed(args.seed)
    bg = (0.0 - MEAN) / STD  # normalized value of a black (0) pixel, the padding value for random crops
    t0 = time.time()
    for ep in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=g)
        for i in range(0, len(xtr), bs):
            idx = perm[i:i + bs]
            xb = xtr[idx]
            # Augmentation: random horizontal flip and random shifts of up to 2 pixels (pad with black, crop).
            flip = torch.rand(len(idx), generator=g) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            xb = F.pad(xb, (2, 2, 2, 2), value=float(bg))
            dx, dy = torch.randint(0, 5, (2,), generator=g).tolist()
            xb = xb[:, :, dy:dy + 28, dx:dx + 28]
            loss = F.cross_entropy(model(xb), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        model.eval()
        with torch.no_grad():
            pred = torch.cat([model(xte[i:i + 1000]).argmax(1) for i in range(0, len(xte), 1000)])
        acc = (pred == yte).float().mean().item() * 100
        print(f'epoch {ep + 1}/{args.epochs}: loss {loss.item():.3f}, test top-1 {acc:.2f}% ({time.time() - t0:.0f} s)',
              flush=True)
    sd = {k: v for k, v in model.state_dict().items() if not k.endswith('num_batches_tracked')}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + '.tmp'
    torch.save(sd, tmp)
    os.replace(tmp, args.out)
    print(f'wrote {args.out}: fp32 test top-1 {acc:.2f}%')


if __name__ == '__main__':
    main()
