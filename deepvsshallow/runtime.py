"""The process-wide JAX settings this package uses, switched on by one call.

Importing any module of the package changes no JAX state. A launcher's
`main` (and a notebook, once) calls `setup()`:

  * Threefry-2x32 on CPU lowered as straight-line code
    (`deepvsshallow.threefry`): the same random bits as JAX's own lowering,
    and population programs that compile 1.3-1.8x faster;
  * a `jax.monitoring` listener counting XLA compiles, so a run can report
    how much of its time went to compiling (`compile_stats`);
  * optionally, JAX's persistent compilation cache for every program, in
    $JAX_COMPILATION_CACHE_DIR if set, else $XDG_CACHE_HOME/deepvsshallow/jax
    (default ~/.cache/deepvsshallow/jax): a second run skips compiling.

Each part is idempotent.
"""

from __future__ import annotations

import os

_COMPILES = {'count': 0, 'seconds': 0.0}
_LISTENING = False


def _on_event(event: str, seconds: float, **_) -> None:
  if event == '/jax/core/compile/backend_compile_duration':
    _COMPILES['count'] += 1
    _COMPILES['seconds'] += seconds


def compile_stats() -> dict[str, float]:
  """XLA compiles in this process since `setup()`: {'count', 'seconds'}."""
  return dict(_COMPILES)


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


def setup(*, compilation_cache: bool = True) -> None:
  """The package's JAX settings for this process (see the module doc)."""
  global _LISTENING
  import jax
  from deepvsshallow import threefry
  threefry.register_cpu_lowering()
  if not _LISTENING:
    jax.monitoring.register_event_duration_secs_listener(_on_event)
    _LISTENING = True
  if compilation_cache:
    enable_compilation_cache()
