"""Eq. 4 of the seed paper in float64 by whole forward passes, the oracle of
`tests/distortion_f64.rs`: for each hypothesis "channel c of ReLU node i as a Block-ReLU of patch
p", D = mean over the images of ||F^{i,c,p}(X) - F(X)||^2, with F the network of a bundle that
`patchwork finetune` would write (src/cmd/finetune/bundle.rs), evaluated by the trainer's own
module (python/finetune.py's GraphNet: PyTorch's convolutions, not Patchwork's) in float64.

Usage: python distortion_oracle.py BUNDLE_DIR   (reads net.graph.json, net.w*.npy, x.npy and
hyps.json, a list of {"node", "channel", "patch"}; writes distortion.json: "d", one D per
hypothesis, and "jittered", the same on the image moved by about one f32 rounding)
"""

import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from finetune import BlockReLU, GraphNet  # noqa: E402


def main():
    bundle = sys.argv[1]
    torch.set_num_threads(1)
    net = GraphNet(bundle, "net").double().eval()
    x = torch.from_numpy(np.load(os.path.join(bundle, "x.npy")).astype(np.float64))
    with open(os.path.join(bundle, "hyps.json")) as f:
        hyps = json.load(f)
    nodes = net.graph["nodes"]
    with torch.no_grad():
        out = [distortions(net, nodes, x, hyps)]
        # The same network on the image moved by about one f32 rounding (1e-7 relative, fixed
        # seed): how much D itself moves under one rounding of its input.
        g = torch.Generator().manual_seed(0)
        jitter = torch.randn(x.shape, generator=g, dtype=x.dtype)
        out.append(distortions(net, nodes, x * (1.0 + 1e-7 * jitter), hyps))
    with open(os.path.join(bundle, "distortion.json"), "w") as f:
        json.dump({"d": out[0], "jittered": out[1]}, f)


def distortions(net, nodes, x, hyps):
    """D of every hypothesis on the images `x`."""
    out = []
    base = net(x)
    for h in hyps:
        key = str(h["node"])
        patches = list(nodes[h["node"]]["patches"])
        patches[h["channel"]] = h["patch"]
        saved = net.brelus[key]
        net.brelus[key] = BlockReLU(patches, 0.0)
        y = net(x)
        net.brelus[key] = saved
        out.append(float(((y - base) ** 2).reshape(x.shape[0], -1).sum(1).mean()))
    return out


if __name__ == "__main__":
    main()
