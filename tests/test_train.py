"""The training engine against a numpy reference, itself, and its contracts."""

import functools
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from deepvsshallow import data, models, train

TINY = dict(input_dim=4, hidden_widths=[5, 3], num_classes=3)


def _tiny_batch():
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, size=(6, 2, 2, 1), dtype=np.uint8)
  labels = np.array([0, 1, 2, 0, 1, 2], np.int32)
  return images, labels


def _numpy_loss_and_grads(weights, x, y):
  """Forward and backward of a ReLU MLP with softmax cross-entropy, by hand."""
  acts, h = [x], x
  for w, b in weights[:-1]:
    h = np.maximum(h @ w + b, 0)
    acts.append(h)
  w, b = weights[-1]
  logits = h @ w + b
  z = logits - logits.max(1, keepdims=True)
  p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
  loss = -np.log(p[np.arange(len(y)), y]).mean()
  g = p.copy()
  g[np.arange(len(y)), y] -= 1
  g /= len(y)
  grads = []
  for i in range(len(weights) - 1, -1, -1):
    w, _ = weights[i]
    grads.append((acts[i].T @ g, g.sum(0)))
    g = (g @ w.T) * (acts[i] > 0) if i else None
  return loss, grads[::-1]


def _as_numpy_layers(params):
  layers = [params['hidden'][i] for i in range(len(params['hidden']))]
  layers.append(params['head'])
  return [(np.asarray(l['kernel'][...], np.float64),
           np.asarray(l['bias'][...], np.float64)) for l in layers]


def test_one_sgd_step_matches_numpy_and_golden_loss():
  model_fn = functools.partial(models.MLP, **TINY)
  tx_fn = functools.partial(train.make_optimizer, 'sgd', schedule='constant')
  state = train.init_member(model_fn, tx_fn, seed=0, learning_rate=0.5)
  graphdef, _ = nnx.split(model_fn(rngs=nnx.Rngs(0)))
  images, labels = _tiny_batch()
  x = images.reshape(6, -1).astype(np.float64) / 255

  weights = _as_numpy_layers(state.params)
  loss0, grads = _numpy_loss_and_grads(weights, x, labels)
  new_state, loss = train.train_step(graphdef, tx_fn, state, images, labels,
                                     0.5)
  np.testing.assert_allclose(loss, loss0, rtol=1e-5)
  for (w, b), (gw, gb), (w1, b1) in zip(weights, grads,
                                        _as_numpy_layers(new_state.params)):
    np.testing.assert_allclose(w1, w - 0.5 * gw, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b1, b - 0.5 * gb, rtol=1e-5, atol=1e-6)
  # Golden values: seed 0 initialisation and one step on this batch. They
  # change only if initialisation, the loss or the step changes.
  _, loss1 = train.train_step(graphdef, tx_fn, new_state, images, labels, 0.5)
  np.testing.assert_allclose([loss, loss1], [1.4124417, 1.1556816], rtol=1e-5)


def _small(digits, n_train=256):
  return data.Dataset(
      name='digits-small',
      train=data.Split(digits.train.images[:n_train],
                       digits.train.labels[:n_train]),
      validation=digits.validation, image_shape=digits.image_shape,
      num_classes=10, _read_test=digits.test)


def _mlp(digits, widths=(32, 32)):
  return functools.partial(models.MLP, digits.input_dim, list(widths), 10)


SETTINGS = train.TrainSettings(num_epochs=3, batch_size=32, progress=False,
                               shard=False)


def test_population_equals_one_by_one(digits):
  ds = _small(digits)
  seeds, lrs = [0, 1, 2], [1e-3, 3e-3, 1e-2]
  together = train.train_population(_mlp(digits), ds, seeds, lrs, SETTINGS)
  for i in range(3):
    alone = train.train_population(_mlp(digits), ds, [seeds[i]], [lrs[i]],
                                   SETTINGS)
    np.testing.assert_allclose(together.history['train_loss'][:, i],
                               alone.history['train_loss'][:, 0], rtol=1e-5)
    assert together.best_val_error[i] == alone.best_val_error[0]
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a[i], b[0], rtol=1e-4,
                                                atol=1e-6),
        together.best_params, alone.best_params)


def test_step_compiles_once_per_shape(digits):
  ds = _small(digits)
  program = train.PopulationProgram(_mlp(digits), SETTINGS, len(ds.train))
  train.train_population(_mlp(digits), ds, [0, 1], [1e-3, 1e-2], SETTINGS,
                         program=program)
  # The eval program is shared by every model of this shape (other tests
  # compile it for other split sizes); this shape adds one entry at most.
  evals = program.eval._cache_size()
  # New seeds and learning rates, same shape: the same compiled programs.
  train.train_population(_mlp(digits), ds, [5, 6], [3e-4, 3e-2], SETTINGS,
                         program=program)
  assert program.epoch._cache_size() == 1
  assert program.init._cache_size() == 1
  assert program.eval._cache_size() == evals


def test_seeds_are_replicates_and_learning_rates_change_nothing_else(digits):
  ds = _small(digits)
  program = train.PopulationProgram(_mlp(digits), SETTINGS, len(ds.train))
  state = program.init(jnp.array([0, 0, 1]), jnp.array([1e-3, 1e-2, 1e-3]))
  kernel = np.asarray(state.params['hidden'][0]['kernel'][...])
  np.testing.assert_array_equal(kernel[0], kernel[1])  # Same seed, same init.
  assert not np.allclose(kernel[0], kernel[2])         # Other seed, other init.
  order = lambda seed, epoch: np.asarray(jax.random.permutation(
      jax.random.fold_in(train.member_key(seed, 1), epoch), 256))
  assert np.array_equal(order(0, 3), order(0, 3))
  assert not np.array_equal(order(0, 3), order(0, 4))  # Reshuffled per epoch.
  assert not np.array_equal(order(0, 3), order(1, 3))  # And per seed.
  # Equal rates: two seed-0 members are identical (no other per-member noise).
  r = train.train_population(_mlp(digits), ds, [0, 0], [1e-3, 1e-3],
                             train.TrainSettings(num_epochs=1, batch_size=32,
                                                 progress=False, shard=False))
  np.testing.assert_array_equal(r.history['train_loss'][:, 0],
                                r.history['train_loss'][:, 1])


