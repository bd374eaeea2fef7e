"""Threefry-2x32 lowered unrolled on CPU (deepvsshallow.threefry): the
published known answers, and the same bits as JAX's own CPU lowering."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.extend import random as jex_random

from deepvsshallow import models, threefry, train

# Known-answer vectors of Threefry-2x32-20 from Random123's kat_vectors
# (Salmon et al. 2011): (counter words, key words, output words).
KAT = [
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6b200159, 0x99ba4efe)),
    ((0xffffffff, 0xffffffff), (0xffffffff, 0xffffffff),
     (0x1cb996fc, 0xbb002be7)),
    ((0x243f6a88, 0x85a308d3), (0x13198a2e, 0x03707344),
     (0xc4923a9c, 0x483df7a0)),
]


@pytest.mark.parametrize('counter, key, expected', KAT)
def test_hash_matches_the_published_known_answers(counter, key, expected):
  words = [np.array([w], np.uint32) for w in (*key, *counter)]
  with np.errstate(over='ignore'):
    out = threefry.hash_2x32(*words)
  assert [int(w[0]) for w in out] == list(expected)
  # And through JAX on CPU, which lowers with the same hash.
  out = jax.jit(jex_random.threefry_2x32)(
      jnp.array(key, jnp.uint32), jnp.array(counter, jnp.uint32))
  assert [int(w) for w in out] == list(expected)


def _has_loop() -> bool:
  """Does the lowered program of `jax.random.bits` hold a loop?"""
  return 'stablehlo.while' in jax.jit(lambda k: jax.random.bits(k, (8,))).lower(
      jax.random.key(0)).as_text()


def test_the_cpu_lowering_is_straight_line_code():
  assert not _has_loop()   # JAX's own CPU lowering is a fori_loop.


@pytest.fixture
def jax_own_lowering():
  """`use(False)` switches to JAX's rolled CPU lowering, `use(True)` back;
  ours again afterwards, whatever happened."""
  def use(ours: bool):
    try:
      threefry.use_cpu_lowering('unrolled' if ours else 'jax')
    except NotImplementedError:
      pytest.skip('this jax has no separate CPU lowering of threefry')
  yield use
  threefry.use_cpu_lowering('unrolled')


def test_same_bits_and_same_training_as_jax_own_lowering(digits,
                                                         jax_own_lowering):
  ds = dataclasses.replace(
      digits, train=dataclasses.replace(
          digits.train, inputs=digits.train.inputs[:256],
          targets=digits.train.targets[:256]))
  settings = train.TrainSettings(num_epochs=2, batch_size=32,
                                       progress=False, shard=False)
  model_fn = functools.partial(models.MLP, ds.input_dim, [16, 8], 10)

  def sample():
    key = jax.random.key(7)
    seeds = jnp.arange(5)
    with jax.threefry_partitionable(False):   # The other way to count.
      legacy = jax.jit(lambda k: jax.random.bits(k, (3, 33)))(key)
    return dict(
        legacy_bits=legacy,
        bits=jax.jit(lambda k: jax.random.bits(k, (3, 33)))(key),
        split=jax.random.key_data(jax.jit(jax.random.split)(key)),
        normal=jax.jit(jax.vmap(lambda s: jax.random.truncated_normal(
            jax.random.key(s), -2., 2., (4, 10))))(seeds),
        permutation=jax.jit(lambda k: jax.random.permutation(k, 100))(key),
        result=train.train_population(model_fn, ds, [0, 1, 2],
                                      [1e-3, 3e-3, 1e-2], settings))

  ours = sample()   # (Ours is the lowering in use.)
  jax_own_lowering(False)
  assert _has_loop()   # The fixture really switched lowerings,
  theirs = sample()
  jax_own_lowering(True)
  assert not _has_loop()   # and back.
  for name in ('legacy_bits', 'bits', 'split', 'normal', 'permutation'):
    np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)
  a, b = ours['result'], theirs['result']
  np.testing.assert_array_equal(a.history['train_loss'],
                                b.history['train_loss'])
  np.testing.assert_array_equal(a.best_val, b.best_val)
  jax.tree.map(np.testing.assert_array_equal, a.best_params, b.best_params)
