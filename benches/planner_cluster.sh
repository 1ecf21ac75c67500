#!/usr/bin/env bash
# The distortion table (seed paper eq. 4) as a Slurm job array on this machine, and what it
# projects to on a cluster (issue 24). Prints two tables:
#
# 1. shards x CPU threads per task vs wall time, on a one-node cluster (deploy/slurm/cluster.sh)
#    with the job scripts a user submits (deploy/slurm/submit.sh: array + merge + knapsack),
#    for the bundled Fashion-MNIST model on SAMPLES training images; wall time from submission
#    to the end of the merge job, each table checked equal (cmp) to the first.
# 2. The projected wall time of ResNet50-ImageNet (224x224, random weights, exported with the
#    TorchScript exporter) with 512 samples on 16 nodes of 32 cores, from the per-pair cost
#    measured here per layer: `plan distortion --dry-run` gives each layer's pairs in the
#    default candidate set; two measured runs on one core (one image, shard 0/n with n the
#    fewest channels of any layer, so that each layer keeps at least one channel; candidates of
#    max side 1 and 2, 3 and 6 per channel: a pair costs one suffix pass whatever its patch
#    size) give each layer's seconds per pair (the slope) and per image (the intercept). The
#    same projection is made for the bundled model and printed beside a measured unsharded run
#    of it on one core. Few hypotheses share a batch in these runs, so the cost per pair is an
#    upper bound of a full run's.
#
# PW_SKIP_CLUSTER=1 skips table 1.
#
# Usage: benches/planner_cluster.sh [SAMPLES]   (default 16; root, slurm-wlm, munge, the venv)
set -euo pipefail
samples="${1:-16}"
# shellcheck source=benches/common.sh
source "$(dirname "$0")/common.sh"
trap '"$root/deploy/slurm/cluster.sh" down "$work/cluster" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
fashion="$root/models/fashion_resnet.onnx"
if [ "${PW_SKIP_CLUSTER:-0}" != 1 ]; then
eval "$("$root/deploy/slurm/cluster.sh" up "$work/cluster" | grep '^SLURM_CONF=')"
export SLURM_CONF
cores=$(sinfo -h -o %c)

