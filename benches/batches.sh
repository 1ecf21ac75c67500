#!/usr/bin/env bash
# Batches (issue 23): N images in one secure inference, so the rounds are paid once per batch.
# `patchwork bench model --batch N` on LAN and over an emulated 50 ms RTT, 1 Gbit/s link, for
# the bundled Fashion-MNIST model (6% Block-ReLU + approximate DReLU; batches 1, 8, 32, 128)
# and ResNet18-CIFAR (random weights, today's default exporter, 6% + approx; batches 1, 8, 32),
# each in one phase with PrivateCompare (the default) and, for the fastest online setting, with
# `--sign fss --preprocess` (then the seconds, rounds and MB are the online phase's). Each cell:
# P0's seconds per inference (median of inferences 2..REPEAT of one session) and images per
# second. Prints one markdown table.
#
# Usage: benches/batches.sh [REPEAT]   (default 3; needs the venv for the ResNet18 export)
set -euo pipefail
repeat="${1:-3}"
# shellcheck source=benches/common.sh
source "$(dirname "$0")/common.sh"
"$venv/bin/python" "$root/python/export_test_models.py" "$work" resnet18_cifar_dynamo >/dev/null 2>&1
machine_line "median of inferences 2-$repeat"
echo
echo "| model | phases | batch | rounds | MB per image | LAN s per batch | LAN images/s | 50 ms, 1 Gbit/s: s per batch | images/s | floor s |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
while read -r label batch model flags; do
  # shellcheck disable=SC2086 # flags holds several arguments.
  if ! "$bin" bench model --model "$model" $flags --batch "$batch" --repeat "$repeat" \
    --link rtt=50ms,rate=1gbit --json >"$work/r.json" 2>"$work/err"; then
    # A refusal (e.g. more preprocessed material than a party may keep) is a result too.
    echo "| $label | - | $batch | refused: $(refusal "$work/err") |"
    continue
  fi
  python3 - "$label" "$batch" "$work/r.json" <<'PY'
import json, sys
label, batch, r = sys.argv[1], int(sys.argv[2]), json.load(open(sys.argv[3]))
lan = r["steady_seconds"] or r["seconds"]
wan = r["links"][0]
w = wan["steady_seconds"] or wan["seconds"]
phases = f"online (offline {r['offline']['bytes'] / 1e6 / batch:.2f} MB per image)" if r["offline"] else "joint"
print(f"| {label} | {phases} | {batch} | {r['rounds']} | {r['bytes']['total'] / 1e6 / batch:.2f} | {lan:.3f} | "
      f"{batch / lan:.1f} | {w:.3f} | {batch / w:.1f} | {wan['floor_seconds']:.2f} |")
PY
done <<LIST
Fashion-6%-approx 1 $root/models/fashion_resnet.onnx --budget-ratio 0.06 --approx 43,5
Fashion-6%-approx 8 $root/models/fashion_resnet.onnx --budget-ratio 0.06 --approx 43,5
Fashion-6%-approx 32 $root/models/fashion_resnet.onnx --budget-ratio 0.06 --approx 43,5
Fashion-6%-approx 128 $root/models/fashion_resnet.onnx --budget-ratio 0.06 --approx 43,5
Fashion-6%-approx-fss 1 $root/models/fashion_resnet.onnx --budget-ratio 0.06 --approx 43,5 --sign fss --preprocess
Fashion-6%-approx-fss 8 $root/models/fashion_resnet.onnx --budget-ratio 0.06 --approx 43,5 --sign fss --preprocess
Fashion-6%-approx-fss 32 $root/models/fashion_resnet.onnx --budget-ratio 0.06 --approx 43,5 --sign fss --preprocess
Fashion-6%-approx-fss 128 $root/models/fashion_resnet.onnx --budget-ratio 0.06 --approx 43,5 --sign fss --preprocess
ResNet18-CIFAR-6%-approx 1 $work/resnet18_cifar_dynamo.onnx --budget-ratio 0.06 --approx 43,5
ResNet18-CIFAR-6%-approx 8 $work/resnet18_cifar_dynamo.onnx --budget-ratio 0.06 --approx 43,5
ResNet18-CIFAR-6%-approx 32 $work/resnet18_cifar_dynamo.onnx --budget-ratio 0.06 --approx 43,5
ResNet18-CIFAR-6%-approx-fss 1 $work/resnet18_cifar_dynamo.onnx --budget-ratio 0.06 --approx 43,5 --sign fss --preprocess
ResNet18-CIFAR-6%-approx-fss 8 $work/resnet18_cifar_dynamo.onnx --budget-ratio 0.06 --approx 43,5 --sign fss --preprocess
ResNet18-CIFAR-6%-approx-fss 32 $work/resnet18_cifar_dynamo.onnx --budget-ratio 0.06 --approx 43,5 --sign fss --preprocess
LIST
