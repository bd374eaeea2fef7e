"""Threefry-2x32 on CPU, lowered without a loop: the same bits, compiled fast.

JAX's default PRNG is the Threefry-2x32 hash with 20 rounds (Salmon et al.
2011, "Parallel random numbers: as easy as 1, 2, 3"). jax 0.10 lowers it on
CPU as a `fori_loop` over its 5 groups of 4 rounds (rolled), elsewhere as
straight-line code (unrolled). Under XLA:CPU's current emitters the rolled
form compiles slowly when it fuses with what uses the bits: one member's
weight initialisation, vmapped over a population of 32 (a (32, 32, 10)
kernel), took 1.8 s of LLVM time on its own, and `jax.random.bits` of that
shape compiles in 2.1-2.5 s rolled against 0.10 s unrolled (2-core VM,
2026-11-22). Upstream came to the same conclusion (jax-ml/jax#37872,
"threefry2x32: use unrolled loops in CPU lowering").

`register_cpu_lowering()` lowers `jax.extend.random.threefry2x32_p` on CPU
with `hash_2x32` below, through `jax.interpreters.mlir` (exported by JAX,
though outside `jax.extend`'s compatibility promise); the engine calls it
when imported. Other platforms keep JAX's lowering. The hash is integer
arithmetic, so every random bit is unchanged. That every float result is
unchanged too (the code around the bits fuses differently) is measured, not
proven: `tests/test_threefry.py` checks the published known-answer vectors
and trains a population bitwise equal under both lowerings, and the whole
lecture's trials were byte for byte the same (BUILD_NOTES.md). Population
programs compile 1.3-1.8x faster (`bench/bench_compile.py`).
"""

from __future__ import annotations

import jax
import numpy as np
from jax.extend import random as jex_random
from jax.interpreters import mlir

# Rotation constants of Threefry-2x32 (Salmon et al. 2011, table 4), used by
# alternate groups of 4 rounds, and the key-schedule parity constant.
ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
KEY_PARITY = 0x1BD11BDA
GROUPS = 5   # 5 groups of 4 rounds: Threefry-2x32-20.


def _rotate_left(x, r: int):
  return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def hash_2x32(key1, key2, x1, x2):
  """Threefry-2x32-20 of the counter words (x1, x2) under key (key1, key2).

  All four are uint32 arrays that broadcast together (the key words are
  often scalars); returns the two output words, of the broadcast shape.
  Straight-line code: 20 rounds of add, rotate, xor, with a key injection
  after every 4.
  """
  ks = (key1, key2, key1 ^ key2 ^ np.uint32(KEY_PARITY))
  x1, x2 = x1 + ks[0], x2 + ks[1]
  for group in range(GROUPS):
    for r in ROTATIONS[group % 2]:
      x1 = x1 + x2
      x2 = _rotate_left(x2, r) ^ x1
    x1 = x1 + ks[(group + 1) % 3]
    x2 = x2 + ks[(group + 2) % 3] + np.uint32(group + 1)
  return x1, x2


def _hash_lowering(k1, k2, x1, x2):
  # The primitive's abstract evaluation has already checked the uint32s.
  return list(hash_2x32(k1, k2, x1, x2))


_ACTIVE = None   # The CPU lowering in use: None (JAX's, untouched), or a kind.


def register_cpu_lowering() -> None:
  """Lowers Threefry-2x32 on CPU with `hash_2x32`. Idempotent; programs
  traced afterwards use it; other platforms keep JAX's lowering."""
  if _ACTIVE != 'unrolled':
    use_cpu_lowering('unrolled')


def use_cpu_lowering(kind: str) -> None:
  """'unrolled' (ours, `hash_2x32`) or 'jax' (JAX's own rolled CPU lowering:
  for comparisons, in tests/test_threefry.py and bench/bench_compile.py).

  Switching from one to the other clears JAX's in-memory caches, so that
  programs are traced again; do not call it while another thread compiles.
  The first registration clears nothing.
  """
  global _ACTIVE
  if kind == 'unrolled':
    rule = mlir.lower_fun(_hash_lowering, multiple_results=True)
  elif kind == 'jax':
    try:   # Private, and only for comparing.
      from jax._src.random import threefry2x32 as jax_threefry
      rule = jax_threefry._threefry2x32_cpu_lowering_rule
    except (ImportError, AttributeError):
      raise NotImplementedError('this jax has no CPU lowering of its own for '
                                'threefry2x32') from None
  else:
    raise ValueError(f"kind must be 'unrolled' or 'jax', got {kind!r}")
  mlir.register_lowering(jex_random.threefry2x32_p, rule, platform='cpu')
  if _ACTIVE is not None and _ACTIVE != kind:
    jax.clear_caches()
  _ACTIVE = kind
