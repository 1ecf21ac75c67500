#!/usr/bin/env bash
# Builds the P0 firmware and the host peers, runs one secure inference with P0 on a Cortex-M4F
# under QEMU (mps2-an386) and P1/P2 on the host, and checks that the firmware's class equals
# the host-only secure inference and the float reference for the same image.
#
# Needs (installs nothing): qemu-system-arm (apt-get install -y --no-install-recommends
# qemu-system-arm) and the Rust target thumbv7em-none-eabihf (rustup target add
# thumbv7em-none-eabihf). Exit code 0 only when the session succeeded and the classes agree.
#
# Wiring: firmware_peers listens on two free ports of 127.0.0.1 and writes them to a file;
# QEMU connects UART0 to P1's port and UART1 to P2's (-serial tcp:127.0.0.1:PORT, client mode).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
HOST_TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
FW_TARGET="$HERE/target"
KERNEL="$FW_TARGET/thumbv7em-none-eabihf/release/p0-client"
QEMU_TIMEOUT="${QEMU_TIMEOUT:-600}"

fail() { echo "run-qemu: FAIL: $*" >&2; exit 1; }

command -v qemu-system-arm >/dev/null ||
    fail "qemu-system-arm not found (apt-get install -y --no-install-recommends qemu-system-arm)"
qemu-system-arm -machine help | grep -q '^mps2-an386' ||
    fail "this qemu-system-arm has no mps2-an386 machine"
[ -d "$(rustc --print sysroot)/lib/rustlib/thumbv7em-none-eabihf" ] ||
    fail "Rust target thumbv7em-none-eabihf missing (rustup target add thumbv7em-none-eabihf)"

WORK="$(mktemp -d)"
PEERS_PID=""
cleanup() {
    if [ -n "$PEERS_PID" ] && kill -0 "$PEERS_PID" 2>/dev/null; then kill "$PEERS_PID"; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== building host peers and generator"
(cd "$ROOT" && timeout 1800 cargo build --release -p patchwork-firmware-host \
    --bin firmware_peers --bin firmware_gen)
echo "== checking firmware-examples/src/generated.rs is current"
timeout 120 "$HOST_TARGET/release/firmware_gen" check --out "$HERE/src/generated.rs"
echo "== building the firmware"
(cd "$HERE" && CARGO_TARGET_DIR="$FW_TARGET" timeout 1800 cargo build --release)

echo "== host-only answers for the bundled image"
EXPECT="$(timeout 300 "$HOST_TARGET/release/firmware_gen" expect)"
echo "$EXPECT"
field() { echo "$EXPECT" | sed -n "s/.*\"$1\": \([0-9]*\).*/\1/p"; }
FLOAT_CLASS="$(field float_class)"
SECURE_CLASS="$(field secure_class)"
[ -n "$FLOAT_CLASS" ] && [ -n "$SECURE_CLASS" ] || fail "cannot parse: $EXPECT"

echo "== starting P1 and P2"
timeout "$((QEMU_TIMEOUT + 60))" "$HOST_TARGET/release/firmware_peers" \
    --ports-file "$WORK/ports" --timeout-s 120 >"$WORK/peers.log" 2>&1 &
PEERS_PID=$!
for _ in $(seq 300); do
    [ -s "$WORK/ports" ] && break
    kill -0 "$PEERS_PID" 2>/dev/null || { cat "$WORK/peers.log"; fail "firmware_peers exited early"; }
    sleep 0.1
done
[ -s "$WORK/ports" ] || fail "firmware_peers did not listen within 30 s"
read -r P1_PORT P2_PORT <"$WORK/ports"

echo "== booting P0 under QEMU (UART0 -> P1 :$P1_PORT, UART1 -> P2 :$P2_PORT)"
START_MS=$(($(date +%s%N) / 1000000))
set +e
timeout "$QEMU_TIMEOUT" qemu-system-arm -machine mps2-an386 -nographic -monitor none \
    -semihosting-config enable=on,target=native \
    -serial "tcp:127.0.0.1:$P1_PORT" -serial "tcp:127.0.0.1:$P2_PORT" \
    -kernel "$KERNEL" 2>&1 | tee "$WORK/qemu.log"
QEMU_RC=${PIPESTATUS[0]}
wait "$PEERS_PID"
PEERS_RC=$?
PEERS_PID=""
set -e
END_MS=$(($(date +%s%N) / 1000000))
cat "$WORK/peers.log"
echo "QEMU wall time (boot to exit, emulation, not device time): $((END_MS - START_MS)) ms"

[ "$QEMU_RC" -eq 0 ] || fail "QEMU (P0) exited with $QEMU_RC"
[ "$PEERS_RC" -eq 0 ] || fail "firmware_peers exited with $PEERS_RC"
FW_CLASS="$(sed -n 's/^P0 class: \([0-9]*\).*/\1/p' "$WORK/qemu.log")"
[ -n "$FW_CLASS" ] || fail "no class in the firmware output"
[ "$FW_CLASS" = "$SECURE_CLASS" ] ||
    fail "firmware class $FW_CLASS != host-only secure class $SECURE_CLASS"
[ "$FW_CLASS" = "$FLOAT_CLASS" ] ||
    fail "firmware class $FW_CLASS != float reference class $FLOAT_CLASS"
echo "run-qemu: OK: firmware P0 class $FW_CLASS = host secure class = float reference class"
