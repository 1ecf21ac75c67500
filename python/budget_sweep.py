"""Figure 1 analogue (seed paper: accuracy against DReLU budget) on the Fashion-MNIST ResNet.

For each budget ratio: plan the knapsack-optimal spec from the distortion table
(`patchwork plan knapsack`), fine-tune with python/finetune_brelu.py (the same settings for every
budget), then run all 10,000 test images through secure inference (`patchwork eval --secure`),
which also reports the float reference's accuracy with the same spec. Ratio 1 is the plain model
(every ReLU exact; no spec, no fine-tuning).

One row per budget goes into the results JSON as soon as it is measured (under a file lock, so
several sweeps over disjoint budgets can share one file); budgets already there are skipped, so an
interrupted sweep resumes. Every subprocess's output is appended to a log per budget in `--work`.

Usage (CPU, 1 thread for PyTorch):
    nice -n 10 python python/budget_sweep.py --ratios 0.01,0.02,0.04,0.06,0.1,0.2,1 \
        --epochs 1 --out models/results/figure1.json --work models/sweep
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import PATCHWORK, add_common_args, finetune, metadata, run, secure_eval, update  # noqa: E402


def measure(ratio, args):
    """Plans, fine-tunes and evaluates one budget; returns its result row."""
    if ratio >= 1.0:
        row = {"budget_ratio": 1.0, "drelus": None, "epochs": 0}
        row.update(secure_eval(args.model, None, args.approx, os.path.join(args.work, "plain.log")))
        return row
    stem = os.path.join(args.work, f"ks{ratio:g}")
    spec, onnx_out, log = stem + ".spec.json", stem + ".onnx", stem + ".log"
    run([PATCHWORK, "plan", "knapsack", "--table", args.table, "--budget-ratio", f"{ratio:g}", "--out", spec], log)
    with open(spec) as f:
        drelus = json.load(f)["drelus"]
    finetune(args.model, spec, onnx_out, args.epochs, args.finetune, log)
    row = {"budget_ratio": ratio, "drelus": drelus, "epochs": args.epochs}
    row.update(secure_eval(onnx_out, spec, args.approx, log))
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ratios", default="0.01,0.02,0.04,0.06,0.1,0.2,1")
    ap.add_argument("--table", default="models/fashion_resnet.distortion128.json")
    add_common_args(ap, work="models/sweep", out="models/results/figure1.json")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    meta = metadata(args)
    for ratio in (float(r) for r in args.ratios.split(",")):
        if any(abs(r["budget_ratio"] - ratio) < 1e-12 for r in update(args.out, meta)["rows"]):
            print(f"budget {ratio:g}: already measured", flush=True)
            continue
        row = measure(ratio, args)
        print(json.dumps(row), flush=True)
        update(args.out, meta, row, key="budget_ratio")


if __name__ == "__main__":
    main()
