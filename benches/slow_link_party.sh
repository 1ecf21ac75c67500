#!/usr/bin/env bash
# One secure inference as three `patchwork party` processes whose three links go through
# python/slow_link.py relays (RATE Mbit/s each way, ONE_WAY_MS of delay each way), with the
# default settings and timeouts: does a model's set-up and inference finish on such a link?
#
# Usage: benches/slow_link_party.sh MODEL.onnx INPUT.npy RATE_MBIT ONE_WAY_MS [party flags...]
# Needs a release build (cargo build --release) and python3. Prints each party's line.
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1 input=$2 rate=$3 delay=$4
shift 4
exe=target/release/patchwork
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
"$exe" session loopback --dir "$dir" >/dev/null
"$exe" architecture --model "$model" --out "$dir/model.arch.json" >/dev/null
port() { grep -A1 "parties.$1" "$dir/session.toml" | sed -n 's/.*127.0.0.1:\([0-9]*\)".*/\1/p'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
p1=$(port p1) p2=$(port p2)
r01=$(free_port) r02=$(free_port) r12=$(free_port)
for link in "$r01:$p1" "$r02:$p2" "$r12:$p2"; do
  python3 python/slow_link.py "${link%%:*}" "127.0.0.1:${link##*:}" "$rate" "$delay" &
  pids+=($!)
done
# P0 dials P1 and P2 through relays, P1 dials P2 through its own; each listens on its own port.
sed -e "s/127.0.0.1:$p1\"/127.0.0.1:$r01\"/" -e "s/127.0.0.1:$p2\"/127.0.0.1:$r02\"/" \
  "$dir/session.toml" >"$dir/p0.toml"
sed -e "s/127.0.0.1:$p2\"/127.0.0.1:$r12\"/" "$dir/session.toml" >"$dir/p1.toml"
cp "$dir/session.toml" "$dir/p2.toml"
sleep 0.5
start=$(date +%s.%N)
"$exe" party --role p2 --config "$dir/p2.toml" --model "$dir/model.arch.json" "$@" &
a=$!
"$exe" party --role p1 --config "$dir/p1.toml" --model "$model" "$@" &
b=$!
rc0=0
"$exe" party --role p0 --config "$dir/p0.toml" --model "$dir/model.arch.json" --input "$input" "$@" \
  >"$dir/p0.out" || rc0=$?
cat "$dir/p0.out"
wait $a && rc2=0 || rc2=$?
wait $b && rc1=0 || rc1=$?
echo "link: $rate Mbit/s, $delay ms each way; wall $(echo "$(date +%s.%N) - $start" | bc) s; exit codes P0 $rc0 P1 $rc1 P2 $rc2"
