#!/usr/bin/env bash
# Patchwork beside CrypTen 0.4.1 (issue 23, "Peers side by side"): the same ResNet18-CIFAR
# (random weights, BatchNorm folded into the convolutions by the TorchScript exporter, opset
# 13, inline weights), all ReLUs exact, on this machine, the two systems interleaved run by run.
# - CrypTen: 2 parties as processes, one thread each, its trusted-first-party provider
#   (python/crypten_inference.py, in a venv of its own that this script makes once:
#   $CRYPTEN_VENV, default ~/.cache/patchwork-crypten-venv, from a Python 3.10 found as
#   $CRYPTEN_PYTHON, python3.10 or pyenv's; torch 1.13.1, numpy < 2, crypten --no-deps, onnx
#   1.13.1, protobuf 3.20.3, omegaconf, pyyaml).
# - Patchwork: `patchwork bench model` (three party processes over loopback TLS, each one
#   thread), exact DReLU with its defaults.
# Each run is one session of REPEAT inferences; its figure is the median of inferences
# 2..REPEAT (the steady state; the first pays the set-up). Prints one row per run and the
# ratio CrypTen / Patchwork of the medians over the runs.
#
# Usage: benches/crypten_side_by_side.sh [RUNS] [REPEAT]   (defaults 3 and 3)
set -euo pipefail
# shellcheck source=benches/common.sh
source "$(dirname "$0")/common.sh"
cvenv="${CRYPTEN_VENV:-$HOME/.cache/patchwork-crypten-venv}"
runs="${1:-3}"
repeat="${2:-3}"
if ! [ -x "$cvenv/bin/python" ]; then
  py="${CRYPTEN_PYTHON:-$(command -v python3.10 || ls "$HOME"/.pyenv/versions/3.10.*/bin/python 2>/dev/null | head -1 || true)}"
  [ -n "$py" ] || { echo "CrypTen 0.4.1 needs Python 3.10 (set CRYPTEN_PYTHON)" >&2; exit 1; }
  "$py" -m venv "$cvenv"
  "$cvenv/bin/pip" install -q "torch==1.13.1" "numpy<2" "onnx==1.13.1" "protobuf==3.20.3" omegaconf pyyaml
  "$cvenv/bin/pip" install -q --no-deps "crypten==0.4.1"
fi
"$venv/bin/python" "$root/python/export_test_models.py" "$work" resnet18_cifar >/dev/null 2>&1
model="$work/resnet18_cifar.onnx"
machine_line "ResNet18-CIFAR exact, seconds per inference (median of inferences 2-$repeat of a session)"
echo
echo "| run | system | seconds | rounds | MB | top-1 = PyTorch's |"
echo "| ---: | --- | ---: | ---: | ---: | --- |"
for run in $(seq 1 "$runs"); do
  "$cvenv/bin/python" "$root/python/crypten_inference.py" "$model" "$work/resnet18_cifar.input.npy" \
    "$repeat" "$work/crypten.$run.json" >"$work/crypten.log" 2>&1 \
    || { cat "$work/crypten.log" >&2; exit 1; }
  "$bin" bench model --model "$model" --approx exact --repeat "$repeat" --json >"$work/patchwork.$run.json"
  "$venv/bin/python" - "$run" "$work" <<'PY'
import json, statistics, sys
import numpy as np
run, work = sys.argv[1], sys.argv[2]
want = np.load(f"{work}/resnet18_cifar.output.npy").flatten()
c = json.load(open(f"{work}/crypten.{run}.json"))
steady = c["runs"][1:] or c["runs"]
secs = statistics.median(r["seconds"] for r in steady)
same = int(np.argmax(c["output"])) == int(np.argmax(want))
print(f"| {run} | CrypTen 0.4.1 (2 parties, TFP, torch {c['torch']}) | {secs:.3f} | "
      f"{steady[0]['rounds']} | {steady[0]['bytes'] / 1e6:.1f} | {same} |")
p = json.load(open(f"{work}/patchwork.{run}.json"))
secs = p["steady_seconds"] or p["seconds"]
print(f"| {run} | Patchwork (3 parties, exact) | {secs:.3f} | {p['rounds']} | "
      f"{p['bytes']['total'] / 1e6:.1f} | - |")
PY
done | tee "$work/rows.md"
python3 - "$work/rows.md" <<'PY'
import statistics, sys
rows = [l.split("|") for l in open(sys.argv[1]) if l.startswith("| ") and l.split("|")[1].strip().isdigit()]
c = statistics.median(float(r[3]) for r in rows if "CrypTen" in r[2])
p = statistics.median(float(r[3]) for r in rows if "Patchwork" in r[2])
print(f"\nmedian over the runs: CrypTen {c:.3f} s, Patchwork {p:.3f} s: CrypTen / Patchwork = {c / p:.2f}x")
PY
