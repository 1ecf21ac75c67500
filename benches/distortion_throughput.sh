#!/usr/bin/env bash
# Distortion extraction throughput (seed paper eq. 4) on the paper's networks, as a user runs
# it: `patchwork plan distortion` on ResNet18-CIFAR (32x32), MobileNetV2 (224x224, its ReLU6s
# planned as Block-ReLU6s, and as ReLUs with --relu6-to-relu) and the DeepLabV3-style net
# (64x64), exported with the default
# torch.onnx.export and random weights, on random calibration images. Prints, per network, the
# hypothesis-image pairs of one image for the whole table, the pairs measured in a shard and
# their rate (pairs per second, all of this machine's cores), and the projected time of a whole
# table for 64 calibration images (pairs x 64 / rate).
#
# Usage: benches/distortion_throughput.sh [SAMPLES] [NETWORKS]
#   SAMPLES calibration images (default 2); NETWORKS an extended regular expression the rows'
#   network names must match (default: every row), e.g. 'MobileNetV2'.
# Needs the Python venv of the tests ($PATCHWORK_VENV) and a release build (built here).
set -euo pipefail
SAMPLES="${1:-2}"
NETWORKS="${2:-.}"
# shellcheck source=benches/common.sh
source "$(dirname "$0")/common.sh"
"$venv/bin/python" "$root/python/export_test_models.py" "$work" \
    resnet18_cifar_dynamo mobilenet_v2_dynamo deeplab_small_dynamo > /dev/null 2>&1
"$venv/bin/python" - "$work" "$SAMPLES" <<'PY'
import sys, numpy as np
work, n = sys.argv[1], int(sys.argv[2])
for name, hw in [("r18", 32), ("mb", 224), ("dl", 64)]:
    np.save(f"{work}/{name}.npy", np.random.RandomState(0).rand(n, 3, hw, hw).astype(np.float32))
PY
printf "| network | flags | pairs per image (whole table) | shard | pairs measured | seconds | pairs/s | 64-image table (projected) |\n"
printf "| --- | --- | --- | --- | --- | --- | --- | --- |\n"
# name, model, data, shard, extra flags
while read -r label model data shard flags; do
    [[ "$label" =~ $NETWORKS ]] || continue
    common=(plan distortion --model "$work/$model.onnx" --data "$work/$data.npy" $flags)
    # The whole table's pairs for one image: the opening line of an unsharded run.
    # (stopped after 5 s: only its first line is needed)
    whole=$( (timeout 5 "$bin" "${common[@]}" --samples 1 --out "$work/whole.json" \
        < /dev/null 2>/dev/null || true) | head -1 | sed -E 's/.* ([0-9]+) hypothesis-image pairs.*/\1/')
    start=$(date +%s.%N)
    line=$("$bin" "${common[@]}" --samples "$SAMPLES" --shard "$shard" --out "$work/part.json" \
        < /dev/null 2>/dev/null)
    line=${line%%$'\n'*}
    end=$(date +%s.%N)
    pairs=$(echo "$line" | sed -E 's/.* ([0-9]+) hypothesis-image pairs.*/\1/')
    python3 - "$label" "$flags" "$whole" "$shard" "$pairs" "$start" "$end" < /dev/null <<'PY'
import sys
label, flags, whole, shard, pairs, start, end = sys.argv[1:]
secs = float(end) - float(start)
rate = int(pairs) / secs
hours = int(whole) * 64 / rate / 3600
print(f"| {label} | {flags or 'default'} | {int(whole):,} | {shard} | {int(pairs):,} | {secs:.1f} | {rate:,.0f} | {hours:,.1f} h |")
PY
done <<'LIST'
ResNet18-CIFAR resnet18_cifar_dynamo r18 0/64
MobileNetV2-224 mobilenet_v2_dynamo mb 0/32
MobileNetV2-224 mobilenet_v2_dynamo mb 0/32 --relu6-to-relu
DeepLabV3-small-64 deeplab_small_dynamo dl 0/1
LIST
