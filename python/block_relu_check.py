"""Independent Block-ReLU reference in PyTorch, for checking the Rust float reference.

Exports the small DeepLab-style model of export_test_models.py, draws a random Block-ReLU spec
over all its ReLU layers (patch sizes, identity and zero channels, ragged edges), replaces each
ReLU by a PyTorch Block-ReLU built from average pooling, and writes into OUT_DIR:
    block_relu.onnx, block_relu.spec.json, block_relu.input.npy, block_relu.output.npy
Usage: python python/block_relu_check.py OUT_DIR
"""

import json
import os
import random
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_test_models import DeepLabSmall, randomize_bn  # noqa: E402


class BlockReLU(nn.Module):
    """x * [mean of its patch >= 0]; patches of ph x pw from the top-left, ragged at the edges.
    [0, 1] keeps a channel, [1, 0] zeroes it."""

    def __init__(self, patches):
        super().__init__()
        self.patches = patches

    def forward(self, x):
        out = []
        _, _, h, w = x.shape
        for c, (ph, pw) in enumerate(self.patches):
            ch = x[:, c : c + 1]
            if (ph, pw) == (0, 1):
                out.append(ch)
            elif (ph, pw) == (1, 0):
                out.append(torch.zeros_like(ch))
            else:
                mean = F.avg_pool2d(ch, (ph, pw), stride=(ph, pw), ceil_mode=True)
                keep = (mean >= 0).to(x.dtype)
                keep = keep.repeat_interleave(ph, 2).repeat_interleave(pw, 3)[:, :, :h, :w]
                out.append(ch * keep)
        return torch.cat(out, 1)


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    rng = random.Random(7)
    model = randomize_bn(DeepLabSmall()).eval()
    x = torch.randn(1, 3, 64, 64)
    path = os.path.join(out_dir, "block_relu.onnx")
    torch.onnx.export(model, x, path, input_names=["input"], output_names=["output"], opset_version=17, dynamo=False)
    relu_names = [n.name for n in onnx.load(path).graph.node if n.op_type == "Relu"]

    # Record the map shape seen by each ReLU module (forward order = ONNX node order here).
    relus = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.ReLU)]
    shapes = {}

    def recorder(name):
        def hook(_module, _inputs, output):
            shapes[name] = output.shape

        return hook

    hooks = [m.register_forward_hook(recorder(name)) for name, m in relus]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    assert len(relus) == len(relu_names), (len(relus), relu_names)

    choices = [(1, 1), (2, 2), (3, 2), (2, 5), (4, 4), (7, 3), (0, 1), (1, 0)]
    layers = []
    for (mod_name, _), onnx_name in zip(relus, relu_names):
        _, c, h, w = shapes[mod_name]
        patches = []
        for _ in range(c):
            p = rng.choice(choices)
            patches.append(p if p in [(0, 1), (1, 0)] or (p[0] <= h and p[1] <= w) else (1, 1))
        layers.append({"name": onnx_name, "patch_sizes": [list(p) for p in patches]})
        parent = model.get_submodule(mod_name.rsplit(".", 1)[0])
        setattr(parent, mod_name.rsplit(".", 1)[1], BlockReLU(patches))
    with torch.no_grad():
        y = model(x)
    with open(os.path.join(out_dir, "block_relu.spec.json"), "w") as f:
        json.dump({"layers": layers}, f)
    np.save(os.path.join(out_dir, "block_relu.input.npy"), x.numpy())
    np.save(os.path.join(out_dir, "block_relu.output.npy"), y.numpy())
    print(f"block_relu: {len(layers)} ReLU layers, output {list(y.shape)}, max |y| {y.abs().max():.4g}")


if __name__ == "__main__":
    main()
