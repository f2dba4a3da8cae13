#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, for tests of the job scripts.
#   scripts/slurm_local.sh up DIR     installs (apt, as root) and starts munge, slurmctld, slurmd
#   scripts/slurm_local.sh down DIR   stops the daemons started by `up` (by their pid files)
# ECOM_SLURM_CPUS: CPUs the node declares (default: nproc; more lets small jobs share cores).
# DIR holds slurm.conf, state, logs and pid files. See ../shared/PLATFORM.md.
set -euo pipefail
cmd="${1:?usage: slurm_local.sh up|down DIR}"
dir="$(mkdir -p "${2:?usage: slurm_local.sh up|down DIR}" && cd "$2" && pwd)"

down_slurm() {
  for f in "$dir/slurmd.pid" "$dir/slurmctld.pid"; do
    if [[ -f "$f" ]]; then
      pid="$(cat "$f" 2>/dev/null || true)"
      if [[ -n "$pid" ]]; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      fi
      rm -f "$f"
    fi
  done
}
down() {
  down_slurm
  # munged only if `up` started it (its pid was copied to DIR/munged.pid).
  if [[ -f "$dir/munged.pid" ]]; then
    pid="$(cat "$dir/munged.pid" 2>/dev/null || true)"
    if [[ -n "$pid" ]]; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$dir/munged.pid"
  fi
}

if [[ "$cmd" == down ]]; then down; exit 0; fi
[[ "$cmd" == up ]] || { echo "usage: slurm_local.sh up|down DIR" >&2; exit 2; }
if [[ $(id -u) -ne 0 ]]; then
  echo "slurm_local.sh: needs root to install and start munge/slurm" >&2
  exit 77
fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurm-wlm slurmctld slurmd slurm-client munge >/dev/null
fi
# munge
[[ -f /etc/munge/munge.key ]] || mungekey --create --keyfile=/etc/munge/munge.key
chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  rm -f /run/munge/munged.pid
  su -s /bin/sh munge -c "/usr/sbin/munged"
  for _ in $(seq 50); do [[ -s /run/munge/munged.pid ]] && break; sleep 0.1; done
  cp /run/munge/munged.pid "$dir/munged.pid"
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi
munge -n | unmunge >/dev/null || { echo "slurm_local.sh: munge does not work" >&2; exit 1; }
# slurm.conf
host="$(hostname)"
cpus="${ECOM_SLURM_CPUS:-$(nproc)}"  # more than nproc: tasks share cores (tests, small jobs)
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) * 8 / 10 / 1024 ))
mkdir -p "$dir/state" "$dir/spool" "$dir/log"
cat > "$dir/slurm.conf" <<CONF
ClusterName=ecomtest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SwitchType=switch/none
MailProg=/bin/true
ReturnToService=2
SlurmdParameters=config_overrides
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
export SLURM_CONF="$dir/slurm.conf"
down_slurm
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 100); do
  sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)' && break
  sleep 0.2
done
sinfo -h -o %t | grep -qE '^(idle|mix|alloc)' || { echo "slurm_local.sh: node did not come up; see $dir/log" >&2; exit 1; }
echo "export SLURM_CONF=$SLURM_CONF"
