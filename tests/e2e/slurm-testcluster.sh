#!/bin/bash
# slurm-testcluster.sh - throwaway Slurm cluster on 127.0.0.1 for tests.
# Tested with Debian 12 packages (Slurm 22.05.8, munge 0.5.15), run as root,
# no systemd needed. Install once:
#   apt-get install -y --no-install-recommends slurm-wlm      # slurmctld slurmd slurm-client munge
#
# usage:
#   slurm-testcluster.sh start <dir>   start a cluster whose files all live in <dir>;
#                                      prints "export SLURM_CONF=..." (also saved in <dir>/env)
#   slurm-testcluster.sh <dir>         same as start
#   slurm-testcluster.sh stop <dir>    cancel every job, stop the daemons, remove what start created
#
# knobs (environment):
#   SLURM_TEST_NODES=1        slurmd "nodes" gnode1..gnodeN, all on 127.0.0.1 (one slurmd each, own port)
#   SLURM_TEST_CPUS=8         CPUs per node as Slurm sees them (may exceed the real cores)
#   SLURM_TEST_MEM_MB=2000    RealMemory per node (DefMemPerCPU is 100)
#   SLURM_TEST_AUTH=munge     munge (own munged on a private socket) or none (auth/none, no munged)
#   SLURM_TEST_PORT=          slurmctld port; slurmd ports follow it. Default: a free port in 20000-29999
#   SLURM_TEST_KILLWAIT=5     seconds between TERM and KILL on scancel / time limit
#   SLURM_TEST_TIMEOUT=30     seconds to wait for all nodes to become idle
#   SLURM_TEST_PROBE=1        1: before returning, run one tiny job named "probe" to completion
#                             (proves auth+launch work; the scheduler's first pass comes ~3 s
#                             after slurmctld starts). 0: return as soon as all nodes are idle.
#   SLURM_TEST_CONF_EXTRA=    more slurm.conf lines (galley's addition)
#   SLURM_TEST_KEEP_LOGS=0    1: stop keeps <dir>/log
# All traffic is on 127.0.0.1.
set -u
PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

die() { echo "slurm-testcluster: $*" >&2; exit 1; }
note() { echo "slurm-testcluster: $*" >&2; }

