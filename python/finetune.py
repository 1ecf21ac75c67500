"""The PyTorch trainer of `patchwork finetune` (seed paper, "Securing Neural Networks with
Knapsack Optimization", step 3: replace the ReLUs by the planned Block-ReLUs and fine-tune).

`patchwork finetune` runs this file with the Python of `$PATCHWORK_VENV` (it needs torch and
numpy only) on a bundle directory it wrote (src/cmd/finetune/bundle.rs): the model's graph as
Patchwork imported it, the weights, the data already normalised, and `config.json`. The module
is built from that graph node by node, so it computes what `patchwork reference` computes for
any model Patchwork imports; before training, its outputs are checked against the reference's
(`check.*.npy`, written by the Rust side) within 1e-5 relative.

* Block-ReLU (seed paper, eqs. 2-3): per channel, each ph x pw patch (from the top-left, ragged
  at the edges) keeps its values when its sum is >= 0, else becomes 0; "identity" passes the
  channel, "zero" clears it. A ReLU after a linear layer (rank 2) has 1 x 1 maps. Training uses
  y = x * mask with the mask computed without gradient, so gradients flow through the kept
  activations as in the paper; `decision_grad` W > 0 adds a straight-through gradient for each
  decision (a box of half-width W around 0), the forward pass unchanged.
* Distillation: loss = (1 - A) * cross-entropy + A * T^2 * KL(teacher || student) at
  temperature T; the teacher is the plain-ReLU model (or `--teacher`), frozen.
* Schedule: SGD with Nesterov momentum 0.9, linear warm-up, then cosine decay to 0; gradient
  norm clipping.
* Output: one JSON object per line on stdout (`start`, `step`, `epoch`, `done`, or `error`),
  and the trained weights as `trained.w<i>.npy` / `trained.b<i>.npy` in the bundle. With 0
  epochs it only checks the module against the reference. It stops when its parent process
  (`patchwork finetune`) is gone.

Usage: python finetune.py BUNDLE_DIR
"""

