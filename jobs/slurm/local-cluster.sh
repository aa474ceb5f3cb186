#!/bin/bash
# jobs/slurm/local-cluster.sh - a throw-away single-node Slurm "cluster" on this machine, for trying the
# job scripts and for tests/regress/slurm.sh (shared STACK.md section 7: no systemd, no cgroups).
#
#   jobs/slurm/local-cluster.sh start     start munged, slurmctld, slurmd; wait until the node is idle
#   jobs/slurm/local-cluster.sh stop      stop them by their PID files (never by name)
#   jobs/slurm/local-cluster.sh status    say what is running
#   jobs/slurm/local-cluster.sh env       print the line to eval so that sbatch/squeue find the cluster
#
# Then:  export SLURM_CONF=${SLURM_TEST_DIR:-/tmp/winnow-slurm}/slurm.conf; sbatch jobs/slurm/demo.sbatch
#
# Everything lives under $SLURM_TEST_DIR (default /tmp/winnow-slurm): slurm.conf, state, spool, logs, PID
# files, and a private munged (its own socket, PID, log and seed file, so a system munged, if any, is left
# alone). Needs root (slurmd, and munged runs as user munge) and the Debian packages
# slurm-wlm slurmctld slurmd munge slurm-client. One partition "debug" holding this node; CPUs and memory
# are what `slurmd -C` reports (memory 90% of it). MpiDefault=pmix: with Debian's Open MPI only pmix works
# for srun (pmi2 and none fail); mpirun inside sbatch works as well.
# Ports: slurmctld 6817, slurmd 6818 (Slurm's defaults) - only one such cluster per machine.
set -euo pipefail

D=${SLURM_TEST_DIR:-/tmp/winnow-slurm}
CONF=$D/slurm.conf
MUNGE_DIR=$D/munge
MUNGE_SOCKET=$MUNGE_DIR/munge.socket

say() { printf '[%s] local-cluster: %s\n' "$(date +%H:%M:%S)" "$*"; }
die() {
  printf '[%s] local-cluster: ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2
  exit 1
}

# alive PIDFILE: the process named in PIDFILE exists
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# wait_for SECONDS COMMAND...: poll every 0.1 s until COMMAND succeeds
wait_for() {
  local tries=$(($1 * 10))
  shift
  while [ "$tries" -gt 0 ]; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
    tries=$((tries - 1))
  done
  return 1
}

munge_ok() { munge -S "$MUNGE_SOCKET" -n | unmunge -S "$MUNGE_SOCKET"; }
ctld_up() { SLURM_CONF=$CONF scontrol ping | grep -q 'is UP'; }
node_idle() { SLURM_CONF=$CONF sinfo -h -o %T | grep -Eq '^(idle|mixed|allocated)'; }

write_conf() {
  local host nodeline mem
  host=$(hostname -s)
  nodeline=$(slurmd -C | head -n 1 | sed 's/ RealMemory=[0-9]*//')
  mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -n 1)
  mem=$((mem * 9 / 10))
  cat >"$CONF" <<CONF
# Written by jobs/slurm/local-cluster.sh on $(date '+%Y-%m-%d %H:%M:%S'); everything under $D.
ClusterName=winnowtest
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
EnforcePartLimits=ALL
ReturnToService=2
MailProg=/bin/true
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
KillWait=5
MinJobAge=300
$nodeline RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
}

start() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (slurmd and munged need it)"
  for c in slurmctld slurmd munged munge unmunge scontrol sinfo; do
    command -v "$c" >/dev/null || die "'$c' not found: apt-get install slurm-wlm slurmctld slurmd munge slurm-client"
  done
  if alive "$D/slurmctld.pid" && alive "$D/slurmd.pid"; then
    say "already running (SLURM_CONF=$CONF)"
    return 0
  fi
  mkdir -p "$D/state" "$D/spool" "$D/log" "$MUNGE_DIR"
  chmod go+x "$D" # munged runs as user munge and must reach its directory inside

  # munge: the package's key, a private daemon
  if [ ! -s /etc/munge/munge.key ]; then
    say "creating /etc/munge/munge.key"
    mungekey --create --force
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
  fi
  chown munge:munge "$MUNGE_DIR"
  chmod 755 "$MUNGE_DIR" # munged wants it owned by munge and not writable by others; clients need to reach the socket
  runuser -u munge -- test -w "$MUNGE_DIR" ||
    die "user munge cannot reach $MUNGE_DIR: every directory above it must be searchable (chmod go+x)"
  if ! alive "$MUNGE_DIR/munged.pid"; then
    runuser -u munge -- munged --socket="$MUNGE_SOCKET" --pid-file="$MUNGE_DIR/munged.pid" \
      --log-file="$MUNGE_DIR/munged.log" --seed-file="$MUNGE_DIR/munged.seed" ||
      die "munged did not start (see $MUNGE_DIR/munged.log)"
  fi
  wait_for 5 munge_ok || die "munge does not work (see $MUNGE_DIR/munged.log)"

  write_conf
  if ! alive "$D/slurmctld.pid"; then
    slurmctld -f "$CONF" || die "slurmctld did not start (see $D/log/slurmctld.log)"
  fi
  wait_for 10 ctld_up || die "slurmctld is not answering (see $D/log/slurmctld.log)"
  if ! alive "$D/slurmd.pid"; then
    slurmd -f "$CONF" || die "slurmd did not start (see $D/log/slurmd.log)"
  fi
  wait_for 30 node_idle || die "the node did not become idle (see $D/log/slurmd.log and $D/log/slurmctld.log)"
  say "up: $(SLURM_CONF=$CONF sinfo -h -o '%P %D node(s) %c CPUs %m MB %T' | head -n 1)"
  say "use it with: export SLURM_CONF=$CONF"
}

stop() {
  local f p stopped=0
  for f in "$D/slurmd.pid" "$D/slurmctld.pid" "$MUNGE_DIR/munged.pid"; do
    [ -s "$f" ] || continue
    p=$(cat "$f")
    if kill "$p" 2>/dev/null; then
      for _ in $(seq 50); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
      done
      if kill -0 "$p" 2>/dev/null; then kill -9 "$p" 2>/dev/null || true; fi
      stopped=$((stopped + 1))
    fi
    rm -f "$f"
  done
  say "stopped $stopped daemon(s); state stays in $D (remove it for a clean start)"
}

status() {
  local f name rc=0
  for f in "$D/slurmctld.pid" "$D/slurmd.pid" "$MUNGE_DIR/munged.pid"; do
    name=$(basename "$f" .pid)
    if alive "$f"; then say "$name running (pid $(cat "$f"))"; else
      say "$name not running"
      rc=1
    fi
  done
  if [ "$rc" -eq 0 ]; then SLURM_CONF=$CONF sinfo || true; fi
  return "$rc"
}

case ${1:-} in
start) start ;;
stop) stop ;;
status) status ;;
env) echo "export SLURM_CONF=$CONF" ;;
*)
  echo "usage: $0 start|stop|status|env   (state under \$SLURM_TEST_DIR, now $D)" >&2
  exit 2
  ;;
esac
