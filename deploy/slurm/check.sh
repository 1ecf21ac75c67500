#!/usr/bin/env bash
# End-to-end check of the Slurm job scripts on a one-node cluster (a CI step): brings the
# cluster up, submits the distortion table of two models as 4-task arrays with their merge +
# knapsack jobs, and checks
#   - the merged table equals an unsharded run of the same model, byte for byte (`cmp`): every
#     channel's hypotheses are measured by the same code on the same images in the same order
#     whichever shard holds it, so nothing is allowed to differ;
#   - a task requeued mid-run (what a preemption or node failure does; `scontrol requeue`)
#     resumes from its partial file: its log says "(k already done)" with k >= 1 after the
#     requeue, and the table still equals the unsharded one;
#   - the whole array submitted again is idempotent: every task says its shard is complete and
#     the table is unchanged;
#   - a merge with a shard missing is refused, naming it;
# then tears the cluster down. The models: the bundled Fashion-MNIST ResNet (1 channel) and a
# 3-channel CNN exported with today's default torch.onnx.export, on Fashion-MNIST images made
# 3-channel here. Prints each step's wall time.
#
# Usage: deploy/slurm/check.sh [PATCHWORK_BIN]   (root; needs slurm-wlm, munge, the venv)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$(realpath "${1:-$root/target/release/patchwork}")"
venv="${PATCHWORK_VENV:-/root/.cache/patchwork-venv}"
work="$(mktemp -d /tmp/patchwork-slurm-check.XXXXXX)"
trap '"$here/cluster.sh" down "$work/cluster" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
start=$(date +%s)
step() { echo "[slurm check, $(($(date +%s) - start)) s] $*"; }
fail() { echo "slurm check FAILED: $*" >&2; for f in "$work"/*/*.log; do echo "== $f"; cat "$f"; done >&2; exit 1; }

eval "$("$here/cluster.sh" up "$work/cluster" | grep '^SLURM_CONF=')"
export SLURM_CONF
step "one-node cluster up: $(sinfo -h -o '%N %c CPUs %T')"

# state JOB: the job's (or array task's) state while slurmctld remembers it (MinJobAge 300 s).
state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -1; }
# wait_done JOB...: until none of the jobs is pending or running (at most 10 minutes).
wait_done() {
  local deadline=$(($(date +%s) + 600))
  while squeue -h -j "$(IFS=,; echo "$*")" 2>/dev/null | grep -q .; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "jobs $* still queued after 10 minutes"
    sleep 0.5
  done
}
# run_array NAME MODEL DATA_FLAGS [PLAN_FLAGS]: submits 4 shards of 16 samples, 2 CPUs each;
# sets $array $merge.
run_array() {
  read -r array merge < <("$here/submit.sh" --model "$2" --out "$work/$1" --data-flags "$3" \
    --plan-flags "${4:-}" --samples 16 --shards 4 --threads 2 --patchwork "$bin" -- --time=20)
}
# unsharded NAME MODEL DATA_FLAGS [PLAN_FLAGS]: the same table in one process, outside Slurm.
unsharded() {
  # shellcheck disable=SC2086 # the flags are several words.
  "$bin" plan distortion --model "$2" $3 ${4:-} --samples 16 --out "$work/$1.unsharded.json" \
    >/dev/null 2>"$work/$1.unsharded.log"
}
check_merged() {
  [ "$(state "$merge")" = COMPLETED ] || fail "$1: merge job $merge is $(state "$merge")"
  cmp "$work/$1/table.json" "$work/$1.unsharded.json" \
    || fail "$1: the merged table differs from the unsharded one"
  [ -s "$work/$1/spec.json" ] || fail "$1: the merge job wrote no spec"
  ! ls "$work/$1"/*.partial >/dev/null 2>&1 || fail "$1: partial files left behind"
}

# 1. The bundled model, one task requeued mid-run.
fashion="$root/models/fashion_resnet.onnx"
unsharded fashion "$fashion" "--data fashion-mnist"
step "fashion: unsharded table measured"
run_array fashion "$fashion" "--data fashion-mnist"
deadline=$(($(date +%s) + 300))
until [ -f "$work/fashion/shard-1.json.partial" ] && [ "$(state "${array}_1")" = RUNNING ]; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "task ${array}_1 never ran with a partial file"
  sleep 0.1
done
scontrol requeue "${array}_1"
# Slurm holds a requeued job back for about two minutes; once it is pending again, let it
# start as soon as it can.
until [ "$(state "${array}_1")" = PENDING ]; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "task ${array}_1 did not go back to pending"
  sleep 0.1
done
scontrol update JobId="${array}_1" StartTime=now
step "fashion: task ${array}_1 requeued mid-run"
wait_done "$array" "$merge"
check_merged fashion
grep -q "DUE TO JOB REQUEUE" "$work/fashion/shard-1.log" || fail "task 1 was not requeued"
resumed=$(sed -n '/DUE TO JOB REQUEUE/,$ s/.*(\([0-9]*\) already done).*/\1/p' "$work/fashion/shard-1.log")
[ "${resumed:-0}" -ge 1 ] || fail "the requeued task did not resume from its partial file"
step "fashion: merged table = unsharded (cmp); the requeued task resumed with $resumed layer(s) done"

# 2. The whole array again: idempotent.
cp "$work/fashion/table.json" "$work/fashion.first.json"
run_array fashion "$fashion" "--data fashion-mnist"
wait_done "$array" "$merge"
check_merged fashion
cmp "$work/fashion/table.json" "$work/fashion.first.json" || fail "the rerun changed the table"
for i in 0 1 2 3; do
  [ "$(grep -c 'already complete for this run; nothing to do' "$work/fashion/shard-$i.log")" = 1 ] \
    || fail "shard $i was measured again on the rerun"
done
step "fashion: the array submitted again measured nothing and left the table unchanged"

# 3. A 3-channel network of a user's own, on 3-channel images made from Fashion-MNIST.
"$venv/bin/python" "$root/python/export_test_models.py" "$work" small_rgb_dynamo >/dev/null 2>&1 \
  || fail "cannot export the 3-channel test model with $venv"
"$venv/bin/python" - "$work/rgb.npy" <<'PY'
import gzip, sys, numpy as np
with gzip.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz") as f:
    x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:16] / 255.0
x = np.pad(x, ((0, 0), (2, 2), (2, 2)))[:, ::2, ::2]  # 16 x 16
np.save(sys.argv[1], np.stack([x, x ** 2, 1.0 - x], axis=1).astype(np.float32))
PY
rgb="$work/small_rgb_dynamo.onnx"
unsharded rgb "$rgb" "--data $work/rgb.npy" "--max-side 4 --coarse-blocks 2"
run_array rgb "$rgb" "--data $work/rgb.npy" "--max-side 4 --coarse-blocks 2"
wait_done "$array" "$merge"
check_merged rgb
step "3-channel CNN (own candidate sides): merged table = unsharded (cmp)"

# 4. A merge with a shard missing is refused by name.
if out=$("$bin" plan merge --out "$work/m.json" "$work"/rgb/shard-{0,1,3}.json 2>&1); then
  fail "a merge without shard 2 was accepted"
fi
grep -q "shard 2/4 is missing" <<<"$out" || fail "the missing shard was not named: $out"
step "merge without shard 2 refused: $out"
step "passed"
