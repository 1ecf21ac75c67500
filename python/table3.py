"""Table 3 analogue (seed paper, "Alternative Patch Sizes Sets") through secure inference: at one
DReLU budget (3,632 of 53,312, the cost of constant 4x4 patches), constant 4x4 patches vs the
knapsack's patch sizes shuffled among each layer's channels vs the knapsack-optimal ones.

Each spec is fine-tuned with python/finetune_brelu.py (the same settings for all three), then all
10,000 test images go through secure inference (`patchwork eval --secure`), which also gives the
float reference's accuracy. Rows go into the results JSON as they are measured; variants already
there are skipped. Specs and logs: see models/fashion_resnet_table3.log for how the specs were made.

Usage (CPU, 1 thread for PyTorch):
    nice -n 10 python python/table3.py --epochs 1 --out models/results/table3.json --work models/table3
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import add_common_args, finetune, metadata, secure_eval, update  # noqa: E402

VARIANTS = [
    ("constant 4x4", "models/fashion_resnet_const4x4.spec.json"),
    ("knapsack, shuffled", "models/fashion_resnet_ks3632_shuffled.spec.json"),
    ("knapsack", "models/fashion_resnet_ks3632.spec.json"),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", help="comma-separated variant names to measure (default: all)")
    add_common_args(ap, work="models/table3", out="models/results/table3.json")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    meta = metadata(args)
    meta["title"] = f"Table 3 analogue: 3,632 DReLUs (6.81%), {args.epochs} fine-tuning epoch(s) each"
    for k, (name, spec) in enumerate(VARIANTS):
        if args.only and name not in args.only.split(","):
            continue
        if any(r["name"] == name for r in update(args.out, meta)["rows"]):
            print(f"{name}: already measured", flush=True)
            continue
        stem = os.path.join(args.work, os.path.basename(spec).removesuffix(".spec.json"))
        finetune(args.model, spec, stem + ".onnx", args.epochs, args.finetune, stem + ".log")
        row = {"order": k, "name": name, "spec": spec, "epochs": args.epochs}
        row.update(secure_eval(stem + ".onnx", spec, args.approx, stem + ".log"))
        print(json.dumps(row), flush=True)
        update(args.out, meta, row, key="order")


if __name__ == "__main__":
    main()