def test_diverged_member_is_marked_and_the_rest_go_on(digits):
  ds = _small(digits)
  settings = train.TrainSettings(optimizer='sgd', schedule='constant',
                                 num_epochs=3, batch_size=32, progress=False,
                                 shard=False)
  r = train.train_population(_mlp(digits, (64, 64, 64)), ds, [0, 0],
                             [0.05, 1e6], settings)
  assert list(r.diverged) == [False, True]
  assert np.isfinite(r.best_val_error[0]) and r.best_val_error[0] < 0.8  # Chance: 0.9.
  assert all(np.isfinite(np.asarray(x)).all()
             for x in jax.tree.leaves(r.best_params))


def test_best_params_reproduce_best_validation_error(digits):
  ds = _small(digits)
  r = train.train_population(_mlp(digits), ds, [0, 1], [3e-3, 3e-2],
                             train.TrainSettings(num_epochs=6, batch_size=32,
                                                 progress=False, shard=False))
  err, _ = train.evaluate_population(r.graphdef, r.best_params, ds.validation)
  np.testing.assert_allclose(err, r.best_val_error, rtol=1e-6)
  np.testing.assert_allclose(
      r.best_val_error, r.history['val_error'].min(axis=0), rtol=1e-6)
  assert np.all(r.history['val_error'][r.best_epoch, [0, 1]]
                == r.best_val_error)


def test_patience_stops_early(digits):
  ds = _small(digits)
  r = train.train_population(_mlp(digits), ds, [0], [1e-9],
                             train.TrainSettings(num_epochs=50, patience=2,
                                                 batch_size=32,
                                                 progress=False, shard=False))
  assert r.epochs_run < 50


def test_sharded_population_equals_unsharded(tfds_dir):
  """Two virtual CPU devices: the population axis split between them."""
  script = textwrap.dedent(f"""
      import functools, numpy as np, jax
      from deepvsshallow import data, models, train
      assert jax.local_device_count() == 2
      d = data.load_dataset('digits', data_dir={tfds_dir!r})
      fn = functools.partial(models.MLP, d.input_dim, [32], 10)
      out = {{}}
      for shard in (True, False):
        s = train.TrainSettings(num_epochs=2, batch_size=64, progress=False,
                                shard=shard)
        r = train.train_population(fn, d, [0, 1, 2], [1e-3, 3e-3, 1e-2], s)
        out[shard] = r.history['train_loss']
        if shard:
          sh = jax.tree.leaves(r.best_params)[0].sharding
          print('devices', len(sh.device_set))
      np.testing.assert_allclose(out[True], out[False], rtol=1e-5)
      cnn = functools.partial(models.CNN, (8, 8, 1), 10, channels=(4, 8))
      for shard in (True, False):  # Members in turn, one shard per device.
        s = train.TrainSettings(num_epochs=2, batch_size=64, progress=False,
                                shard=shard, members='map')
        out[shard] = train.train_population(cnn, d, [0, 1, 2], [1e-3] * 3,
                                            s).history['train_loss']
      np.testing.assert_allclose(out[True], out[False], rtol=1e-5)
      print('ok')
  """)
  env = dict(os.environ, XLA_FLAGS='--xla_force_host_platform_device_count=2',
             JAX_PLATFORMS='cpu')
  proc = subprocess.run([sys.executable, '-c', script], env=env,
                        capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert 'devices 2' in proc.stdout and 'ok' in proc.stdout


def test_bad_settings_are_usage_errors(digits):
  from deepvsshallow.errors import UsageError
  with pytest.raises(UsageError, match='batch_size'):
    train.PopulationProgram(_mlp(digits), train.TrainSettings(batch_size=10**6),
                            100)
  with pytest.raises(UsageError, match='unknown optimizer'):
    train.make_optimizer('lbfgs-ish', 1.0)
  with pytest.raises(UsageError, match='unknown schedule'):
    train.make_optimizer('adam', 1.0, schedule='step')


def test_members_in_turn_equal_vmapped_members(digits):
  ds = _small(digits)
  fn = functools.partial(models.CNN, (8, 8, 1), 10, channels=(4, 8))
  out = {}
  for members in ('vmap', 'map'):
    s = train.TrainSettings(num_epochs=2, batch_size=32, progress=False,
                            shard=False, members=members)
    program = train.PopulationProgram(fn, s, len(ds.train))
    assert program.members == members
    out[members] = train.train_population(fn, ds, [0, 1, 2], [1e-3, 3e-3, 1e-2],
                                          s, program=program)
  np.testing.assert_allclose(out['map'].history['train_loss'],
                             out['vmap'].history['train_loss'], rtol=1e-5)
  np.testing.assert_allclose(out['map'].best_val_error,
                             out['vmap'].best_val_error)
  auto = train.PopulationProgram(fn, SETTINGS, len(ds.train))
  assert auto.members == ('map' if jax.default_backend() == 'cpu' else 'vmap')
  assert train.PopulationProgram(_mlp(digits), SETTINGS, 256).members == 'vmap'
