"""The process-wide JAX settings this package uses, switched on by one call.

Importing any module of the package changes no JAX state. A launcher's
`main` (and a notebook, once) calls `setup()`:

  * Threefry-2x32 on CPU lowered as straight-line code
    (`deepvsshallow.threefry`): the same random bits as JAX's own lowering,
    and population programs that compile 1.3-1.8x faster;
  * `jax.monitoring` listeners counting the programs XLA compiled or loaded
    from the persistent cache, and the time it took, so a run can report
    how much of its time went to compiling (`compile_stats`);
  * optionally, JAX's persistent compilation cache for every program, in
    $JAX_COMPILATION_CACHE_DIR if set, else $XDG_CACHE_HOME/deepvsshallow/jax
    (default ~/.cache/deepvsshallow/jax): a second run skips compiling.

Each part is idempotent.

Before any of that, while JAX has not started its backend, a launcher calls
`use_cpu_devices()`: one XLA CPU device per core, so that a population
sharded over the devices keeps every core busy (XLA:CPU runs a small matmul
on one core; BUILD_NOTES.md measures the gain); and
`use_deterministic_gpu_ops()`: where a GPU plugin is installed, XLA's
deterministic GPU ops, unless $XLA_FLAGS sets them either way (a resumed
run then equals an uninterrupted one on a GPU too; results record it,
`deterministic_ops`).
"""

from __future__ import annotations

import collections
import os

_COMPILES = {'count': 0, 'seconds': 0.0, 'cached': 0}
_NAMES = collections.Counter()   # Programs by jitted function name.
_LISTENING = False


def _on_event(event: str, seconds: float, fun_name: str = '', **_) -> None:
  if event == '/jax/core/compile/backend_compile_duration':
    _COMPILES['count'] += 1
    _COMPILES['seconds'] += seconds
    _NAMES[fun_name] += 1


def _on_count(event: str, **_) -> None:
  if event == '/jax/compilation_cache/cache_hits':
    _COMPILES['cached'] += 1


def compile_stats() -> dict[str, float]:
  """Programs since `setup()`: {'count': every program the process needed,
  however warm the cache; 'seconds': spent compiling them (or loading them);
  'cached': how many of them came from the persistent cache}."""
  return dict(_COMPILES)


def programs_named(name: str) -> int:
  """Programs since `setup()` of the jitted function `name` (e.g.
  'jit(_run)'): the count of one kind among the op-by-op ones."""
  return _NAMES[name]


def compilation_cache_dir() -> str:
  cache_home = os.environ.get('XDG_CACHE_HOME') or os.path.expanduser(
      '~/.cache')
  return os.environ.get('JAX_COMPILATION_CACHE_DIR') or os.path.join(
      cache_home, 'deepvsshallow', 'jax')


def enable_compilation_cache(path: str | None = None) -> None:
  """Every compiled program cached on disk (JAX's default skips those that
  compile in under a second: most of ours on a GPU)."""
  import jax
  jax.config.update('jax_compilation_cache_dir',
                    path or compilation_cache_dir())
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)
  jax.config.update('jax_persistent_cache_min_entry_size_bytes', 0)


def cores() -> int:
  """The cores this process may run on (its CPU affinity: what SLURM or a
  container grants, not the whole machine)."""
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:   # macOS has no affinity call.
    return os.cpu_count() or 1


def use_cpu_devices(count: int | None = None) -> int:
  """XLA's CPU backend with `count` devices (default: one per core).

  Call it before anything starts JAX's backend. A device count already set
  in $XLA_FLAGS (`--xla_force_host_platform_device_count`) wins, and 0 is
  returned; otherwise the count set. It changes nothing on a GPU or TPU,
  where the CPU backend holds no population.
  """
  if 'xla_force_host_platform_device_count' in os.environ.get(
      'XLA_FLAGS', ''):
    return 0
  import jax
  count = count or cores()
  jax.config.update('jax_num_cpu_devices', count)
  return count


DETERMINISTIC_GPU_FLAG = 'xla_gpu_deterministic_ops'


def _flag_value(xla_flags: str, name: str) -> bool | None:
  """The last setting of boolean XLA flag `name` in `xla_flags` (a bare
  `--name` is true), or None when it is not there."""
  value = None
  for token in xla_flags.split():
    key, _, setting = token.lstrip('-').partition('=')
    if key == name:
      value = setting.lower() not in ('false', '0', 'no') if setting else True
  return value


