#!/usr/bin/env bash
# Patchwork beside Falcon (issue 23, "Peers side by side"): Falcon's own networks (LeNet on
# MNIST, AlexNet for CIFAR-10 without BatchNorm, VGG16 for CIFAR-10), random weights, all ReLUs
# exact, at batch 1 and batched (128; VGG16 8), the two systems interleaved run by run.
# - Falcon (semi-honest 3PC over a 32-bit ring): a copy of the falcon-public checkout FALCON_DIR
#   (github.com/snwagh/falcon-public; this script does not download it), changed in the copy
#   only: inference (`test`) instead of training in src/main.cpp, the batch size, and AlexNet's
#   two BatchNorm layers removed; built with make (g++, libssl-dev) with its default triple-loop
#   matrix product at batch 1 and with Eigen's batched, the faster of the two on each of its
#   networks (BENCHMARKS.md; FALCON_BOTH=1 builds and runs both and takes the faster per run).
#   Its offline phase is a stub of zeros, so its seconds are
#   an online phase's. Its parties run with an unlimited stack (its FCLayer::initialize puts
#   the weights of a layer on the stack: VGG16's 4096 x 4096 need 64 MB).
# - Patchwork: `patchwork bench model --batch N --approx exact` on the same layers
#   (python/export_test_models.py falcon_*), in one phase (joint) and, with `--sign fss
#   --preprocess`, its online phase.
# Each run is one Falcon process of REPEAT forward passes (its figure: their mean, the only
# figure it prints) and one Patchwork session of REPEAT inferences (its figure: the median of
# inferences 2..REPEAT; the first pays the warm-up). Prints seconds per image for each run, then
# the ratio Falcon / Patchwork of the medians over the runs (above 1: Patchwork faster).
#
# Usage: benches/falcon_side_by_side.sh FALCON_DIR [RUNS] [REPEAT] [NETWORKS]
#   (defaults 3, 6 and "LeNet AlexNet VGG16"; needs the venv for the exports)
set -euo pipefail
falcon_src="${1:?usage: benches/falcon_side_by_side.sh FALCON_DIR [RUNS] [REPEAT] [NETWORKS]}"
runs="${2:-3}"
repeat="${3:-6}"
networks="${4:-LeNet AlexNet VGG16}"
[ -f "$falcon_src/src/secondary.cpp" ] || { echo "$falcon_src is not a falcon-public checkout" >&2; exit 1; }
# shellcheck source=benches/common.sh
source "$(dirname "$0")/common.sh"
"$venv/bin/python" "$root/python/export_test_models.py" "$work" \
  falcon_lenet falcon_alexnet_cifar falcon_vgg16_cifar >/dev/null 2>&1

# One Falcon build per batch size 2^$1 and matrix product $2 (Eigen: true or false; both are
# compile-time constants there): $work/falcon.$1.$2/Falcon.out.
build_falcon() {
  local dir="$work/falcon.$1.$2"
  [ -x "$dir/Falcon.out" ] && return
  mkdir -p "$dir"
  (cd "$falcon_src" && tar cf - --exclude=./files/preload --exclude='*.o' --exclude=Falcon.out .) | tar xf - -C "$dir"
  python3 - "$dir" "$1" "$2" "$repeat" <<'PY'
import re, sys
d, log, eigen, passes = sys.argv[1:5]
def edit(path, old, new, count=1):
    text = open(f"{d}/{path}").read()
    if text.count(old) != count:
        sys.exit(f"{path}: expected {count} of {old!r}; is this falcon-public as of 2021?")
    open(f"{d}/{path}", "w").write(text.replace(old, new))
edit("src/main.cpp", '\tnetwork += " train";\n\ttrain(net);', '')
edit("src/main.cpp", '\t// network += " test";\n\t// test(PRELOADING, network, net);',
     '\tnetwork += " test";\n\ttest(PRELOADING, network, net);')
edit("src/globals.h", "#define USING_EIGEN false", f"#define USING_EIGEN {eigen}")
edit("src/globals.h", "#define LOG_MINI_BATCH 7", f"#define LOG_MINI_BATCH {log}")
edit("src/globals.h", "#define NUM_ITERATIONS 1\n", f"#define NUM_ITERATIONS {passes}\n")
# AlexNet for CIFAR-10 without its BatchNorm layers (l3 and l7).
text = open(f"{d}/src/secondary.cpp").read()
start = text.index("CNNConfig(33,33,3,96")
end = text.index('else if (dataset.compare("ImageNet") == 0)', start)
block = text[start:end].replace("config->addLayer(l3);", "").replace("config->addLayer(l7);", "")
text = text[:start] + block + text[end:]
text, n = re.subn(r"NUM_LAYERS = 20;(\s*// NUM_LAYERS = 18;)", r"NUM_LAYERS = 18;\1", text)
if n != 1:
    sys.exit("src/secondary.cpp: AlexNet-CIFAR's NUM_LAYERS = 20 not found")
open(f"{d}/src/secondary.cpp", "w").write(text)
PY
  make -C "$dir" -j"$(nproc)" Falcon.out OPEN_SSL_LOC=/usr >"$dir/build.log" 2>&1 \
    || { tail -20 "$dir/build.log" >&2; exit 1; }
}

