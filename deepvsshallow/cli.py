"""What every absl launcher shares: the config flag, the exit-2 contract and
JAX's persistent compilation cache.

Bad input (an unknown config field, a bad value, an unknown dataset, an
impossible width) prints one line per problem, `error: ...`, and exits with
code 2: no traceback, nothing written. Anything else is a bug and keeps its
traceback.

`main` gives XLA one CPU device per core (`--cpu_devices`,
`runtime.use_cpu_devices`) and deterministic GPU ops (unless $XLA_FLAGS
says otherwise, `runtime.use_deterministic_gpu_ops`), and switches on the package's JAX settings with
`runtime.setup()`
(the Threefry lowering, the compile counter, the persistent compilation
cache): importing a module changes none of them.

`--config` defaults to the study's own config file; `--config=:ARG` passes
ARG to it (`--config=:digits,runlocal`), and `--config=PATH:ARG` names
another file, as with any absl config flag.
"""

from __future__ import annotations

import os
import sys
from typing import Callable

from absl import app, flags, logging
from ml_collections import config_flags

from deepvsshallow import runtime, store
from deepvsshallow.errors import UsageError

USAGE_EXIT_CODE = 2


def usage_exit(message) -> None:
  lines = [l for l in str(message).splitlines() if l.strip()] or [
      str(message)]
  print('\n'.join(f'error: {l}' for l in lines), file=sys.stderr, flush=True)
  sys.exit(USAGE_EXIT_CODE)


def _last_line(error: BaseException) -> str:
  lines = [l.strip() for l in str(error).splitlines() if l.strip()]
  return lines[-1] if lines else type(error).__name__


def define_config(default_file: str, argv=None):
  """DEFINE_config_file('config', ...), with unknown fields as usage errors.

  ml_collections registers `--config.field` overrides while the flag is
  defined, so an unknown field fails here, before any parsing.
  """
  try:
    return config_flags.DEFINE_config_file(
        'config', default_file,
        'Config file[:arg]. Its docstring gives the command, the runtime and '
        'the expected result.', lock_config=True)
  except (AttributeError, KeyError) as e:
    overrides = [a.split('=')[0] for a in (argv or sys.argv)
                 if a.startswith('--config.')]
    usage_exit(f'unknown config field among {", ".join(overrides)} '
               f'({_last_line(e)}); every field is declared in the config '
               f'file ({default_file}).')


def config_value(config_flag):
  """The parsed config, or a one-line error if its file could not load."""
  try:
    config = config_flag.value
    config.keys()  # A config that failed to load raises on first use only.
    return config
  except OSError as e:
    errno_lines = [l.strip() for l in str(e).splitlines() if 'Errno' in l]
    usage_exit('could not load the config file: '
               + (errno_lines[-1] if errno_lines else _last_line(e)))


def run(main: Callable[[list[str]], None], argv=None) -> None:
  """app.run(main), turning flag errors and UsageError into exit code 2."""

  def parse(argv):
    try:
      return flags.FLAGS(argv)
    except flags.Error as e:
      usage_exit(_last_line(e))

  def guarded(argv):
    # TFDS and XLA log at INFO/WARNING about things a user cannot act on;
    # --verbosity=0 (or higher) brings them back.
    if not flags.FLAGS['verbosity'].present:
      logging.set_verbosity(logging.ERROR)
    try:
      main(argv)
    except UsageError as e:
      usage_exit(e)

  app.run(guarded, argv=argv, flags_parser=parse)


def check_environment() -> None:
  """Settings read from the environment, checked before anything runs."""
  if os.environ.get('DEEPVSSHALLOW_SAMPLER'):
    from deepvsshallow.ops import sampling
    sampling.default_implementation()


def _expand_config_arg(config_file: str, argv: list[str]) -> None:
  """--config=:ARG -> --config=<config_file>:ARG, in place."""
  for i, a in enumerate(argv):
    if a.startswith('--config=:'):
      argv[i] = f'--config={config_file}{a[len("--config="):]}'


