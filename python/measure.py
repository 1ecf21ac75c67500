"""Shared steps of the accuracy experiments (python/budget_sweep.py, python/table3.py): run a
command with its output logged, fine-tune a spec with python/finetune_brelu.py, evaluate through
secure inference with `patchwork eval --secure`, and add a result row to a JSON file under a lock.
"""

import fcntl
import json
import os
import re
import subprocess
import sys
import tempfile
import time

PATCHWORK = "target/release/patchwork"
SECURE_LINE = re.compile(
    r"(?P<n>\d+) images, .*: secure accuracy [\d.]+% \((?P<secure>\d+)\), "
    r"float accuracy [\d.]+% \((?P<float>\d+)\), secure top-1 = float top-1 on (?P<agree>\d+)/"
)
COST_LINE = re.compile(r"per image: (?P<mb>[\d.]+) MB, (?P<ms>[\d.]+) ms of protocol")


def add_common_args(ap, work, out, epochs=True):
    """The options every experiment takes: base model, fine-tuning, DReLU, where to write
    (`--epochs` unless the experiment sets epochs its own way)."""
    ap.add_argument("--model", default="models/fashion_resnet.onnx")
    if epochs:
        ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--finetune", default="--lr 0.01 --warmup 0.25 --kd-alpha 0.9 --kd-temp 4",
                    help="further finetune_brelu.py options, the same for every row")
    ap.add_argument("--approx", default="43,5")
    ap.add_argument("--work", default=work, help="where the specs, fine-tuned models and logs go")
    ap.add_argument("--out", default=out)
    ap.add_argument("--machine", default="2-core shared VM", help="recorded with the results")


def metadata(args):
    """What the results file records besides its rows."""
    return {
        "finetune": f"--epochs {args.epochs} {args.finetune}",
        "approx": args.approx,
        "machine": args.machine,
        "date": time.strftime("%Y-%m-%d"),
    }


def run(cmd, log):
    """Runs `cmd`, appends the command and its output to `log`, returns stdout."""
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        start = time.time()
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=f, text=True)
        f.write(out.stdout)
        f.write(f"# exit {out.returncode}, {time.time() - start:.0f} s wall\n")
    if out.returncode != 0:
        raise SystemExit(f"failed ({out.returncode}): {' '.join(cmd)}; see {log}")
    return out.stdout


def finetune(model, spec, out, epochs, options, log):
    """python/finetune_brelu.py on one thread; `options` are further command-line options.
    An existing `out` (from an interrupted run) is reused, not fine-tuned again."""
    if os.path.exists(out):
        with open(log, "a") as f:
            f.write(f"# reusing the fine-tuned {out}\n")
        return
    cmd = [sys.executable, "python/finetune_brelu.py", "--model", model, "--spec", spec, "--out", out]
    run(cmd + ["--epochs", str(epochs), "--threads", "1"] + options.split(), log)


def secure_eval(model, spec, approx, log):
    """`patchwork eval --secure` on the 10,000 test images; returns the parsed counts."""
    cmd = [PATCHWORK, "eval", "--model", model, "--data", "fashion-mnist", "--secure"]
    cmd += ["--network", "memory", "--approx", approx]
    if spec:
        cmd += ["--spec", spec]
    out = run(cmd, log)
    acc, cost = SECURE_LINE.search(out), COST_LINE.search(out)
    if not acc or not cost:
        raise SystemExit(f"unexpected eval output: {out!r}")
    n = int(acc["n"])
    return {
        "images": n,
        "float_acc": int(acc["float"]) / n,
        "secure_acc": int(acc["secure"]) / n,
        "agree": int(acc["agree"]),
        "mb_per_image": float(cost["mb"]),
        "ms_per_image": float(cost["ms"]),
    }


def update(path, meta, row=None, key=None):
    """Under an exclusive lock: reads the results at `path` (`{"rows": [...]}` plus metadata),
    adds `row` (if any; rows sorted by `key`) and `meta`, writes them back, returns them."""
    lock_path = os.path.join(tempfile.gettempdir(), os.path.basename(path) + ".lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = {"rows": []}
        if os.path.exists(path):
            with open(path) as f:
                results = json.load(f)
        if row is not None:
            results.update(meta)
            results["rows"].append(row)
            if key:
                results["rows"].sort(key=lambda r: r[key])
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with open(path, "w") as f:
                json.dump(results, f, indent=1)
                f.write("\n")
        return results
