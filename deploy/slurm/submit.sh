#!/usr/bin/env bash
# Submits the distortion table of a model as a Slurm job array (one shard per task) and a
# merge + knapsack job that runs when every shard has succeeded. Prints the two job ids.
#
#   deploy/slurm/submit.sh --model M.onnx --out DIR [--data-flags "--data fashion-mnist"] [--samples 64]
#       [--plan-flags "..."] [--shards 4] [--threads 2] [--gpus 0] [--budget-ratio 0.1]
#       [--patchwork BIN] [-- SBATCH_OPTIONS...]
#
# --data-flags takes the data flags of `plan distortion` as one string (e.g. "--data images/ --mean 0.5
# --std 0.25"), --plan-flags any other flags of it (e.g. "--relu6-to-relu --input-shape 1,3,224,224
# --max-side 4 --base-spec s.json"); both are split at spaces, so their paths cannot hold
# spaces. --gpus G > 0 asks each task for G GPUs (`--gres=gpu:G`) and the CUDA backend
# (a binary built with `--features cuda`); otherwise each task gets --threads CPU cores.
# Options after `--` go to both sbatch calls (e.g. --partition, --time, --account).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
model= out= data="--data fashion-mnist" flags= samples=64 shards=4 threads=2 gpus=0 budget=0.1
bin="$(command -v patchwork || true)"
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --data-flags) data="$2"; shift 2 ;;
    --plan-flags) flags="$2"; shift 2 ;;
    --samples) samples="$2"; shift 2 ;;
    --shards) shards="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --gpus) gpus="$2"; shift 2 ;;
    --budget-ratio) budget="$2"; shift 2 ;;
    --patchwork) bin="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "submit.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$model" ] && [ -n "$out" ] || { echo "submit.sh: --model and --out are required" >&2; exit 2; }
[ -x "$bin" ] || { echo "submit.sh: no patchwork binary (give --patchwork BIN)" >&2; exit 2; }
mkdir -p "$out"
abs() { (cd "$(dirname "$1")" && echo "$PWD/$(basename "$1")"); }
backend=cpu resources=(--cpus-per-task="$threads")
if [ "$gpus" -gt 0 ]; then backend=cuda resources+=(--gres="gpu:$gpus"); fi
export PW_BIN="$(abs "$bin")" PW_MODEL="$(abs "$model")" PW_OUT="$(abs "$out")" \
  PW_DATA="$data" PW_FLAGS="$flags" PW_SAMPLES="$samples" PW_BACKEND="$backend" PW_SHARDS="$shards" \
  PW_BUDGET="$budget"
array=$(sbatch --parsable --array="0-$((shards - 1))" "${resources[@]}" \
  --output="$PW_OUT/shard-%a.log" --export=ALL "$@" "$here/distortion.sbatch")
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes \
  --output="$PW_OUT/merge.log" --export=ALL "$@" "$here/merge.sbatch")
echo "$array $merge"