import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def emit(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


def fail(message):
    emit("error", message=message)
    sys.exit(3)


class BlockReLU(nn.Module):
    """Block-ReLU of one layer; `patches[c]` is `[ph, pw]`, "identity" or "zero"."""

    def __init__(self, patches, decision_grad):
        super().__init__()
        self.decision_grad = decision_grad
        groups = {}
        for c, p in enumerate(patches):
            groups.setdefault(p if isinstance(p, str) else tuple(p), []).append(c)
        self.groups = [(p, torch.tensor(cs)) for p, cs in groups.items()]

    def keep(self, avg):
        hard = (avg >= 0).to(avg.dtype)
        if self.decision_grad <= 0:
            return hard
        soft = torch.clamp(avg / (2 * self.decision_grad) + 0.5, 0.0, 1.0)
        return hard + soft - soft.detach()

    def forward(self, x):
        rank2 = x.dim() == 2
        if rank2:
            x = x[:, :, None, None]
        _, _, h, w = x.shape
        m = torch.ones_like(x)
        for p, idx in self.groups:
            if p == "identity":
                continue
            if p == "zero":
                m[:, idx] = 0.0
                continue
            xs = x[:, idx] if self.decision_grad > 0 else x[:, idx].detach()
            ph, pw = min(p[0], h), min(p[1], w)
            if (ph, pw) == (1, 1):
                m[:, idx] = self.keep(xs)
                continue
            # The patch mean has the sign of the patch sum (ragged patches at the edges).
            avg = F.avg_pool2d(xs, (ph, pw), stride=(ph, pw), ceil_mode=True)
            keep = self.keep(avg).repeat_interleave(ph, dim=2).repeat_interleave(pw, dim=3)
            m[:, idx] = keep[:, :, :h, :w]
        y = x * m
        return y[:, :, 0, 0] if rank2 else y


def pad_lrtb(padding):
    """Patchwork's [top, left, bottom, right] as F.pad's (left, right, top, bottom)."""
    top, left, bottom, right = padding
    return (left, right, top, bottom)


class GraphNet(nn.Module):
    """A module that evaluates a Patchwork graph (`NAME.graph.json`) on a batch."""

    def __init__(self, bundle, name, decision_grad=0.0):
        super().__init__()
        with open(os.path.join(bundle, f"{name}.graph.json")) as f:
            g = json.load(f)
        self.graph = g
        self.weights = nn.ParameterDict()
        self.biases = nn.ParameterDict()
        self.brelus = nn.ModuleDict()
        self.consts = {}
        for i, node in enumerate(g["nodes"]):
            op = node["op"]
            if op in ("Conv", "Linear"):
                load = lambda kind: torch.from_numpy(np.load(os.path.join(bundle, f"{name}.{kind}{i}.npy")))
                self.weights[str(i)] = nn.Parameter(load("w"))
                self.biases[str(i)] = nn.Parameter(load("b"))
            elif op in ("Relu", "Relu6"):
                self.brelus[str(i)] = BlockReLU(node["patches"], decision_grad)
            elif op == "AvgPool":
                oh, ow = node["shape"][2], node["shape"][3]
                d = torch.tensor(node["divisors"], dtype=torch.float32).reshape(1, 1, oh, ow)
                self.register_buffer(f"divisor{i}", d.clamp_min(1.0))
            elif op == "Resize":
                for axis in ("h", "w"):
                    taps = np.array(node[f"taps_{axis}"], dtype=np.float64).reshape(-1, 3)
                    self.register_buffer(f"r{i}{axis}0", torch.from_numpy(taps[:, 0].astype(np.int64)))
                    self.register_buffer(f"r{i}{axis}1", torch.from_numpy(taps[:, 1].astype(np.int64)))
                    self.register_buffer(f"r{i}{axis}f", torch.from_numpy(taps[:, 2].astype(np.float32)))

    def node_out(self, i, node, ins):
        op, x = node["op"], ins[0]
        if op == "Conv":
            if any(node["padding"]):
                x = F.pad(x, pad_lrtb(node["padding"]))
            return F.conv2d(x, self.weights[str(i)], self.biases[str(i)], tuple(node["stride"]), 0,
                            tuple(node["dilation"]), node["groups"])
        if op == "Linear":
            return F.linear(x, self.weights[str(i)], self.biases[str(i)])
        if op == "Relu":
            return self.brelus[str(i)](x)
        if op == "Relu6":
            # The Block-ReLU, then the clamp at 6 (plain 1x1 patches: clamp(x, 0, 6)).
            return self.brelus[str(i)](x).clamp_max(6.0)
        if op == "Add":
            return x + ins[1]
        if op == "AvgPool":
            if any(node["padding"]):
                x = F.pad(x, pad_lrtb(node["padding"]))
            s = F.avg_pool2d(x, tuple(node["kernel"]), tuple(node["stride"]), divisor_override=1)
            return s / getattr(self, f"divisor{i}")
        if op == "MaxPool":
            if any(node["padding"]):
                x = F.pad(x, pad_lrtb(node["padding"]), value=-math.inf)
            return F.max_pool2d(x, tuple(node["kernel"]), tuple(node["stride"]))
        if op == "GlobalAvgPool":
            return x.mean((2, 3), keepdim=True)
        if op == "Reshape":
            return x.reshape(x.shape[0], *node["shape"][1:])
        if op == "Concat":
            return torch.cat(ins, dim=1)
        if op == "Resize":
            b = lambda k: getattr(self, f"r{i}{k}")
            # As the reference: along the width first, then the height.
            fw = b("wf")[None, None, None, :]
            x = x.index_select(3, b("w0")) * (1 - fw) + x.index_select(3, b("w1")) * fw
            fh = b("hf")[None, None, :, None]
            return x.index_select(2, b("h0")) * (1 - fh) + x.index_select(2, b("h1")) * fh
        if op == "Identity":
            return x
        if op == "Softmax":
            return F.softmax(x, dim=1)
        if op == "LogSoftmax":
            return F.log_softmax(x, dim=1)
        raise ValueError(f"node '{node['name']}': operator {op} has no PyTorch form here")

    def forward(self, x, upto=None):
        """The graph output, or value `upto` (the logits before a final softmax)."""
        values = {self.graph["input_value"]: x}
        for i, node in enumerate(self.graph["nodes"]):
            values[node["output"]] = self.node_out(i, node, [values[v] for v in node["inputs"]])
            if node["output"] == upto:
                return values[upto]
        return values[self.graph["output"]]

    def logits(self, x):
        return self.forward(x, upto=self.graph["logits"])

    def save(self, bundle, name):
        for k, p in self.weights.items():
            np.save(os.path.join(bundle, f"{name}.w{k}.npy"), p.detach().numpy().astype(np.float32))
            np.save(os.path.join(bundle, f"{name}.b{k}.npy"), self.biases[k].detach().numpy().astype(np.float32))


def check_against_reference(net, x, path, what):
    """The module's outputs on the first images equal `patchwork reference` within 1e-5."""
    want = np.load(path)
    with torch.no_grad():
        got = net(torch.from_numpy(x[: want.shape[0]])).numpy().reshape(want.shape)
    scale = max(float(np.abs(want).max()), 1e-30)
    err = float(np.abs(got - want).max())
    if not err <= 1e-5 * scale:
        fail(f"the PyTorch module of the {what} differs from patchwork reference by {err:.3e} "
             f"(output scale {scale:.3e}; allowed 1e-5 relative)")
    return err / scale


def accuracy(net, x, y, batch=500):
    net.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            xb = torch.from_numpy(x[i : i + batch])
            correct += int((net.logits(xb).argmax(1) == torch.from_numpy(y[i : i + batch])).sum())
    return correct


def augment(x, kind):
    """`flip-shift`: random horizontal flip, random shift by up to 2 pixels (zero padding)."""
    if kind == "none":
        return x
    n, _, h, w = x.shape
    flip = torch.rand(n) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    padded = F.pad(x, (2, 2, 2, 2))
    dy, dx = np.random.randint(0, 5, size=2)
    return padded[:, :, dy : dy + h, dx : dx + w]


def distillation_loss(logits, labels, teacher_logits, alpha, temp):
    """(1 - alpha) * cross-entropy + alpha * temp^2 * KL(teacher || student) at temperature temp."""
    hard = F.cross_entropy(logits, labels)
    if alpha == 0.0:
        return hard
    soft = F.kl_div(F.log_softmax(logits / temp, dim=1), F.log_softmax(teacher_logits / temp, dim=1),
                    reduction="batchmean", log_target=True)
    return (1.0 - alpha) * hard + alpha * temp * temp * soft


def warmup_cosine(opt, warmup_steps, total_steps):
    """Linear warm-up from 0 over `warmup_steps`, then cosine decay to 0 at `total_steps`."""

    def factor(step):
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        t = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def main():
    bundle = sys.argv[1]
    parent = os.getppid()
    with open(os.path.join(bundle, "config.json")) as f:
        cfg = json.load(f)
    torch.manual_seed(cfg["seed"])
    np.random.seed(cfg["seed"])
    torch.set_num_threads(cfg["threads"])
    load = lambda n: np.load(os.path.join(bundle, n))
    xtr, ytr, xte, yte = load("train.x.npy"), load("train.y.npy"), load("test.x.npy"), load("test.y.npy")
    student = GraphNet(bundle, "student", cfg["decision_grad"])
    teacher = GraphNet(bundle, "teacher")
    for p in teacher.parameters():
        p.requires_grad_(False)
    err_s = check_against_reference(student, xte, os.path.join(bundle, "check.student.npy"), "model with Block-ReLUs")
    err_t = check_against_reference(teacher, xte, os.path.join(bundle, "check.teacher.npy"), "teacher")
    steps = (xtr.shape[0] + cfg["batch"] - 1) // cfg["batch"]
    emit("start", torch=torch.__version__, train=int(xtr.shape[0]), test=int(xte.shape[0]),
         steps_per_epoch=steps, reference_error=max(err_s, err_t),
         teacher_test_correct=accuracy(teacher, xte, yte), before_test_correct=accuracy(student, xte, yte))
    opt = torch.optim.SGD(student.parameters(), lr=cfg["lr"], momentum=0.9,
                          weight_decay=cfg["weight_decay"], nesterov=True)
    sched = warmup_cosine(opt, int(cfg["warmup"] * steps), cfg["epochs"] * steps)
    xtr_t, ytr_t = torch.from_numpy(xtr), torch.from_numpy(ytr)
    start = time.time()
    for epoch in range(cfg["epochs"]):
        student.train()
        perm = torch.randperm(xtr.shape[0])
        total, right = 0.0, 0
        for k, i in enumerate(range(0, xtr.shape[0], cfg["batch"])):
            if os.getppid() != parent:
                sys.exit(4)  # `patchwork finetune` was killed: nothing will read the result
            idx = perm[i : i + cfg["batch"]]
            xb, yb = augment(xtr_t[idx], cfg["augment"]), ytr_t[idx]
            teacher_logits = None
            if cfg["kd_alpha"] > 0:
                with torch.no_grad():
                    teacher_logits = teacher.logits(xb)
            logits = student.logits(xb)
            loss = distillation_loss(logits, yb, teacher_logits, cfg["kd_alpha"], cfg["kd_temp"])
            if not torch.isfinite(loss):
                fail(f"the loss is {loss.item()} at epoch {epoch + 1}, step {k + 1}: lower --lr")
            opt.zero_grad()
            loss.backward()
            if cfg["clip"] > 0:
                torch.nn.utils.clip_grad_norm_(student.parameters(), cfg["clip"])
            opt.step()
            sched.step()
            total += loss.item() * idx.shape[0]
            right += int((logits.argmax(1) == yb).sum())
            emit("step", epoch=epoch + 1, step=k + 1, loss=loss.item())
        emit("epoch", epoch=epoch + 1, epochs=cfg["epochs"], loss=total / xtr.shape[0],
             train_accuracy=right / xtr.shape[0], test_correct=accuracy(student, xte, yte),
             test_total=int(xte.shape[0]), seconds=time.time() - start)
    student.save(bundle, "trained")
    emit("done", test_correct=accuracy(student, xte, yte), test_total=int(xte.shape[0]))


if __name__ == "__main__":
    main()
