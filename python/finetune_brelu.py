"""Fine-tune the Fashion-MNIST ResNet with Block-ReLUs (seed paper, "Securing Neural Networks
with Knapsack Optimization": step (3), "replacing ReLUs with Block-ReLUs ... and fine-tune the
network"): the script the bundled models' recipes in models/README.md were made with. For any
other model, use `patchwork finetune` (python/finetune.py, whose Block-ReLU layer, distillation
loss and schedule this script shares).

* Architecture: imported from python/train_fashion.py (FashionResNet), not repeated here.
* Weights: read from the trained ONNX file (no retraining). The TorchScript exporter folded every
  BatchNorm into its conv, so each conv gets the folded weight and its BatchNorm becomes the
  identity (mean 0, var 1 - eps, gamma 1) with beta = the folded bias. BatchNorms stay in eval
  mode during fine-tuning (their statistics are frozen; gamma and beta still train), unless
  `--train-bn`: then each BatchNorm first gets its conv's output statistics measured on training
  images with the Block-ReLUs in place (`calibrate_batchnorms`, which keeps the network's function)
  and trains in train mode, normalising by batch statistics as the seed's fine-tuning does; the
  export folds the new statistics back into the convs.
* ReLUs are matched to ONNX node names by evaluation order: torch.fx traces the model, and its
  ReLU calls come in the same order as the ONNX Relu nodes (checked: same count).
* Block-ReLU (seed paper eqs. 2-3): per channel, each ph x pw patch (from the top-left, ragged
  at the edges) keeps its values when its sum is >= 0, else becomes 0; [0, 1] identity, [1, 0]
  zero. Training uses y = x * mask with the mask computed without gradient, so the gradient
  flows through the kept activations as in the paper. `--decision-grad W` (not in the paper)
  adds a straight-through gradient for each decision: the step at 0 of the patch mean is
  differentiated as a box of half-width W, so a patch near the threshold learns which side to
  take; the forward pass is unchanged.
* Knowledge distillation (optional, `--kd-alpha A --kd-temp T`): the model `--teacher` (default
  `--model`) with plain ReLUs is the teacher, so `--model` can be an already fine-tuned
  Block-ReLU export whose fine-tuning continues; the loss is (1 - A) * cross-entropy + A * T^2 * KL(teacher's
  softened distribution || student's), both softened at temperature T.
* Schedule: SGD with Nesterov momentum; linear warm-up over `--warmup` epochs (0: none), then
  cosine decay to 0 over the remaining steps.
* Export: the Block-ReLUs are exported as plain Relu nodes (the spec carries the patch sizes)
  and renamed to the original ONNX names, so `patchwork spec stats --model NEW --spec S` and
  `patchwork eval --model NEW --spec S` accept the spec.

Usage (CPU, 1 thread):
    nice -n 10 python python/finetune_brelu.py --model models/fashion_resnet.onnx \
        --spec S.json --out NEW.onnx --epochs 2 [--lr 0.005] [--clip 2] [--seed 0] \
        [--kd-alpha 0.9 --kd-temp 4 [--teacher PLAIN.onnx]] [--warmup 1] [--train-bn 10000]
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.fx
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import finetune  # noqa: E402
import train_fashion as tf  # noqa: E402
from finetune import distillation_loss, warmup_cosine  # noqa: E402


class BlockReLU(finetune.BlockReLU):
    """`finetune.BlockReLU` (the trainer of `patchwork finetune`) on the seed's patch encoding,
    `[0, 1]` identity and `[1, 0]` zero; `plain` makes it a ReLU for export (the spec carries
    the patch sizes)."""

    def __init__(self, patches, decision_grad=0.0):
        names = {(0, 1): "identity", (1, 0): "zero"}
        super().__init__([names.get(tuple(p), p) for p in patches], decision_grad)
        self.patches = [tuple(p) for p in patches]
        self.plain = False

    def forward(self, x):
        return torch.relu(x) if self.plain else super().forward(x)


def load_onnx_model(path):
    """A FashionResNet holding the BN-folded ONNX weights of `path` (convs in order, BNs made
    identities), at the width of its first conv (filters / 16) and the depth its conv count
    gives (1 stem conv, 2 per block, 2 shortcut convs: 6 * depth + 3), and the ONNX Relu node
    names."""
    g = onnx.load(path).graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    onnx_convs = [n for n in g.node if n.op_type == "Conv"]
    filters = inits[onnx_convs[0].input[1]].shape[0] if onnx_convs else 0
    if filters == 0 or filters % 16:
        raise SystemExit(f"{path}: first conv has {filters} filters, not a multiple of 16")
    if len(onnx_convs) < 9 or (len(onnx_convs) - 3) % 6:
        raise SystemExit(f"{path}: {len(onnx_convs)} Conv nodes, expected 6 * depth + 3")
    model = tf.FashionResNet(filters // 16, (len(onnx_convs) - 3) // 6)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    if not (len(onnx_convs) == len(convs) == len(bns)):
        raise SystemExit(f"{path}: {len(onnx_convs)} Conv nodes, model has {len(convs)} convs")
    for node, conv, bn in zip(onnx_convs, convs, bns):
        w = torch.from_numpy(inits[node.input[1]].copy())
        b = torch.from_numpy(inits[node.input[2]].copy()) if len(node.input) > 2 else torch.zeros(w.shape[0])
        if tuple(w.shape) != tuple(conv.weight.shape):
            raise SystemExit(f"{node.name}: weight {tuple(w.shape)} vs module {tuple(conv.weight.shape)}")
        with torch.no_grad():
            conv.weight.copy_(w)
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
            bn.weight.fill_(1.0)
            bn.bias.copy_(b)
    with torch.no_grad():
        model.fc.weight.copy_(torch.from_numpy(inits["fc.weight"].copy()))
        model.fc.bias.copy_(torch.from_numpy(inits["fc.bias"].copy()))
    return model, [n.name for n in g.node if n.op_type == "Relu"]


def with_block_relus(model, relu_names, spec, decision_grad=0.0):
    """fx-traces `model` and replaces the ReLUs the spec names by BlockReLU modules."""
    gm = torch.fx.symbolic_trace(model)
    relus = []
    for node in gm.graph.nodes:
        is_fn = node.op == "call_function" and node.target in (F.relu, torch.relu)
        is_mod = node.op == "call_module" and isinstance(gm.get_submodule(node.target), nn.ReLU)
        if is_fn or is_mod:
            relus.append(node)
    if len(relus) != len(relu_names):
        raise SystemExit(f"traced {len(relus)} ReLUs, ONNX has {len(relu_names)}")
    layers = {l["name"]: l["patch_sizes"] for l in spec["layers"]}
    unknown = set(layers) - set(relu_names)
    if unknown:
        raise SystemExit(f"spec names unknown ReLU layers: {sorted(unknown)}")
    brelus = []
    for k, (node, name) in enumerate(zip(relus, relu_names)):
        if name not in layers:
            continue
        mod_name = f"brelu_{k}"
        module = BlockReLU(layers[name], decision_grad)
        gm.add_module(mod_name, module)
        brelus.append(module)
        with gm.graph.inserting_after(node):
            new = gm.graph.call_module(mod_name, args=(node.args[0],))
        node.replace_all_uses_with(new)
        gm.graph.erase_node(node)
    gm.recompile()
    return gm, brelus


def calibrate_batchnorms(gm, x, batch=1000):
    """Gives every identity BatchNorm its conv's output statistics without changing the network.

    With the conv output's per-channel mean m and variance v (measured on `x` through `gm` in eval
    mode, Block-ReLUs included), running mean m, running variance v, gamma sqrt(v + eps) and beta
    (the folded bias) + m map y to y + bias as before, but in train mode the BatchNorm now
    normalises by the batch's own statistics.
    """
    pairs = list(zip(
        [m for m in gm.modules() if isinstance(m, nn.Conv2d)],
        [m for m in gm.modules() if isinstance(m, nn.BatchNorm2d)],
    ))
    sums = {}

    def hook(conv):
        def record(_module, _inputs, out):
            s1, s2, n = sums.get(conv, (0.0, 0.0, 0))
            sums[conv] = (s1 + out.sum((0, 2, 3)), s2 + (out * out).sum((0, 2, 3)), n + out.numel() // out.shape[1])

        return record

    handles = [conv.register_forward_hook(hook(conv)) for conv, _ in pairs]
    gm.eval()
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            gm(x[i : i + batch])
    for h in handles:
        h.remove()
    with torch.no_grad():
        for conv, bn in pairs:
            s1, s2, n = sums[conv]
            mean = s1 / n
            var = (s2 / n - mean * mean).clamp_min(0.0)
            bn.running_mean.copy_(mean)
            bn.running_var.copy_(var)
            bn.weight.copy_(torch.sqrt(var + bn.eps))
            bn.bias.add_(mean)


def train_mode(gm, train_bn):
    gm.train()
    if train_bn:
        return
    for m in gm.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()  # frozen statistics: the loaded BNs are identities


def export(gm, brelus, relu_names, out):
    for b in brelus:
        b.plain = True
    gm.eval()
    dummy = torch.zeros(1, 1, 28, 28)
    kwargs = dict(input_names=["input"], output_names=["logits"], opset_version=13)
    try:
        torch.onnx.export(gm, dummy, out, dynamo=False, **kwargs)
    except TypeError:
        torch.onnx.export(gm, dummy, out, **kwargs)
    m = onnx.load(out)
    relus = [n for n in m.graph.node if n.op_type == "Relu"]
    if len(relus) != len(relu_names):
        raise SystemExit(f"exported {len(relus)} Relu nodes, expected {len(relu_names)}")
    renamed = [(n.name, name) for n, name in zip(relus, relu_names) if n.name != name]
    for n, name in zip(relus, relu_names):
        n.name = name
    onnx.save(m, out)
    for b in brelus:
        b.plain = False
    return renamed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/fashion_resnet.onnx")
    ap.add_argument("--spec", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.005)
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--clip", type=float, default=2.0, help="gradient norm clip (0: off)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--kd-alpha", type=float, default=0.0, help="weight of the distillation term (0: off)")
    ap.add_argument("--kd-temp", type=float, default=4.0, help="distillation temperature")
    ap.add_argument("--teacher", help="plain-ReLU ONNX model to distil from (default: --model)")
    ap.add_argument("--warmup", type=float, default=0.0, help="linear warm-up, in epochs")
    ap.add_argument(
        "--train-bn",
        type=int,
        default=0,
        metavar="N",
        help="train the BatchNorms in train mode, statistics first measured on N training images (0: frozen)",
    )
    ap.add_argument(
        "--decision-grad",
        type=float,
        default=0.0,
        metavar="W",
        help="straight-through gradient for the patch decisions, box of half-width W around 0 "
        "(0: none, the paper's fine-tuning)",
    )
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, seed {args.seed}, threads {args.threads}", flush=True)
    print(
        f"model {args.model}, spec {args.spec}, epochs {args.epochs}, lr {args.lr}, "
        f"weight_decay {args.weight_decay}, clip {args.clip}, "
        f"kd_alpha {args.kd_alpha}, kd_temp {args.kd_temp}, teacher {args.teacher or args.model}, "
        f"warmup {args.warmup}, train_bn {args.train_bn}, decision_grad {args.decision_grad}",
        flush=True,
    )

    model, relu_names = load_onnx_model(args.model)
    with open(args.spec) as f:
        spec = json.load(f)
    xtr, ytr = tf.load_split("train")
    xte, yte = tf.load_split("t10k")
    model.eval()
    print(f"loaded weights, plain ReLU test accuracy (PyTorch): {tf.evaluate(model, xte, yte):.4f}", flush=True)
    teacher = None
    if args.kd_alpha > 0:
        teacher, _ = load_onnx_model(args.teacher or args.model)
        teacher.eval()
        print(f"teacher test accuracy (PyTorch): {tf.evaluate(teacher, xte, yte):.4f}", flush=True)
    gm, brelus = with_block_relus(model, relu_names, spec, args.decision_grad)
    before = tf.evaluate(gm, xte, yte)
    print(f"Block-ReLU test accuracy before fine-tuning (PyTorch): {before:.4f}", flush=True)
    if args.train_bn:
        with torch.no_grad():
            logits = gm(xte[:1000])
        calibrate_batchnorms(gm, xtr[: args.train_bn])
        with torch.no_grad():
            moved = (gm(xte[:1000]) - logits).abs().max().item()
        # The calibration must not change the function (only how train mode normalises).
        if moved > 1e-3 * max(1.0, logits.abs().max().item()):
            raise SystemExit(f"--train-bn: calibrating the BatchNorms moved the logits by {moved}")
        print(f"BatchNorm statistics measured on {args.train_bn} training images (logits moved {moved:.1e})", flush=True)

    opt = torch.optim.SGD(gm.parameters(), lr=args.lr, momentum=0.9, weight_decay=args.weight_decay, nesterov=True)
    steps_per_epoch = (xtr.shape[0] + args.batch - 1) // args.batch
    sched = warmup_cosine(opt, int(args.warmup * steps_per_epoch), args.epochs * steps_per_epoch)
    start = time.time()
    for epoch in range(args.epochs):
        train_mode(gm, args.train_bn > 0)
        perm = torch.randperm(xtr.shape[0])
        total = 0.0
        for i in range(0, xtr.shape[0], args.batch):
            idx = perm[i : i + args.batch]
            xb = tf.augment(xtr[idx])
            teacher_logits = None
            if teacher is not None:
                with torch.no_grad():
                    teacher_logits = teacher(xb)
            loss = distillation_loss(gm(xb), ytr[idx], teacher_logits, args.kd_alpha, args.kd_temp)
            opt.zero_grad()
            loss.backward()
            if args.clip > 0:
                # Without clipping, lr 0.01 diverged to NaN within 10 steps on the 6% spec.
                torch.nn.utils.clip_grad_norm_(gm.parameters(), args.clip)
            opt.step()
            sched.step()
            total += loss.item() * idx.shape[0]
        acc = tf.evaluate(gm, xte, yte)
        print(
            f"epoch {epoch + 1}/{args.epochs} loss {total / xtr.shape[0]:.4f} "
            f"test_acc {acc:.4f} elapsed {time.time() - start:.0f}s",
            flush=True,
        )
    after = tf.evaluate(gm, xte, yte)
    print(f"Block-ReLU test accuracy after fine-tuning (PyTorch): {after:.4f}", flush=True)
    renamed = export(gm, brelus, relu_names, args.out)
    print(f"exported {args.out}; Relu nodes renamed to the original names: {len(renamed)}", flush=True)


if __name__ == "__main__":
    main()
