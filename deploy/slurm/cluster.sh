#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for tests and trying the job scripts: munged,
# slurmctld and slurmd started by hand (no systemd) with a minimal slurm.conf in a scratch
# directory. `cluster.sh up DIR` starts it (the node line comes from `slurmd -C`) and prints
# the SLURM_CONF to export; `cluster.sh down DIR` stops it and removes DIR. Its daemons use ports
# 16817 and 16818 (PW_SLURM_PORT to move them), not Slurm's defaults, so that a Slurm already
# on the machine is left alone.
# Needs Debian's slurm-wlm and munge (`apt-get install -y slurm-wlm munge`) and root.
set -euo pipefail
cmd="${1:?usage: cluster.sh up|down DIR}"
dir="$(mkdir -p "${2:?usage: cluster.sh up|down DIR}" && cd "$2" && pwd)"
conf="$dir/slurm.conf"

down() {
  for pid in "$dir"/slurmd.pid "$dir"/slurmctld.pid; do
    [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
  done
  [ -f "$dir/munged.pid" ] && kill "$(cat "$dir/munged.pid")" 2>/dev/null || true
  sleep 1
  rm -rf "$dir"
}

up() {
  mkdir -p "$dir/state" "$dir/spool" /run/munge /var/lib/munge /var/log/munge /etc/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
  chmod 700 /etc/munge && chmod 400 /etc/munge/munge.key
  if ! pgrep -x munged >/dev/null; then
    runuser -u munge -- /usr/sbin/munged
    pgrep -x munged > "$dir/munged.pid"
  fi
  local node host port="${PW_SLURM_PORT:-16817}"
  host="$(hostname -s)"
  node="$(slurmd -C | head -1 | sed 's/ UpTime.*//')"
  cat > "$conf" <<CONF
ClusterName=patchwork
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
$node State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  SLURM_CONF="$conf" slurmctld -f "$conf"
  SLURM_CONF="$conf" slurmd -f "$conf"
  for _ in $(seq 1 60); do
    if SLURM_CONF="$conf" sinfo -h -o %T 2>/dev/null | grep -q idle; then
      echo "SLURM_CONF=$conf"
      return 0
    fi
    sleep 0.5
  done
  echo "the one-node cluster did not come up; logs in $dir" >&2
  return 1
}

case "$cmd" in
  up) up ;;
  down) down ;;
  *) echo "usage: cluster.sh up|down DIR" >&2; exit 2 ;;
esac