# Falcon's P0 seconds per forward pass of network $1 at batch 2^$2 with matrix product $3 (the
# mean of REPEAT passes), and its MB and rounds per pass.
run_falcon() {
  local dir="$work/falcon.$2.$3" dataset=CIFAR10 out
  [ "$1" = LeNet ] && dataset=MNIST
  out="$(cd "$dir" && ulimit -s unlimited && {
    ./Falcon.out 2 files/IP_localhost files/keyC files/keyAC files/keyBC "$1" "$dataset" Semi-honest >/dev/null &
    ./Falcon.out 1 files/IP_localhost files/keyB files/keyBC files/keyAB "$1" "$dataset" Semi-honest >/dev/null &
    timeout 600 ./Falcon.out 0 files/IP_localhost files/keyA files/keyAB files/keyAC "$1" "$dataset" Semi-honest
    wait; })"
  python3 - "$out" "$repeat" <<'PY'
import re, sys
out, passes = sys.argv[1], int(sys.argv[2])
secs = re.search(r"Wall Clock time for .* test: ([0-9.e+-]+) sec", out)
mb = re.search(r"Total communication: ([0-9.e+-]+)MB \(sent\)", out)
rounds = re.search(r"Rounds, .* test, P0: (\d+)\(sends\)", out)
if not secs:
    sys.exit("Falcon printed no wall-clock time:\n" + out[-2000:])
per = lambda m: f"{float(m.group(1)) / passes:.6g}" if m else "nan"
print(per(secs), per(mb), per(rounds))
PY
}

# Patchwork's P0 seconds per inference for model $1 at batch $2 (flags after), MB and rounds;
# "refused" and the reason on standard error when bench model refuses the setting.
run_patchwork() {
  local model="$1" batch="$2"
  shift 2
  if ! "$bin" bench model --model "$model" --approx exact --batch "$batch" --repeat "$repeat" "$@" \
    --json >"$work/r.json" 2>"$work/err"; then
    echo "$(basename "$model") batch $batch $*: refused: $(refusal "$work/err")" >&2
    echo "refused - -"
    return
  fi
  python3 - "$work/r.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(r["steady_seconds"] or r["seconds"], r["bytes"]["total"] / 1e6, r["rounds"])
PY
}

machine_line "seconds per image; Falcon: mean of $repeat forward passes; Patchwork: median of inferences 2-$repeat of a session"
echo
echo "| network | batch | run | Falcon s/image (its product: s per pass) | Falcon MB, rounds | Patchwork joint s/image | MB, rounds | Patchwork fss online s/image | MB, rounds |"
echo "| --- | ---: | ---: | ---: | --- | ---: | --- | ---: | --- |"
summary=""
for net in $networks; do
  case "$net" in
    LeNet) model="$work/falcon_lenet.onnx"; big=7 ;;
    AlexNet) model="$work/falcon_alexnet_cifar.onnx"; big=7 ;;
    VGG16) model="$work/falcon_vgg16_cifar.onnx"; big=3 ;;
    *) echo "unknown network $net (LeNet, AlexNet or VGG16)" >&2; exit 1 ;;
  esac
  for log in 0 "$big"; do
    batch=$((1 << log))
    products=false
    [ "$log" = 0 ] || products=true
    [ "${FALCON_BOTH:-0}" = 1 ] && products="false true"
    for p in $products; do build_falcon "$log" "$p"; done
    f_all="" j_all="" o_all=""
    for run in $(seq 1 "$runs"); do
      each=()
      for p in $products; do
        read -r s fmb fr < <(run_falcon "$net" "$log" "$p")
        each+=("$s")
      done
      fs="$(python3 -c "print(min([${each[*]/%/,}]))")"
      read -r js jmb jr < <(run_patchwork "$model" "$batch")
      read -r os omb or < <(run_patchwork "$model" "$batch" --sign fss --preprocess)
      per() { python3 -c "print(f'{$1 / $batch:.4f}')" 2>/dev/null || echo "$1"; }
      echo "| $net | $batch | $run | $(per "$fs") (Eigen $products: ${each[*]} s per pass) | $fmb, $fr | $(per "$js") | $jmb, $jr | $(per "$os") | $omb, $or |"
      f_all+="$fs " j_all+="$js " o_all+="$os "
    done
    summary+="$(python3 - "$net" "$batch" "$f_all" "$j_all" "$o_all" <<'PY'
import statistics as st, sys
net, batch = sys.argv[1], int(sys.argv[2])
def median(runs):
    """The median seconds of the runs, or None when Patchwork refused the setting."""
    return None if "refused" in runs else st.median(map(float, runs.split()))
mf, mj, mo = (median(a) for a in sys.argv[3:])
cells = [f"{mf / batch:.4f}"]
for m in (mj, mo):
    cells += ["refused", "-"] if m is None else [f"{m / batch:.4f}", f"{mf / m:.2f}x"]
print(f"| {net} | {batch} | " + " | ".join(cells) + " |")
PY
)"$'\n'
  done
done
echo
echo "Medians over the runs (ratio = Falcon / Patchwork seconds; above 1: Patchwork faster)"
echo
echo "| network | batch | Falcon s/image | Patchwork joint s/image | ratio | Patchwork fss online s/image | ratio |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s' "$summary"