echo "Bundled Fashion-MNIST ResNet, $samples samples, one node of $cores cores ($(date -u +%F))"
echo
echo "| shards | threads per task | tasks at once | wall s | speed-up vs 1 x 1 |"
echo "| ---: | ---: | ---: | ---: | ---: |"
base=
for cfg in "1 1" "1 2" "2 1" "2 2" "4 1" "4 2" "8 1"; do
  read -r shards threads <<<"$cfg"
  out="$work/s${shards}t${threads}"
  t0=$(date +%s.%N)
  read -r array merge < <("$root/deploy/slurm/submit.sh" --model "$fashion" --out "$out" \
    --samples "$samples" --shards "$shards" --threads "$threads" --patchwork "$bin")
  while squeue -h -j "$array,$merge" | grep -q .; do sleep 0.2; done
  t1=$(date +%s.%N)
  [ -s "$out/table.json" ] || { echo "no table from $cfg; logs in $out" >&2; cat "$out"/*.log >&2; exit 1; }
  [ -z "$base" ] && base="$out/table.json" && first=$(python3 -c "print($t1 - $t0)")
  cmp -s "$out/table.json" "$base" || { echo "shards $shards x $threads: table differs" >&2; exit 1; }
  python3 -c "
s, t, c = $shards, $threads, $cores
w = $t1 - $t0
print(f'| {s} | {t} | {min(s, c // t)} | {w:.1f} | {$first / w:.2f} |')"
done
fi

# Per-layer cost on one core, from two runs on one image that differ only in the candidates
# (max side 1: 3 per channel; max side 2: 6): per layer, the seconds per pair are the slope
# between them and the seconds per image (prefix forward, unmodified suffix) the intercept.
# A dry run of each gives its pairs per layer, the run's "layer ... done at T s" lines its time.
per_layer() { # MODEL DATA OUT.json: writes {layer: [seconds per image, seconds per pair]}
  # Shard 0/n with n the fewest channels of a layer: every layer keeps one channel or more.
  local n side
  n=$("$bin" plan distortion --model "$1" --samples 1 --dry-run --json | python3 -c \
    'import json, sys; print(min(l["of"] for l in json.load(sys.stdin)["layers"]))')
  for side in 1 2; do
    local flags=(--model "$1" --data "$2" --samples 1 --shard "0/$n" --max-side "$side" --coarse-blocks 0)
    "$bin" plan distortion "${flags[@]}" --dry-run --json >"$3.work$side"
    RAYON_NUM_THREADS=1 "$bin" plan distortion "${flags[@]}" --out "$3.shard$side" \
      2>"$3.log$side" >/dev/null
  done
  python3 - "$3" <<'PY'
import json, re, sys
out = sys.argv[1]
def layers(side):
    work = json.load(open(f"{out}.work{side}"))["layers"]
    done = [float(m.group(1)) for m in re.finditer(r"done at ([0-9.]+) s", open(f"{out}.log{side}").read())]
    secs = [b - a for a, b in zip([0.0] + done, done)]
    return {l["name"]: (l["pairs"], s) for l, s in zip(work, secs)}
a, b = layers(1), layers(2)
fit = {}
for name, (p1, t1) in a.items():
    p2, t2 = b[name]
    per_pair = max((t2 - t1) / (p2 - p1), 0.0)
    fit[name] = [max(t1 - per_pair * p1, 0.0), per_pair]
json.dump(fit, open(out, "w"))
PY
}
# project MODEL SAMPLES FIT.json: core-seconds of the whole default table, and its pairs.
project() {
  "$bin" plan distortion --model "$1" --samples "$2" --dry-run --json >"$work/default.json"
  python3 - "$work/default.json" "$3" "$2" <<'PY'
import json, sys
layers = json.load(open(sys.argv[1]))["layers"]
fit, samples = json.load(open(sys.argv[2])), int(sys.argv[3])
print(sum(samples * fit[l["name"]][0] + l["pairs"] * fit[l["name"]][1] for l in layers),
      sum(l["pairs"] for l in layers))
PY
}

"$venv/bin/python" - "$work" <<'PY'
import gzip, sys, numpy as np
with gzip.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz") as f:
    x = np.frombuffer(f.read(), np.uint8, offset=16, count=28 * 28).reshape(1, 1, 28, 28)
np.save(sys.argv[1] + "/fashion1.npy", (x / 255.0).astype(np.float32))
np.save(sys.argv[1] + "/imagenet1.npy", np.random.RandomState(0).rand(1, 3, 224, 224).astype(np.float32))
PY
per_layer "$fashion" "$work/fashion1.npy" "$work/fashion.rate"
read -r fashion_core_s _ < <(project "$fashion" "$samples" "$work/fashion.rate")
t0=$(date +%s.%N)
RAYON_NUM_THREADS=1 "$bin" plan distortion --model "$fashion" --samples "$samples" \
  --out "$work/fashion.1core.json" >/dev/null 2>&1
measured=$(python3 -c "print($(date +%s.%N) - $t0)")
"$venv/bin/python" "$root/python/export_test_models.py" "$work" resnet50 >/dev/null 2>&1
per_layer "$work/resnet50.onnx" "$work/imagenet1.npy" "$work/r50.rate"
read -r r50_core_s r50_pairs < <(project "$work/resnet50.onnx" 512 "$work/r50.rate")
echo
python3 - <<PY
fashion, measured = $fashion_core_s, $measured
core_s, pairs, cores = $r50_core_s, $r50_pairs, 16 * 32
print("| network | samples | pairs (whole table) | core-hours (projected) | wall |")
print("| --- | ---: | ---: | ---: | --- |")
print(f"| bundled Fashion-MNIST ResNet | $samples | - | {fashion / 3600:.4f} | projected {fashion:.1f} s on 1 core, measured {measured:.1f} s (unsharded, 1 core) |")
print(f"| ResNet50-ImageNet 224 | 512 | {pairs:,} | {core_s / 3600:,.0f} | {core_s / cores / 3600:,.1f} h on 16 nodes x 32 cores |")
PY
