"""Train the small Fashion-MNIST ResNet that Patchwork runs under secure inference.

The network is deliberately tiny (a few tens of thousands of parameters, 7 ReLU layers with
16-32 channels, no MaxPool) so that it fits secure inference and a microcontroller later.
BatchNorm layers are kept in the export; Patchwork folds them into the preceding Conv.

Input convention: one grayscale image, shape [1, 1, 28, 28], pixel values divided by 255
(range [0, 1]); no mean/std normalisation (the first BatchNorm absorbs it).

Usage (CPU, fixed seed):
    python python/train_fashion.py --out models/fashion_resnet.onnx --epochs 10 --threads 1 [--width 2] [--depth 2]
Reads the IDX files from /usr/share/datasets/fashion-mnist/ (Debian package
dataset-fashion-mnist). Writes the ONNX model and prints a log (redirect it to
models/fashion_resnet.log).
"""

import argparse
import gzip
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    """Reads a gzipped big-endian IDX file into a numpy uint8 array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(prefix):
    images = read_idx(os.path.join(DATA_DIR, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(DATA_DIR, f"{prefix}-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


class Block(nn.Module):
    """Basic residual block: conv-bn-relu-conv-bn (+ shortcut) -> relu."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            # Average-pool the shortcut (no MaxPool anywhere), then a 1x1 conv.
            self.short = nn.Sequential(
                nn.AvgPool2d(stride, stride) if stride != 1 else nn.Identity(),
                nn.Conv2d(cin, cout, 1, 1, 0, bias=False),
                nn.BatchNorm2d(cout),
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = x if self.short is None else self.short(x)
        return F.relu(out + sc)


def stage(cin, cout, stride, depth):
    """`depth` basic blocks; the first changes the channels and the resolution."""
    return nn.Sequential(Block(cin, cout, stride), *[Block(cout, cout, 1) for _ in range(depth - 1)])


class FashionResNet(nn.Module):
    """Stem 16 @28x28, stages of `depth` blocks 16 @28, 32 @14, 32 @7, global average pool,
    linear 10; every channel count times `width` (width 1, depth 1: the bundled model)."""

    def __init__(self, width=1, depth=1):
        super().__init__()
        c1, c2 = 16 * width, 32 * width
        self.stem = nn.Sequential(nn.Conv2d(1, c1, 3, 1, 1, bias=False), nn.BatchNorm2d(c1), nn.ReLU())
        self.layer1 = stage(c1, c1, 1, depth)
        self.layer2 = stage(c1, c2, 2, depth)
        self.layer3 = stage(c2, c2, 2, depth)
        self.fc = nn.Linear(c2, 10)

    def forward(self, x):
        x = self.stem(x)
        x = self.layer3(self.layer2(self.layer1(x)))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def augment(x):
    """Random horizontal flip and random shift by up to 2 pixels (zero padding)."""
    n = x.shape[0]
    flip = torch.rand(n) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    padded = F.pad(x, (2, 2, 2, 2))
    dy, dx = np.random.randint(0, 5, size=2)
    return padded[:, :, dy : dy + 28, dx : dx + 28]


def evaluate(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], 1000):
            correct += (model(x[i : i + 1000]).argmax(1) == y[i : i + 1000]).sum().item()
    return correct / x.shape[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="models/fashion_resnet.onnx")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--width", type=int, default=1, help="channel multiplier (1: the bundled model)")
    ap.add_argument("--depth", type=int, default=1, help="blocks per stage (1: the bundled model)")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, seed {args.seed}, threads {args.threads}", flush=True)

    xtr, ytr = load_split("train")
    xte, yte = load_split("t10k")
    model = FashionResNet(args.width, args.depth)
    nparams = sum(p.numel() for p in model.parameters())
    print(f"parameters: {nparams}", flush=True)

    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    steps = args.epochs * ((xtr.shape[0] + args.batch - 1) // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=steps, pct_start=0.2)
    start = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(xtr.shape[0])
        total_loss = 0.0
        for i in range(0, xtr.shape[0], args.batch):
            idx = perm[i : i + args.batch]
            xb, yb = augment(xtr[idx]), ytr[idx]
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * idx.shape[0]
        acc = evaluate(model, xte, yte)
        print(
            f"epoch {epoch + 1}/{args.epochs} loss {total_loss / xtr.shape[0]:.4f} "
            f"test_acc {acc:.4f} elapsed {time.time() - start:.0f}s",
            flush=True,
        )

    model.eval()
    acc = evaluate(model, xte, yte)
    print(f"final test accuracy (float, PyTorch): {acc:.4f}", flush=True)
    dummy = torch.zeros(1, 1, 28, 28)
    kwargs = dict(input_names=["input"], output_names=["logits"], opset_version=13)
    try:
        torch.onnx.export(model, dummy, args.out, dynamo=False, **kwargs)
    except TypeError:
        torch.onnx.export(model, dummy, args.out, **kwargs)
    print(f"wrote {args.out}", flush=True)
    if acc < 0.92:
        print("WARNING: accuracy below the 0.92 target", flush=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
