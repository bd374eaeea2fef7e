#!/usr/bin/env bash
# Run a launcher with one XLA CPU device per core, so that the population axis
# is sharded over every core. Measured (BUILD_NOTES.md): faster for large
# populations (the population benchmark), slower for the tiny digits MLPs.
# PYTHON picks the interpreter (default: python on PATH).
#   launch/cpu.sh experiments/deep_vs_shallow.py --workdir=runs/dvs
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: launch/cpu.sh LAUNCHER.py [--flags...]" >&2; exit 2; }
cores=$(nproc 2>/dev/null || echo 1)
export XLA_FLAGS="${XLA_FLAGS:-} --xla_force_host_platform_device_count=${cores}"
export JAX_PLATFORMS="${JAX_PLATFORMS:-cpu}"
exec "${PYTHON:-python}" "$@"
