"""Progressive planning: reach a small DReLU budget in stages, each planned on the network the
previous stage fine-tuned (seed paper steps 1-3, repeated).

The seed paper measures the distortions (eq. 4) once, on the plain network, and assumes they add
up. At a small budget most channels change at once and they do not; measuring again on a network
that already has Block-ReLUs at a larger budget and has been fine-tuned with them starts the
knapsack from much closer to the target. Each stage:

1. `patchwork plan distortion --model CUR.onnx --base-spec CUR.spec.json` (no base spec for a
   first stage from the plain model): the distortion of each channel's patch sizes relative to
   the current network, on the first `--samples` training images;
2. `patchwork plan knapsack --budget-ratio R`: the new spec;
3. python/finetune_brelu.py from the current weights for E epochs with the new spec,
   distilling from the plain model (`--model`).

The last stage's model goes through secure inference on the 10,000 test images
(`patchwork eval --secure`), and its row is added to the results JSON. Every subprocess's output
is appended to `stage<k>.log` in `--work`; finished steps (their output files exist) are reused,
so an interrupted run resumes.

Usage (CPU, 1 thread for PyTorch):
    nice -n 5 python python/progressive_plan.py --stages 0.1:4,0.06:26 \
        [--start-model M.onnx --start-spec S.json] --finetune "--lr 0.02 --warmup 1 \
        --kd-alpha 0.9 --kd-temp 4" --work models/progressive --out models/results/progressive.json
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import PATCHWORK, add_common_args, finetune, metadata, run, secure_eval, update  # noqa: E402


def parse_stages(text):
    """`R:E,R:E,...` -> [(ratio, epochs), ...]."""
    stages = []
    for item in text.split(","):
        ratio, _, epochs = item.partition(":")
        if not epochs:
            raise SystemExit(f"--stages: '{item}' is not RATIO:EPOCHS")
        stages.append((float(ratio), int(epochs)))
    return stages


def stage(k, ratio, epochs, model, spec, args):
    """Plans stage `k` on (model, spec) and fine-tunes it; returns the new (model, spec)."""
    stem = os.path.join(args.work, f"stage{k}")
    table, new_spec, new_model, log = stem + ".distortion.json", stem + ".spec.json", stem + ".onnx", stem + ".log"
    if not os.path.exists(table):
        cmd = [PATCHWORK, "plan", "distortion", "--model", model, "--data", "fashion-mnist"]
        cmd += ["--samples", str(args.samples), "--out", table]
        run(cmd + (["--base-spec", spec] if spec else []), log)
    run([PATCHWORK, "plan", "knapsack", "--table", table, "--budget-ratio", f"{ratio:g}", "--out", new_spec], log)
    options = f"{args.finetune} --teacher {args.model}"
    finetune(model, new_spec, new_model, epochs, options, log)
    return new_model, new_spec


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stages", required=True, help="RATIO:EPOCHS,... from the largest budget down")
    ap.add_argument("--start-model", help="a model already fine-tuned with --start-spec (default: --model)")
    ap.add_argument("--start-spec", help="the spec --start-model was fine-tuned with")
    ap.add_argument("--samples", type=int, default=128, help="calibration images per distortion table")
    add_common_args(ap, work="models/progressive", out="models/results/progressive.json", epochs=False)
    args = ap.parse_args()
    if bool(args.start_model) != bool(args.start_spec):
        raise SystemExit("--start-model and --start-spec go together")
    stages = parse_stages(args.stages)
    os.makedirs(args.work, exist_ok=True)
    model, spec = args.start_model or args.model, args.start_spec
    for k, (ratio, epochs) in enumerate(stages, start=1):
        model, spec = stage(k, ratio, epochs, model, spec, args)
    with open(spec) as f:
        drelus = json.load(f)["drelus"]
    row = {
        "budget_ratio": stages[-1][0],
        "drelus": drelus,
        "stages": args.stages,
        "start": args.start_model or args.model,
        "model": model,
        "spec": spec,
    }
    row.update(secure_eval(model, spec, args.approx, os.path.join(args.work, f"stage{len(stages)}.log")))
    print(json.dumps(row), flush=True)
    args.epochs = sum(e for _, e in stages)
    update(args.out, metadata(args), row)


if __name__ == "__main__":
    main()
