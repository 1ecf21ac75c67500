# Sourced by the bench scripts (not run): the repository root, the Python venv of the tests, a
# scratch folder removed on exit (a script with more to clean sets its own trap after this), a
# release build of patchwork, and two helpers.
#   root  the repository       venv  $PATCHWORK_VENV (default /root/.cache/patchwork-venv)
#   work  the scratch folder   bin   target/release/patchwork, built here
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${PATCHWORK_VENV:-/root/.cache/patchwork-venv}"
work="$(mktemp -d /tmp/patchwork-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
(cd "$root" && cargo build --release -q)
bin="$root/target/release/patchwork"

# Prints the date, the processor and the core count, then the rest of the arguments: the
# first line of every table, so that each figure has its machine beside it.
machine_line() {
  echo "$(date -u '+%F %H:%M') UTC, $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $*"
}

# Prints why `patchwork bench model` refused a run, from its standard error in file $1 (its
# last `error:` line, which names the party and quotes that party's own error).
refusal() {
  grep -o 'error: .*' "$1" | tail -1 | cut -c8- | tail -c 200
}
