#!/usr/bin/env bash
# Secure inference over wide-area links (issue 23): `patchwork bench model --link` for LAN and
# three WAN settings (50 ms RTT at 1 Gbit/s, 50 ms at 100 Mbit/s, 100 ms at 100 Mbit/s), on the
# bundled Fashion-MNIST model (6% Block-ReLU + approximate DReLU, and plain with exact DReLU)
# and ResNet18-CIFAR (random weights, today's default exporter; 6% + approx and exact).
# Each cell: P0's seconds per inference, median of inferences 2..REPEAT of one session, with
# the estimate (LAN compute + rounds x one-way delay + busiest direction's bytes / rate) and
# the floor (rounds x one-way delay) beside it. Prints one markdown table.
#
# Usage: benches/wan.sh [REPEAT]   (default 5; needs the venv for the ResNet18 export)
set -euo pipefail
repeat="${1:-5}"
# shellcheck source=benches/common.sh
source "$(dirname "$0")/common.sh"
"$venv/bin/python" "$root/python/export_test_models.py" "$work" resnet18_cifar_dynamo >/dev/null 2>&1
links=(--link rtt=50ms,rate=1gbit --link rtt=50ms,rate=100mbit --link rtt=100ms,rate=100mbit)
machine_line "median of inferences 2-$repeat"
echo
echo "| model | rounds | MB | LAN | 50 ms, 1 Gbit/s | 50 ms, 100 Mbit/s | 100 ms, 100 Mbit/s |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
while read -r label model flags; do
  # shellcheck disable=SC2086 # flags holds several arguments.
  "$bin" bench model --model "$model" $flags --repeat "$repeat" "${links[@]}" --json >"$work/r.json"
  python3 - "$label" "$work/r.json" <<'PY'
import json, sys
label, r = sys.argv[1], json.load(open(sys.argv[2]))
lan = r["steady_seconds"] or r["seconds"]
cells = [f"{lan:.3f}"] + [
    f"{l['steady_seconds'] or l['seconds']:.3f} (est. {l['estimate_seconds']:.2f}, floor {l['floor_seconds']:.2f})"
    for l in r["links"]]
print(f"| {label} | {r['rounds']} | {r['bytes']['total'] / 1e6:.1f} | " + " | ".join(cells) + " |")
PY
done <<LIST
Fashion-6%-approx $root/models/fashion_resnet.onnx --budget-ratio 0.06 --approx 43,5
Fashion-plain-exact $root/models/fashion_resnet.onnx
ResNet18-CIFAR-6%-approx $work/resnet18_cifar_dynamo.onnx --budget-ratio 0.06 --approx 43,5
ResNet18-CIFAR-exact $work/resnet18_cifar_dynamo.onnx
LIST
