"""Checks the Block-ReLU layer that fine-tuning trains (`finetune_brelu.BlockReLU`).

* Forward (seed paper eqs. 2-3): on random maps with ragged edges and random patch sizes,
  identity and zero channels included, it equals the independent reference of
  `block_relu_check.py` (which the Rust float reference is tested against), with and without
  `--decision-grad`.
* Backward without `--decision-grad` (the paper's fine-tuning): the gradient of sum(y) is the
  mask itself (the decision carries no gradient).
* Backward with `--decision-grad W`: the straight-through term adds, to every pixel of a patch
  whose mean m has |m| < W, m / (2W) (d/dx_i of sum_j x_j * keep(m) through the box surrogate of
  half-width W, as m = sum_j x_j / |P|); nothing elsewhere.
Exits non-zero, naming the case, on the first mismatch. Usage: python python/finetune_layer_check.py
"""

import os
import random
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from block_relu_check import BlockReLU as Reference  # noqa: E402
from finetune_brelu import BlockReLU as Trained  # noqa: E402


def patch_means(x, patches):
    """Each pixel's patch mean (0 for identity and zero channels), as a map of x's shape."""
    _, _, h, w = x.shape
    out = torch.zeros_like(x)
    for c, (ph, pw) in enumerate(patches):
        if (ph, pw) in ((0, 1), (1, 0)):
            continue
        m = F.avg_pool2d(x[:, c : c + 1], (ph, pw), stride=(ph, pw), ceil_mode=True)
        out[:, c : c + 1] = m.repeat_interleave(ph, 2).repeat_interleave(pw, 3)[:, :, :h, :w]
    return out


def fail(case, what, err):
    raise SystemExit(f"finetune_layer_check: case {case}: {what} differs by {err:.3e}")


def main():
    torch.manual_seed(0)
    rng = random.Random(11)
    width = 0.1
    for case in range(40):
        n, c = rng.randint(1, 3), rng.randint(1, 9)
        h, w = rng.randint(1, 15), rng.randint(1, 15)
        patches = []
        for _ in range(c):
            kind = rng.random()
            if kind < 0.1:
                patches.append((0, 1))
            elif kind < 0.2:
                patches.append((1, 0))
            else:
                patches.append((rng.randint(1, h), rng.randint(1, w)))
        x = (0.3 * torch.randn(n, c, h, w, dtype=torch.float64)).requires_grad_(True)
        want = Reference(patches)(x.detach())
        means = patch_means(x.detach(), patches)
        ident = torch.tensor([p == (0, 1) for p in patches])[None, :, None, None]
        zero = torch.tensor([p == (1, 0) for p in patches])[None, :, None, None]
        mask = torch.where(zero, 0.0, torch.where(ident, 1.0, (means >= 0).to(x.dtype)))
        for grad_width in (0.0, width):
            layer = Trained(patches, grad_width)
            y = layer(x)
            err = (y.detach() - want).abs().max().item()
            if err > 1e-12:
                fail(case, f"forward (decision_grad {grad_width})", err)
            (g,) = torch.autograd.grad(y.sum(), x)
            expect = mask
            if grad_width > 0:
                near = (means.abs() < grad_width) & ~ident & ~zero
                expect = mask + torch.where(near, means / (2 * grad_width), 0.0)
            err = (g - expect).abs().max().item()
            if err > 1e-9:
                fail(case, f"gradient (decision_grad {grad_width})", err)
    print("finetune_layer_check: 40 random layers, forward and gradient as expected")


if __name__ == "__main__":
    main()
