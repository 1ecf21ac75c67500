#!/usr/bin/env bash
# The privacy tests' power: core/tests/privacy.rs must pass on the protocol and fail, with a
# "privacy:" finding, on each leak the core's test-only `leak-*` features inject (cancelling
# masks at P2, a mask reused across steps, a share of the sign sent to P2). Run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo test -q -p patchwork-core --test privacy
for leak in leak-cancelling-masks leak-reused-mask leak-sign-to-p2; do
  # Build first, so that a build failure is not taken for a detected leak.
  cargo test -q -p patchwork-core --features "$leak" --test privacy --no-run
  if out=$(cargo test -q -p patchwork-core --features "$leak" --test privacy 2>&1); then
    echo "privacy mutants: the leak '$leak' went undetected" >&2
    exit 1
  fi
  if ! finding=$(grep -m1 -o 'privacy: .*' <<<"$out"); then
    echo "privacy mutants: '$leak' failed without a privacy finding:" >&2
    echo "$out" | tail -20 >&2
    exit 1
  fi
  echo "$leak: detected: $finding"
done