# alive PID: process exists and is not a zombie (kill -0 succeeds on zombies)
alive() {
  local st
  st=$(sed -n 's/^.*) \(.\).*$/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# wait_gone SECS PID... : wait until none of the pids is alive
wait_gone() {
  local secs=$1; shift
  local end=$(( $(date +%s) + secs )) p any
  while :; do
    any=0
    for p in "$@"; do alive "$p" && any=1; done
    [ $any = 0 ] && return 0
    [ "$(date +%s)" -ge $end ] && return 1
    sleep 0.1
  done
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pidfile_pid() { [ -s "$1" ] && head -n1 "$1" | tr -dc 0-9; }

# children PID: pids whose parent is PID (reads /proc, no procps needed)
children() {
  local f rest
  for f in /proc/[0-9]*/stat; do
    rest=$(sed -n 's/^.*) . \([0-9]*\) .*$/\1/p' "$f" 2>/dev/null) || continue
    [ "$rest" = "$1" ] && { f=${f#/proc/}; echo "${f%/stat}"; }
  done
}

# kill_tree PID: SIGKILL a process and all its descendants
kill_tree() {
  local c
  kill -STOP "$1" 2>/dev/null
  for c in $(children "$1"); do kill_tree "$c"; done
  kill -KILL "$1" 2>/dev/null
}

absdir() { mkdir -p "$1" && (cd "$1" && pwd); }

start() {
  local dir nodes cpus mem auth port killwait timeout i p ok
  dir=$(absdir "$1") || die "cannot create $1"
  [ -e "$dir/etc/slurm.conf" ] && die "$dir already holds a cluster; run: $0 stop $dir"
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
    || die "slurmctld/slurmd/sbatch not found: apt-get install slurm-wlm"
  nodes=${SLURM_TEST_NODES:-1}; cpus=${SLURM_TEST_CPUS:-8}; mem=${SLURM_TEST_MEM_MB:-2000}
  auth=${SLURM_TEST_AUTH:-munge}; killwait=${SLURM_TEST_KILLWAIT:-5}; timeout=${SLURM_TEST_TIMEOUT:-30}
  port=${SLURM_TEST_PORT:-}
  if [ -z "$port" ]; then
    for i in $(seq 1 50); do
      p=$(( 20000 + (RANDOM % 1000) * 10 ))
      ok=1
      for q in $(seq $p $((p + nodes + 1))); do port_free $q || ok=0; done
      [ $ok = 1 ] && { port=$p; break; }
    done
    [ -n "$port" ] || die "no free port range found"
  fi

  touch "$dir/.slurm-testcluster"
  mkdir -p "$dir"/{etc,state,spool,log,run}

  local authconf
  if [ "$auth" = munge ]; then
    command -v munged >/dev/null || die "munged not found: apt-get install munge"
    mkdir -p "$dir/munge"
    # munged refuses a socket unless EVERY directory on its path is o+x; a mktemp -d
    # directory is 0700, so the socket gets its own 0755 directory under /tmp.
    local sockdir; sockdir=$(mktemp -d /tmp/slurm-munge.XXXXXX) || die "mktemp failed"
    chmod 0755 "$sockdir"
    echo "$sockdir" > "$dir/munge/sockdir"
    head -c 1024 /dev/urandom > "$dir/munge/munge.key"
    chmod 0400 "$dir/munge/munge.key"            # munged refuses group/other-readable keys
    munged --key-file="$dir/munge/munge.key" --socket="$sockdir/munge.sock" \
           --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
           --seed-file="$dir/munge/munged.seed" \
      || { cat "$dir/munge/munged.log" >&2 2>/dev/null; stop "$dir"; die "munged failed"; }
    authconf="AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sockdir/munge.sock"
  elif [ "$auth" = none ]; then
    authconf="AuthType=auth/none
CredType=cred/none"
  else
    die "SLURM_TEST_AUTH must be munge or none"
  fi

  {
    cat <<EOF
# generated by slurm-testcluster.sh
ClusterName=galleytest
SlurmctldHost=localhost
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
$authconf
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
KillWait=$killwait
MinJobAge=300
InactiveLimit=0
EOF
    for i in $(seq 1 "$nodes"); do
      echo "NodeName=gnode$i NodeHostname=localhost NodeAddr=127.0.0.1 Port=$((port + i)) CPUs=$cpus RealMemory=$mem State=UNKNOWN"
    done
    echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP DefMemPerCPU=100"
    # galley's tests: more lines (a short SlurmdTimeout for a lost node)
    [ -n "${SLURM_TEST_CONF_EXTRA:-}" ] && printf '%s\n' "$SLURM_TEST_CONF_EXTRA"
  } > "$dir/etc/slurm.conf"
  echo "export SLURM_CONF=$dir/etc/slurm.conf" > "$dir/env"

  export SLURM_CONF="$dir/etc/slurm.conf"
  local t0; t0=$(date +%s%N)
  slurmctld || { stop "$dir"; die "slurmctld failed, see $dir/log/slurmctld.log"; }
  for i in $(seq 1 "$nodes"); do
    slurmd -N "gnode$i" || { stop "$dir"; die "slurmd gnode$i failed, see $dir/log/slurmd-gnode$i.log"; }
  done
  local end=$(( $(date +%s) + timeout )) n=0
  while :; do
    n=$(sinfo -h -N -o '%N %T' 2>/dev/null | grep -c ' idle$')
    [ "$n" -ge "$nodes" ] && break
    if [ "$(date +%s)" -ge $end ]; then
      sinfo -N >&2 2>/dev/null; tail -n 20 "$dir"/log/*.log >&2
      SLURM_TEST_KEEP_LOGS=1 stop "$dir"; die "nodes not idle after ${timeout}s (logs kept in $dir/log)"
    fi
    sleep 0.1
  done
  note "$nodes node(s) idle after $(( ($(date +%s%N) - t0) / 1000000 )) ms; slurmctld on 127.0.0.1:$port"
  if [ "${SLURM_TEST_PROBE:-1}" = 1 ]; then
    local pid st; end=$(( $(date +%s) + timeout ))
    pid=$(sbatch --parsable -J probe -o /dev/null -D / --wrap true) || { SLURM_TEST_KEEP_LOGS=1 stop "$dir"; die "probe sbatch failed"; }
    while :; do
      st=$(squeue -h -t all -j "$pid" -o %T 2>/dev/null)
      [ "$st" = COMPLETED ] && break
      case "$st" in PENDING|CONFIGURING|RUNNING|COMPLETING|"") ;; *) SLURM_TEST_KEEP_LOGS=1 stop "$dir"; die "probe job ended $st (logs kept in $dir/log)";; esac
      if [ "$(date +%s)" -ge $end ]; then SLURM_TEST_KEEP_LOGS=1 stop "$dir"; die "probe job still $st after ${timeout}s"; fi
      sleep 0.1
    done
    note "probe job $pid completed; ready after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  fi
  cat "$dir/env"
}

stop() {
  local dir p pids="" i end
  [ -d "$1" ] || { note "$1: no such directory"; return 0; }
  dir=$(cd "$1" && pwd)
  [ -e "$dir/.slurm-testcluster" ] || die "$dir was not created by this script"
  export SLURM_CONF="$dir/etc/slurm.conf"
  p=$(pidfile_pid "$dir/run/slurmctld.pid")
  if [ -e "$SLURM_CONF" ] && [ -n "$p" ] && alive "$p"; then
    # 1. cancel all jobs: scontrol shutdown leaves running jobs (slurmstepd) behind
    local ids; ids=$(squeue -h -t all -o '%i %T' 2>/dev/null | awk '$2 !~ /^(COMPLETED|CANCELLED|FAILED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|PREEMPTED|BOOT_FAIL|DEADLINE)$/ {print $1}')
    if [ -n "$ids" ]; then
      scancel $ids 2>/dev/null
      end=$(( $(date +%s) + ${SLURM_TEST_KILLWAIT:-5} + 15 ))
      while [ -n "$(squeue -h -o %i 2>/dev/null)" ] && [ "$(date +%s)" -lt $end ]; do sleep 0.2; done
    fi
    # 2. stop slurmctld and every registered slurmd
    scontrol shutdown >/dev/null 2>&1
  fi
  # 3. wait for the daemons by pid, then force
  for f in "$dir"/run/*.pid; do
    [ -e "$f" ] || continue
    p=$(pidfile_pid "$f"); [ -n "$p" ] && pids="$pids $p"
  done
  if [ -n "$pids" ] && ! wait_gone 15 $pids; then
    for p in $pids; do alive "$p" && kill -TERM "$p" 2>/dev/null; done
    wait_gone 5 $pids || for p in $pids; do alive "$p" && kill -KILL "$p" 2>/dev/null; done
  fi
  # 4. any slurmstepd still holding this cluster's files open (only after a failed cancel)
  local q fd
  for q in /proc/[0-9]*; do
    q=${q#/proc/}
    [ "$(head -c 11 "/proc/$q/cmdline" 2>/dev/null | tr -d '\0')" = slurmstepd: ] || continue
    for fd in /proc/$q/fd/*; do
      case "$(readlink "$fd" 2>/dev/null)" in "$dir"/*)
        note "killing leftover slurmstepd $q and its children"
        kill_tree "$q"; break;;
      esac
    done
  done
  # 5. munged
  p=$(pidfile_pid "$dir/munge/munged.pid")
  if [ -n "$p" ] && alive "$p"; then
    kill -TERM "$p" 2>/dev/null
    wait_gone 5 "$p" || kill -KILL "$p" 2>/dev/null
  fi
  # 6. files
  local sd; sd=$(cat "$dir/munge/sockdir" 2>/dev/null)
  case "$sd" in /tmp/slurm-munge.??????) rm -rf "$sd";; esac
  rm -rf "$dir"/{etc,state,spool,run,munge,env}
  if [ "${SLURM_TEST_KEEP_LOGS:-0}" != 1 ]; then rm -rf "$dir/log"; rm -f "$dir/.slurm-testcluster"; rmdir "$dir" 2>/dev/null; fi
  note "stopped ($dir)"
}

case "${1:-}" in
  start) [ $# = 2 ] || die "usage: $0 start <dir>"; start "$2";;
  stop)  [ $# = 2 ] || die "usage: $0 stop <dir>"; stop "$2";;
  ""|-h|--help) sed -n '2,25p' "$0"; exit 2;;
  *)     [ $# = 1 ] || die "usage: $0 [start|stop] <dir>"; start "$1";;
esac
