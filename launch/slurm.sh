#!/usr/bin/env bash
# Submits an experiment to SLURM as a job array that shares one workdir, then
# a report job that runs after the whole array succeeded; or, with
# --processes=N, as one job of N processes that train together.
#
#   launch/slurm.sh [options] experiments/<study>.py --workdir=DIR [flags...]
#
# Each array task runs the launcher with SLURM_ARRAY_TASK_ID/COUNT set, which
# the launchers read as --task_index/--num_tasks: every task trains its own
# deterministic share of the populations and saves them in DIR. The report
# job runs the same command with no task: it loads what the tasks saved,
# trains anything missing, and writes the report. Run that command by hand
# to finish or resume at any time.
#
# With --processes=N, one job runs N processes (srun, one per SLURM task,
# over --nodes nodes), each with --distributed: jax.distributed finds its
# peers from SLURM's variables, every population is sharded over the devices
# of all N processes, and process 0 writes the report. Resubmit the same
# command to resume it.
#
# Options (defaults in brackets):
#   --array-size=N       array tasks [4]
#   --processes=N        one job of N processes instead of an array [0: array]
#   --nodes=M            nodes for the N processes [1]
#   --partition=NAME     partition [the cluster's default]
#   --time=T             time limit per task, sbatch syntax [01:00:00]
#   --gpus-per-task=G    GPUs per task [0]
#   --cpus-per-task=C    CPUs per task [2]
#   --python=PATH        the interpreter to run [python3]
#   --dry-run            print the sbatch commands instead of submitting
#   --help               this text
# The environment variable SBATCH names the sbatch to call [sbatch].
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
fail() { echo "error: $*" >&2; exit 2; }

array_size=4 partition='' time_limit=01:00:00 gpus=0 cpus=2 python=python3
processes=0 nodes=1 dry_run=0
while [ $# -gt 0 ]; do
  case "$1" in
    --array-size=*) array_size=${1#*=} ;;
    --processes=*) processes=${1#*=} ;;
    --nodes=*) nodes=${1#*=} ;;
    --partition=*) partition=${1#*=} ;;
    --time=*) time_limit=${1#*=} ;;
    --gpus-per-task=*) gpus=${1#*=} ;;
    --cpus-per-task=*) cpus=${1#*=} ;;
    --python=*) python=${1#*=} ;;
    --dry-run) dry_run=1 ;;
    --help|-h) usage; exit 0 ;;
    --*) fail "unknown option $1; see launch/slurm.sh --help." ;;
    *) break ;;
  esac
  shift
done
[ $# -ge 1 ] || fail "no launcher given; usage: launch/slurm.sh [options] experiments/<study>.py --workdir=DIR [flags...]"
launcher=$1; shift
[ -f "$launcher" ] || fail "launcher $launcher does not exist; pass e.g. experiments/deep_vs_shallow.py."
[[ "$array_size" =~ ^[1-9][0-9]*$ ]] || fail "--array-size must be a positive integer, got '$array_size'."
[[ "$processes" =~ ^[0-9]+$ ]] || fail "--processes must be an integer >= 0, got '$processes'."
[[ "$nodes" =~ ^[1-9][0-9]*$ ]] || fail "--nodes must be a positive integer, got '$nodes'."
[ "$processes" = 0 ] || [ "$nodes" -le "$processes" ] || fail "--nodes=$nodes is more than --processes=$processes; each node needs a process."
[[ "$gpus" =~ ^[0-9]+$ ]] || fail "--gpus-per-task must be an integer >= 0, got '$gpus'."
[[ "$cpus" =~ ^[1-9][0-9]*$ ]] || fail "--cpus-per-task must be a positive integer, got '$cpus'."
case " $* " in *" --workdir="*) ;; *) fail "pass --workdir=DIR: the array tasks and the report share it." ;; esac
SBATCH=${SBATCH:-sbatch}
if [ "$dry_run" = 0 ] && ! command -v "$SBATCH" >/dev/null; then
  fail "$SBATCH not found: this machine has no SLURM client; run on a login node, or use --dry-run to see the commands."
fi

name=$(basename "$launcher" .py)
common=(--job-name="dvs-$name" --chdir="$PWD" --cpus-per-task="$cpus"
        --time="$time_limit" --export=ALL)
[ -n "$partition" ] && common+=(--partition="$partition")
[ "$gpus" != 0 ] && common+=(--gpus-per-task="$gpus")
command=$(printf '%q ' "$python" "$launcher" "$@")

if [ "$processes" != 0 ]; then
  job=("$SBATCH" --parsable "${common[@]}" --ntasks="$processes"
       --nodes="$nodes" --output="slurm-logs/$name-%j.out"
       --wrap="srun $command--distributed")
  if [ "$dry_run" = 1 ]; then printf '%q ' "${job[@]}"; echo; exit 0; fi
  mkdir -p slurm-logs
  job_id=$("${job[@]}")
  echo "job $job_id ($processes processes on $nodes node(s)); log in slurm-logs/$name-$job_id.out"
  exit 0
fi
mkdir -p slurm-logs

array=("$SBATCH" --parsable "${common[@]}" --array="0-$((array_size - 1))"
       --output="slurm-logs/$name-%A_%a.out" --wrap="$command")
if [ "$dry_run" = 1 ]; then
  printf '%q ' "${array[@]}"; echo
  printf '%q ' sbatch --parsable "${common[@]}" --dependency=afterok:ARRAY_JOB \
    --output="slurm-logs/$name-report-%j.out" --wrap="$command"; echo
  exit 0
fi
array_job=$("${array[@]}")
report_job=$("$SBATCH" --parsable "${common[@]}" --dependency="afterok:$array_job" \
  --output="slurm-logs/$name-report-%j.out" --wrap="$command")
echo "array $array_job ($array_size tasks), then report $report_job; logs in slurm-logs/"