def deterministic_gpu_flags(xla_flags: str) -> str:
  """`xla_flags` with XLA's deterministic GPU ops on (the scatter-adds of
  the sampler's backward and some reductions are not, by default), unless
  the flags already set it either way: the user's choice wins. Other
  backends ignore the flag."""
  if _flag_value(xla_flags, DETERMINISTIC_GPU_FLAG) is not None:
    return xla_flags
  return f'{xla_flags} --{DETERMINISTIC_GPU_FLAG}=true'.strip()


def gpu_installed() -> bool:
  """Whether JAX could start a GPU backend here, read without starting it:
  a CUDA or ROCm plugin (or a CUDA build of jaxlib) is installed and
  $JAX_PLATFORMS does not rule GPUs out."""
  import importlib.metadata
  platforms = os.environ.get('JAX_PLATFORMS', '').lower()
  if platforms and not any(p in platforms for p in ('cuda', 'gpu', 'rocm')):
    return False
  for dist in importlib.metadata.distributions():
    name = (dist.metadata['Name'] or '').lower().replace('_', '-')
    if name.startswith(('jax-cuda', 'jax-rocm')) or (
        name == 'jaxlib' and '+cuda' in (dist.version or '')):
      return True
  return False


def use_deterministic_gpu_ops(gpu: bool | None = None) -> None:
  """$XLA_FLAGS through `deterministic_gpu_flags` where a GPU may run
  (`gpu`, default `gpu_installed()`). Elsewhere the flags stay as they
  are: XLA_FLAGS are part of the compilation cache's key, so a flag that
  changes nothing on CPU would still keep launchers from sharing compiled
  programs with in-process runs (notebooks, tests). Call it before anything
  starts JAX's backend (a launcher and the notebooks do); afterwards it
  changes nothing."""
  if gpu_installed() if gpu is None else gpu:
    os.environ['XLA_FLAGS'] = deterministic_gpu_flags(
        os.environ.get('XLA_FLAGS', ''))


def deterministic_ops(backend: str, xla_flags: str | None = None) -> bool:
  """Whether this backend's ops give the same bits run to run: XLA on CPU
  and TPU does; on GPU only with the flag on (what $XLA_FLAGS says, as the
  backend read it at start)."""
  if backend != 'gpu':
    return True
  flags = os.environ.get('XLA_FLAGS', '') if xla_flags is None else xla_flags
  return bool(_flag_value(flags, DETERMINISTIC_GPU_FLAG))


def float32_matmuls(backend: str, precision: str, device=None) -> str:
  """What a float32 matmul (or convolution) computes in under
  `jax.default_matmul_precision(precision)` on this backend, as
  `jax.lax.Precision`'s documentation gives it: XLA:CPU ignores the
  setting; a TPU runs 1, 3 or 6 bfloat16 passes; a GPU uses TensorFloat-32
  (a 10-bit mantissa) where it has it (NVIDIA compute capability 8.0 and
  up: A100, H100, H200) unless the precision is 'highest' or
  $NVIDIA_TF32_OVERRIDE=0 turns it off; on ROCm it is not determined here.
  `device`: one of the run's devices (its `compute_capability`, where it
  has one)."""
  if backend == 'tpu':
    passes = {'default': 1, 'high': 3, 'highest': 6}[precision]
    return f'bfloat16 x{passes}' + (' (about float32)' if passes == 6 else '')
  if backend != 'gpu' or precision == 'highest':
    return 'float32'
  client = getattr(device, 'client', None)
  if 'rocm' in str(getattr(client, 'platform_version', '')).lower():
    return 'float32 or a reduced format (not determined on ROCm)'
  if os.environ.get('NVIDIA_TF32_OVERRIDE') == '0':
    return 'float32 (NVIDIA_TF32_OVERRIDE=0)'
  capability = getattr(device, 'compute_capability', None)
  try:
    major = int(str(capability).split('.')[0])
  except ValueError:
    return 'TensorFloat-32 where the GPU has it (not determined)'
  return 'TensorFloat-32' if major >= 8 else 'float32'


def setup(*, compilation_cache: bool = True) -> None:
  """The package's JAX settings for this process (see the module doc)."""
  global _LISTENING
  import jax
  from deepvsshallow import threefry
  threefry.register_cpu_lowering()
  if not _LISTENING:
    jax.monitoring.register_event_duration_secs_listener(_on_event)
    jax.monitoring.register_event_listener(_on_count)
    _LISTENING = True
  if compilation_cache:
    enable_compilation_cache()
