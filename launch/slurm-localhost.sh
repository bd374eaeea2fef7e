#!/usr/bin/env bash
# A one-node SLURM on localhost, for trying launch/slurm.sh and for the tests:
#
#   launch/slurm-localhost.sh start   # installs the Debian packages if needed
#                                     # (slurmctld slurmd slurm-client munge),
#                                     # writes /etc/slurm/slurm.conf, starts
#                                     # munged, slurmctld and slurmd (~10 s)
#   launch/slurm-localhost.sh stop    # stops the daemons it started
#
# Needs root (as on a CI runner or a scratch VM; never on a shared machine:
# it overwrites /etc/slurm/slurm.conf). Adapted from the project's known-good
# recipe (Debian 12, slurm 22.05): proctrack/pgid, no accounting daemon.
set -euo pipefail
D=${SLURM_RUN_DIR:-/tmp/slurm-localhost}

stop() {
  for f in "$D/slurmd.pid" "$D/slurmctld.pid" "$D/munged.pid"; do
    [ -f "$f" ] || continue
    p=$(cat "$f"); kill "$p" 2>/dev/null || true
    while kill -0 "$p" 2>/dev/null; do sleep 0.2; done
    rm -f "$f"
  done
}

case "${1:-}" in
  stop) stop; exit 0 ;;
  start) ;;
  *) echo "error: usage: launch/slurm-localhost.sh start|stop" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "error: needs root (it installs packages and writes /etc/slurm)" >&2; exit 2; }
command -v slurmctld >/dev/null && command -v munged >/dev/null || {
  export DEBIAN_FRONTEND=noninteractive; apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null; }
stop
rm -rf "$D"; mkdir -p "$D/state" "$D/spool"
NODE=$(slurmd -C | head -1 | sed 's/^NodeName=[^ ]*/NodeName=localhost/')
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=ci
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
MailProg=/bin/true
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
KillWait=5
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
$NODE State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
install -d -o munge -g munge -m 0755 /run/munge
if ! munge -n >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged; sleep 0.5
  cp /run/munge/munged.pid "$D/munged.pid"
fi
# -D keeps them in the foreground of their own background process; their
# pid files are where stop() finds them.
setsid slurmctld -D -i >"$D/slurmctld.out" 2>&1 </dev/null &
setsid slurmd -D -N localhost >"$D/slurmd.out" 2>&1 </dev/null &
for i in $(seq 120); do
  sinfo -h -o %T 2>/dev/null | grep -qx idle && { sinfo; exit 0; }
  sleep 0.25
done
echo "error: SLURM did not come up in 30 s; see $D/slurmctld.log and $D/slurmd.log" >&2
stop
exit 1