def launch(name: str, config_file: str, train_and_evaluate: Callable,
           argv: list[str] | None = None) -> None:
  """The whole of a launcher: --config (default: `config_file`) and
  --workdir (default: runs/<name>), the execution flags, then
  `train_and_evaluate(config, workdir, execution=...)` under the exit-2
  contract, after `runtime.setup()`."""
  argv = sys.argv if argv is None else argv
  _expand_config_arg(config_file, argv)
  config_flag = define_config(config_file, argv)
  workdir = flags.DEFINE_string('workdir', os.path.join('runs', name),
                                'Where results are written. Run the same '
                                'command again on it to resume.')
  task_index = flags.DEFINE_integer(
      'task_index', None, 'This array task (0-based): train only its share '
      'of the populations. Default: $SLURM_ARRAY_TASK_ID.')
  num_tasks = flags.DEFINE_integer(
      'num_tasks', None, 'Array tasks sharing the workdir. Default: '
      '$SLURM_ARRAY_TASK_COUNT.')
  allow_change = flags.DEFINE_bool(
      'allow_config_change', False, 'Go on in a workdir whose recorded '
      'config differs (populations whose settings changed train again).')
  distributed = flags.DEFINE_bool(
      'distributed', False, 'Run as one process of a multi-process job '
      '(jax.distributed): every population spans the devices of all '
      'processes, and process 0 writes. Without --coordinator_address the '
      'cluster is detected (SLURM srun, Cloud TPU).')
  coordinator = flags.DEFINE_string(
      'coordinator_address', None, 'host:port where process 0 listens, e.g. '
      '127.0.0.1:12355; implies --distributed and needs --num_processes and '
      '--process_id.')
  num_processes = flags.DEFINE_integer(
      'num_processes', None, 'Processes in the multi-process job.')
  process_id = flags.DEFINE_integer(
      'process_id', None, 'This process (0-based); process 0 writes.')
  cpu_devices = flags.DEFINE_integer(
      'cpu_devices', None, 'XLA CPU devices in this process; a population '
      'is sharded over them (config.shard). Default: one per core this '
      'process may use, or 1 per process of a multi-process job. '
      '$XLA_FLAGS\' --xla_force_host_platform_device_count wins.')

  def main(args):
    if len(args) > 1:
      usage_exit(f'unexpected arguments {args[1:]}; use --flag=value.')
    multi_process = distributed.value or coordinator.value is not None
    runtime.use_deterministic_gpu_ops()
    start_cpu_devices(cpu_devices.value, multi_process)
    start_processes(distributed.value, coordinator.value, num_processes.value,
                    process_id.value)
    check_environment()
    execution = execution_from(task_index.value, num_tasks.value,
                               allow_change.value)
    config = config_value(config_flag)
    runtime.setup()
    train_and_evaluate(config, workdir.value, execution=execution)

  run(main, argv)


def launch_study(study, argv: list[str] | None = None) -> None:
  """The launcher of one `study.Study` (experiments/<name>.py)."""
  launch(study.name, study.config_file, study.train_and_evaluate, argv)


def start_cpu_devices(count: int | None, multi_process: bool) -> None:
  """runtime.use_cpu_devices, before anything starts JAX's backend: one
  device per core, unless the processes of a multi-process job share the
  machine's cores (then one each)."""
  if count is not None and count < 1:
    raise UsageError(f'--cpu_devices={count}: pass 1 or more (or leave it '
                     'out for one device per core).')
  runtime.use_cpu_devices(count or (1 if multi_process else None))


def start_processes(distributed: bool, coordinator: str | None,
                    num_processes: int | None, process_id: int | None) -> None:
  """jax.distributed.initialize, before anything touches a device: from
  explicit addresses, or (--distributed alone) from the cluster's
  environment."""
  explicit = (coordinator, num_processes, process_id)
  if not distributed and all(v is None for v in explicit):
    return
  if any(v is not None for v in explicit):
    if any(v is None for v in explicit):
      raise UsageError('--coordinator_address, --num_processes and '
                       '--process_id go together; pass all three, or only '
                       '--distributed on a cluster that sets them.')
    if num_processes < 1 or not 0 <= process_id < num_processes:
      raise UsageError(f'--process_id={process_id} is outside [0, '
                       f'--num_processes={num_processes}); pass an id from 0 '
                       'to num_processes - 1.')
  import jax
  # Off (JAX's default too): sharing process 0's binaries deadlocked with
  # the runner's compile-ahead threads, which compile in a different order
  # on each process (BUILD_NOTES.md).
  jax.config.update('jax_share_binary_between_hosts', False)
  try:
    jax.distributed.initialize(coordinator, num_processes, process_id)
  except ValueError as e:   # No cluster found in the environment.
    raise UsageError(f'--distributed: {_last_line(e)}; pass '
                     '--coordinator_address, --num_processes and '
                     '--process_id.') from None


def execution_from(task_index, num_tasks, allow_change) -> store.Execution:
  """Flags first, then SLURM's array variables."""
  env = os.environ
  if task_index is None and num_tasks is None and env.get(
      'SLURM_ARRAY_TASK_ID') and env.get('SLURM_ARRAY_TASK_COUNT'):
    try:
      task_index = int(env['SLURM_ARRAY_TASK_ID']) - int(
          env.get('SLURM_ARRAY_TASK_MIN', 0))
      num_tasks = int(env['SLURM_ARRAY_TASK_COUNT'])
    except ValueError:
      raise UsageError('SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT are not '
                       'integers; pass --task_index and --num_tasks.'
                       ) from None
  return store.Execution(task_index, num_tasks, allow_change)
