#!/usr/bin/env bash
# Preprocessing and the sign protocols (issue 23): each model once in one phase and once with
# --preprocess, with each sign protocol (`--sign private-compare`, `--sign fss`), interleaved,
# on LAN and a 50 ms RTT, 1 Gbit/s link (`patchwork bench model --link`), on the bundled
# Fashion-MNIST model (6% Block-ReLU + approximate DReLU, and plain with exact DReLU) and
# ResNet18-CIFAR (random weights, today's default exporter; 6% + approx and exact). Each cell:
# P0's seconds per inference, median of inferences 2..REPEAT of one session; with
# --preprocess that is the online phase, the offline phase beside it. Prints one markdown table.
#
# Usage: benches/preprocess.sh [REPEAT] [SIGNS]   (default 3 and "private-compare fss"; needs
# the venv for the ResNet18 export)
set -euo pipefail
repeat="${1:-3}"
signs="${2:-private-compare fss}"
# shellcheck source=benches/common.sh
source "$(dirname "$0")/common.sh"
"$venv/bin/python" "$root/python/export_test_models.py" "$work" resnet18_cifar_dynamo >/dev/null 2>&1
machine_line "median of inferences 2-$repeat"
echo
echo "| model | sign | phases | rounds | MB online | MB offline | LAN s | 50 ms, 1 Gbit/s s | floor s | offline s (LAN) |"
echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
while read -r label model flags; do
  for sign in $signs; do
  for mode in joint preprocessed; do
    extra=(--sign "$sign")
    [ "$mode" = preprocessed ] && extra+=(--preprocess)
    # shellcheck disable=SC2086 # flags holds several arguments.
    if ! "$bin" bench model --model "$model" $flags "${extra[@]}" --repeat "$repeat" \
      --link rtt=50ms,rate=1gbit --json >"$work/r.json" 2>"$work/err"; then
      # A refusal (e.g. more preprocessed material than a party may keep) is a result too.
      echo "| $label | $sign | $mode | refused: $(refusal "$work/err") |"
      continue
    fi
    python3 - "$label" "$sign" "$mode" "$work/r.json" <<'PY'
import json, sys
label, sign, mode, r = sys.argv[1], sys.argv[2], sys.argv[3], json.load(open(sys.argv[4]))
lan = r["steady_seconds"] or r["seconds"]
wan = r["links"][0]
wan_s = wan["steady_seconds"] or wan["seconds"]
off = r["offline"]
off_mb = f"{off['bytes'] / 1e6:.2f}" if off else "-"
off_s = f"{off['seconds']:.3f}" if off else "-"
floor = wan["floor_seconds"]
print(f"| {label} | {sign} | {mode} | {r['rounds']} | {r['bytes']['total'] / 1e6:.2f} | {off_mb} | {lan:.3f} | {wan_s:.3f} | {floor:.3f} | {off_s} |")
PY
  done
  done
done <<LIST
Fashion-6%-approx $root/models/fashion_resnet.onnx --budget-ratio 0.06 --approx 43,5
Fashion-plain-exact $root/models/fashion_resnet.onnx
ResNet18-CIFAR-6%-approx $work/resnet18_cifar_dynamo.onnx --budget-ratio 0.06 --approx 43,5
ResNet18-CIFAR-exact $work/resnet18_cifar_dynamo.onnx
LIST
