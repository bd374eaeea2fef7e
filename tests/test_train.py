"""The training engine against a numpy reference, itself, and its contracts."""

import dataclasses
import functools
import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import ROOT, sweep_command, xla_flags
from flax import nnx

from deepvsshallow import data, models, params, runtime, tasks, train
from deepvsshallow.errors import UsageError

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


def _step_def(model_fn, task='classification', convention='pixels',
              **settings):
  settings = train.TrainSettings(**settings)
  tx_fn = functools.partial(train.make_optimizer, settings, total_steps=1)
  return train.make_step_def(
      nnx.eval_shape(lambda: model_fn(rngs=nnx.Rngs(0))),
      tasks.get_task(task), convention, tx_fn)


def test_one_sgd_step_matches_numpy_and_golden_loss():
  model_fn = functools.partial(models.MLP, **TINY)
  step_def = _step_def(model_fn, optimizer='sgd', schedule='constant')
  state = train.init_member(model_fn, step_def, seed=0, learning_rate=0.5)
  images, labels = _tiny_batch()
  x = images.reshape(6, -1).astype(np.float64) / 255

  weights = _as_numpy_layers(state.params)
  loss0, grads = _numpy_loss_and_grads(weights, x, labels)
  new_state, loss = train.train_step(step_def, state, images, labels, 0.5)
  np.testing.assert_allclose(loss, loss0, rtol=1e-5)
  for (w, b), (gw, gb), (w1, b1) in zip(weights, grads,
                                        _as_numpy_layers(new_state.params)):
    np.testing.assert_allclose(w1, w - 0.5 * gw, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b1, b - 0.5 * gb, rtol=1e-5, atol=1e-6)
  # Golden values: seed 0 initialisation and one step on this batch. They
  # change only if initialisation, the loss or the step changes.
  _, loss1 = train.train_step(step_def, new_state, images, labels, 0.5)
  np.testing.assert_allclose([loss, loss1], [1.4124417, 1.1556816], rtol=1e-5)


def _small(digits, n_train=256):
  return dataclasses.replace(
      digits, name='digits-small',
      train=data.Split(digits.train.inputs[:n_train],
                       digits.train.targets[:n_train]))


def _mlp(digits, widths=(32, 32)):
  return functools.partial(models.MLP, digits.input_dim, list(widths), 10)


def _settings(**overrides):
  # Tests that compare two code paths use exact float32 matmuls, so that
  # they hold on GPUs too, where float32 matmuls default to TF32.
  return train.TrainSettings(**{
      'num_epochs': 3, 'batch_size': 32, 'progress': False, 'shard': False,
      'matmul_precision': 'highest', **overrides})


SETTINGS = _settings()


def test_population_equals_one_by_one(digits):
  ds = _small(digits)
  seeds, lrs = [0, 1, 2], [1e-3, 3e-3, 1e-2]
  together = train.train_population(_mlp(digits), ds, seeds, lrs, SETTINGS)
  for i in range(3):
    alone = train.train_population(_mlp(digits), ds, [seeds[i]], [lrs[i]],
                                   SETTINGS)
    np.testing.assert_allclose(together.history['train_loss'][:, i],
                               alone.history['train_loss'][:, 0], rtol=1e-5)
    assert together.best_val[i] == alone.best_val[0]
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a[i], b[0], rtol=1e-4,
                                                atol=1e-6),
        (together.best_params, together.best_rest),
        (alone.best_params, alone.best_rest))


def test_one_compile_per_training_run(digits):
  """A training run is one program; new seeds and rates reuse it, and
  initialise without compiling anything (the op-by-op initialisation's
  programs are cached by shape)."""
  ds = _small(digits)
  fn = _mlp(digits, (23, 17))  # A shape no other test compiles.
  program = train.make_program(fn, ds, SETTINGS)
  runs = lambda: runtime.programs_named(train.TRAINING_PROGRAM)
  before = runs()
  train.run_program(program, ds, [0, 1], [1e-3, 1e-2])
  assert runs() - before == 1
  count = runtime.compile_stats()['count']
  train.run_program(program, ds, [5, 6], [3e-4, 3e-2])
  assert runtime.compile_stats()['count'] == count
  assert runs() - before == 1


def test_the_programs_of_a_sweep_are_pinned(tmp_path, tfds_dir):
  """A one-architecture sweep (TINY_SWEEP, one device) needs two training
  programs (one per initialisation scheme: the second, the same program,
  comes from the persistent cache), and 42 programs in all: the evaluation
  programs, small ones around them and the op-by-op initialisation's (the
  runtime.compile_stats counts, the same however warm the cache is). A
  change that compiles per call, per seed or per rate raises them."""
  proc = subprocess.run(sweep_command(tmp_path / 'run'), cwd=ROOT,
                        capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  compiles = json.loads((tmp_path / 'run' / 'results.json').read_text())[
      'compile']
  assert compiles['training'] == 2, compiles
  assert compiles['count'] == 42, compiles


def test_chunked_run_equals_one_call(digits):
  """Progress calls the program in chunks of epochs: same numbers."""
  ds = _small(digits)
  settings = _settings(num_epochs=4)
  program = train.make_program(_mlp(digits), ds, settings)
  outs = []
  for stops in ([4], [1, 3, 4]):
    carry, args = train._run_inputs(program, ds, [0, 1], [1e-3, 1e-2])
    for stop in stops:
      carry = program.run(carry, np.int32(stop), *args)
    outs.append(jax.device_get(carry))
  jax.tree.map(np.testing.assert_array_equal, *outs)


def test_a_population_trains_without_host_round_trips(digits):
  """Every epoch and step of a population runs inside its one program (no
  host round trip per step or per epoch, on any backend): without a
  progress bar the host calls it once for all 6 epochs, and the program
  holds no callback to the host, while its epochs are a loop in it."""
  ds = _small(digits)
  settings = _settings(num_epochs=6)
  program = train.make_program(_mlp(digits), ds, settings)
  calls = []
  jitted = program.run
  program.run = lambda *args: calls.append(args[1]) or jitted(*args)
  result = train.run_program(program, ds, [0, 1], [1e-3, 1e-2])
  assert result.epochs_run == 6 and [int(c) for c in calls] == [6]
  carry, args = train._run_inputs(program, ds, [0, 1], [1e-3, 1e-2],
                                  start=False)
  hlo = jitted.lower(carry, np.int32(6), *args).as_text()
  assert 'callback' not in hlo.lower() and 'while' in hlo


@pytest.mark.parametrize('shard', [True, False])
def test_a_resume_from_a_checkpoint_equals_one_run(digits, tmp_path, shard):
  """Saved at epoch 2 of 4, a second call resumes there: the same result,
  bitwise, whether the members sit on a mesh (sharded) or on the host."""
  from deepvsshallow import checkpoints
  ds = _small(digits)
  settings = _settings(num_epochs=4, shard=shard)
  program = train.make_program(_mlp(digits), ds, settings)
  args = (program, ds, [0, 1], [1e-3, 1e-2])
  whole = train.run_program(*args)
  ckpt = checkpoints.Checkpoint(str(tmp_path / 'ckpt'), every=2)
  first = train.run_program(*args, checkpoint=ckpt)
  assert first.resumed_from == 0 and os.listdir(tmp_path / 'ckpt') == ['2']
  again = train.run_program(*args, checkpoint=ckpt)
  ckpt.close()
  assert again.resumed_from == 2 and again.epochs_run == 4
  for r in (first, again):
    jax.tree.map(np.testing.assert_array_equal,
                 (whole.best_params, whole.best_val, whole.history),
                 (r.best_params, r.best_val, r.history))


def test_seeds_are_replicates_and_learning_rates_change_nothing_else(digits):
  ds = _small(digits)
  program = train.make_program(_mlp(digits), ds, SETTINGS)
  state = program._init(jnp.array([0, 0, 1]), jnp.array([1e-3, 1e-2, 1e-3]))
  kernel = np.asarray(state.params['hidden'][0]['kernel'][...])
  np.testing.assert_array_equal(kernel[0], kernel[1])  # Same seed, same init.
  assert not np.allclose(kernel[0], kernel[2])         # Other seed, other init.
  order = lambda seed, epoch: np.asarray(train.permutation(
      jax.random.fold_in(train.member_key(seed, 1), epoch), 256))
  # Pinned: the batch order of seed 0, epoch 3 (n=256). It changes only if
  # the seed streams or JAX's PRNG change.
  assert order(0, 3)[:8].tolist() == [199, 21, 29, 108, 52, 208, 214, 230]
  assert not np.array_equal(order(0, 3), order(0, 4))  # Reshuffled per epoch.
  assert not np.array_equal(order(0, 3), order(1, 3))  # And per seed.
  # Equal rates: two seed-0 members are identical (no other per-member noise).
  r = train.train_population(_mlp(digits), ds, [0, 0], [1e-3, 1e-3],
                             _settings(num_epochs=1))
  np.testing.assert_array_equal(r.history['train_loss'][:, 0],
                                r.history['train_loss'][:, 1])


@pytest.mark.parametrize('n', [0, 1, 2, 255, 3400, 65537, 170000])
def test_the_engines_permutation_is_jaxs_bit_for_bit(n):
  # JAX sorts once up to 1,625 elements, twice from there to 2.6 million (the
  # ideal set is 170,000).
  keys = jax.random.split(jax.random.key(n), 3)
  ours = jax.jit(jax.vmap(lambda k: train.permutation(k, n)))(keys)
  theirs = jax.vmap(lambda k: jax.random.permutation(k, n))(keys)
  assert ours.dtype == theirs.dtype
  np.testing.assert_array_equal(ours, theirs)
  if n > 2:  # A permutation, and not the identity.
    np.testing.assert_array_equal(np.sort(ours[0]), np.arange(n))
    assert not np.array_equal(ours[0], np.arange(n))


def test_diverged_member_is_marked_and_the_rest_go_on(digits):
  ds = _small(digits)
  settings = _settings(optimizer='sgd', schedule='constant')
  r = train.train_population(_mlp(digits, (64, 64, 64)), ds, [0, 0],
                             [0.05, 1e6], settings)
  assert list(r.diverged) == [False, True]
  assert np.isfinite(r.best_val[0]) and r.best_val[0] < 0.8  # Chance: 0.9.
  assert all(np.isfinite(np.asarray(x)).all()
             for x in jax.tree.leaves(r.best_params))


def test_best_params_reproduce_best_validation_error(digits):
  ds = _small(digits)
  settings = _settings(num_epochs=6)
  r = train.train_population(_mlp(digits), ds, [0, 1], [3e-3, 3e-2],
                             settings)
  err = train.EvalProgram(r.step_def, settings)(
      r.best_params, r.best_rest, ds.validation)['error']
  np.testing.assert_allclose(err, r.best_val, rtol=1e-6)
  np.testing.assert_allclose(r.best_val, r.history['val'].min(axis=0),
                             rtol=1e-6)
  assert np.all(r.history['val'][r.best_epoch, [0, 1]] == r.best_val)


def test_patience_stops_early(digits):
  ds = _small(digits)
  r = train.train_population(_mlp(digits), ds, [0], [1e-9],
                             _settings(num_epochs=50, patience=2))
  # A rate of 1e-9 changes nothing: the first epoch is the best, and the
  # run stops `patience` epochs after it.
  assert r.best_epoch[0] == 0 and r.epochs_run == 3


def test_sharded_population_equals_unsharded(tfds_dir):
  """Two virtual CPU devices, members in turn (shard_map, one shard per
  device) against one device: the same bits, for a CNN and an MLP. Each
  member runs the same computation wherever it is placed (vmapped members
  do not: a device's batch of members rounds by its size, and they agree
  only to float rounding; tests/test_distributed.py). It relies on XLA
  compiling a member's body alike in both programs: an XLA upgrade could
  break that without a bug here. On two devices the three members are
  padded to four: the padding member never trains (its parameters are
  its initial ones, its losses NaN)."""
  script = textwrap.dedent(f"""
      import functools, numpy as np, jax
      from deepvsshallow import data, models, train
      assert jax.local_device_count() == 2
      d = data.load_dataset('digits', data_dir={tfds_dir!r})
      nets = {{'cnn': functools.partial(models.CNN, (8, 8, 1), 10,
                                        channels=(4, 8)),
               'mlp': functools.partial(models.MLP, 64, [64, 64], 10)}}
      for name, net in nets.items():
        out = {{}}
        for shard in (True, False):
          s = train.TrainSettings(num_epochs=3, batch_size=64, progress=False,
                                  shard=shard, members='map')
          prog = train.make_program(net, d, s)
          members = [0, 1, 2], [3e-3, 1e-2, 3e-2]
          r = train.run_program(prog, d, *members)
          out[shard] = [r.history['train_loss'], r.history['val'], r.best_val,
                        *jax.tree.leaves(r.best_params)]
          if not shard:
            continue
          # The population axis is placed across both devices.
          carry, _ = train._run_inputs(prog, d, *members, start=False)
          sh = jax.tree.leaves(carry['state'].params)[0].sharding
          print(name, 'devices', len(sh.device_set))
          if name != 'mlp':
            continue
          # The three members are padded to four; the padding one does not
          # train.
          carry, args = train._run_inputs(prog, d, *members)
          first = [np.asarray(a)
                   for a in jax.tree.leaves(carry['state'].params)]
          c = jax.tree.map(np.asarray, prog.run(carry, np.int32(3), *args))
          last = jax.tree.leaves(c['state'].params)
          assert len(first[0]) == 4 and np.isnan(c['train_loss'][:, 3]).all()
          np.testing.assert_array_equal(c['train_loss'][:, :3],
                                        r.history['train_loss'])
          for a, b in zip(first, last):
            np.testing.assert_array_equal(a[3], b[3])
            assert not np.array_equal(a[2], b[2])
        for a, b in zip(out[True], out[False]):
          np.testing.assert_array_equal(a, b)
        print(name, 'equal')
  """)
  env = dict(os.environ, XLA_FLAGS=xla_flags(2),
             JAX_PLATFORMS='cpu')
  proc = subprocess.run([sys.executable, '-c', script], env=env,
                        capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  for name in ('cnn', 'mlp'):
    assert f'{name} devices 2' in proc.stdout and f'{name} equal' in proc.stdout


def test_bad_settings_are_usage_errors(digits):
  with pytest.raises(UsageError, match='batch_size'):
    train.make_program(_mlp(digits), _small(digits, 100),
                       _settings(batch_size=10**6))
  with pytest.raises(UsageError, match='unknown optimizer'):
    train.make_optimizer(_settings(optimizer='lbfgs-ish'), 1.0, 10)
  with pytest.raises(UsageError, match='unknown schedule'):
    train.make_optimizer(_settings(schedule='step'), 1.0, 10)


def test_members_in_turn_equal_vmapped_members(digits):
  ds = _small(digits)
  fn = functools.partial(models.CNN, (8, 8, 1), 10, channels=(4, 8))
  out = {}
  for members in ('vmap', 'map'):
    s = _settings(num_epochs=2, members=members)
    program = train.make_program(fn, ds, s)
    assert program.members == members
    out[members] = train.run_program(program, ds, [0, 1, 2],
                                     [1e-3, 3e-3, 1e-2])
  np.testing.assert_allclose(out['map'].history['train_loss'],
                             out['vmap'].history['train_loss'], rtol=1e-5)
  np.testing.assert_allclose(out['map'].best_val, out['vmap'].best_val)
  auto = train.make_program(fn, ds, SETTINGS)
  assert auto.members == ('map' if jax.default_backend() == 'cpu' else 'vmap')
  assert train.make_program(_mlp(digits), ds, SETTINGS).members == 'vmap'


def test_auto_members_take_turns_from_the_threshold(digits, monkeypatch):
  # One hidden layer of w units on digits (64 inputs, 10 classes) has
  # 75 w + 10 parameters, biases included (the closed form).
  abstract = lambda width: nnx.eval_shape(
      lambda: _mlp(digits, (width,))(rngs=nnx.Rngs(0)))
  mode = lambda width, backend='cpu': train.members_mode('auto',
                                                         abstract(width),
                                                         backend)
  # 666 units fall just below the default threshold, 667 reach it.
  assert params.mlp_param_count(64, [666], 10) < train.MAP_MIN_PARAMS
  assert params.mlp_param_count(64, [667], 10) >= train.MAP_MIN_PARAMS
  assert (mode(666), mode(667)) == ('vmap', 'map')
  # At the threshold exactly, and one parameter short of it.
  monkeypatch.setattr(train, 'MAP_MIN_PARAMS', 75 * 100 + 10)
  assert mode(100) == 'map'
  monkeypatch.setattr(train, 'MAP_MIN_PARAMS', 75 * 100 + 11)
  assert mode(100) == 'vmap'
  # Only CPUs take turns by default; an explicit mode is kept everywhere.
  cnn = nnx.eval_shape(lambda: models.CNN((8, 8, 1), 10, channels=(4, 8),
                                          rngs=nnx.Rngs(0)))
  assert train.members_mode('auto', cnn, 'cpu') == 'map'
  assert mode(667, 'gpu') == train.members_mode('auto', cnn, 'tpu') == 'vmap'
  assert train.members_mode('map', abstract(10), 'gpu') == 'map'
  # The program's own pick follows JAX's backend.
  program = train.make_program(_mlp(digits, (667,)), _small(digits), SETTINGS)
  assert program.members == ('map' if jax.default_backend() == 'cpu'
                             else 'vmap')


# ----------------------------------------------------------------- tasks

def _float_dataset(x_train, y_train, x_val, y_val, task):
  return data.Dataset(
      name='synthetic', train=data.Split(x_train, y_train),
      validation=data.Split(x_val, y_val), input_shape=x_train.shape[1:],
      num_classes=1, input_convention='float', task=task,
      _read_test=lambda: data.Split(x_val, y_val))


def test_regression_reaches_the_least_squares_fit():
  """y = 2x - 1 + noise: a linear model trained on squared error lands on
  numpy's least-squares solution, and its MSE and max error on validation
  are the residuals' (both computed here with numpy)."""
  rng = np.random.default_rng(0)
  x = rng.uniform(-1, 1, (512, 1)).astype(np.float32)
  y = (2 * x - 1 + 0.1 * rng.standard_normal((512, 1))).astype(np.float32)
  ds = _float_dataset(x[:384], y[:384], x[384:], y[384:], 'regression')
  fn = functools.partial(models.Linear, 1, 1)
  r = train.train_population(
      fn, ds, [0], [0.05], _settings(num_epochs=60, optimizer='adam',
                                     schedule='cosine'))
  (w, b), *_ = np.linalg.lstsq(np.c_[x[:384], np.ones(384)], y[:384],
                               rcond=None)
  kernel = r.best_params['dense']['kernel'][...][0, 0, 0]
  bias = r.best_params['dense']['bias'][...][0, 0]
  np.testing.assert_allclose([kernel, bias], [w[0], b[0]], atol=5e-3)
  residual = y[384:, 0] - (w[0] * x[384:, 0] + b[0])
  metrics = train.EvalProgram(r.step_def, SETTINGS)(
      r.best_params, r.best_rest, ds.validation)
  np.testing.assert_allclose(metrics['mse'], np.mean(residual ** 2),
                             rtol=2e-2)
  np.testing.assert_allclose(metrics['max_error'], np.abs(residual).max(),
                             atol=1e-2)


def test_binary_task_reaches_the_bayes_optimum():
  """x in {-1, +1}; P(y=1 | x=+1) = 0.8, P(y=1 | x=-1) = 0.3, with exactly
  those frequencies. The best any model can do: error 0.25 (the Bayes
  error) and cross-entropy the mean of the two binary entropies."""
  x = np.repeat([1.0, -1.0], 400).astype(np.float32)[:, None]
  y = np.concatenate([np.repeat([1, 0], [320, 80]),
                      np.repeat([1, 0], [120, 280])]).astype(np.int32)
  ds = _float_dataset(x, y, x, y, 'binary')
  # Kept on the loss: the error reaches 0.25 in the first epoch, long
  # before the loss reaches its optimum.
  task = dataclasses.replace(tasks.get_task('binary'), select_on='loss')
  r = train.train_population(
      functools.partial(models.Linear, 1, 1), ds, [0], [0.1],
      _settings(num_epochs=40, batch_size=80), task=task)
  h = lambda p: -(p * np.log(p) + (1 - p) * np.log(1 - p))
  metrics = train.EvalProgram(r.step_def, SETTINGS)(
      r.best_params, r.best_rest, ds.validation)
  assert metrics['error'][0] == pytest.approx(0.25, abs=1e-7)
  np.testing.assert_allclose(metrics['loss'], (h(0.8) + h(0.3)) / 2,
                             atol=2e-3)


class BatchNormMLP(nnx.Module):
  def __init__(self, input_dim, width, num_classes, *, rngs):
    self.dense = nnx.Linear(input_dim, width, rngs=rngs)
    self.norm = nnx.BatchNorm(width, rngs=rngs)
    self.head = nnx.Linear(width, num_classes, rngs=rngs)

  def __call__(self, x):
    x = x.reshape(x.shape[0], -1)
    return self.head(jax.nn.relu(self.norm(self.dense(x))))


def test_batchnorm_population_equals_one_by_one(digits):
  """Non-Param state (BatchNorm statistics) trains in a population, is
  updated by training, and is what evaluation uses."""
  ds = _small(digits)
  fn = functools.partial(BatchNormMLP, 64, 32, 10)
  seeds, lrs = [0, 1], [1e-3, 1e-2]
  together = train.train_population(fn, ds, seeds, lrs, SETTINGS)
  mean = together.best_rest['norm']['mean'][...]
  assert np.abs(mean).max() > 0.05  # The running mean moved from 0.
  for i in range(2):
    alone = train.train_population(fn, ds, [seeds[i]], [lrs[i]], SETTINGS)
    np.testing.assert_allclose(together.history['train_loss'][:, i],
                               alone.history['train_loss'][:, 0], rtol=1e-5)
  # Validation errors are not compared: the dense bias before BatchNorm has
  # a gradient of exactly 0 in exact arithmetic, so its float gradient is
  # rounding noise that differs between batched and single runs, and Adam
  # turns that noise into steps of size lr. The running mean follows that
  # bias, so evaluation (running statistics) differs while the training
  # loss (batch statistics) does not (BUILD_NOTES.md).

  # Evaluation uses the running statistics: the best validation error is
  # reproduced by a numpy forward pass with them.
  x = ds.validation.inputs.reshape(len(ds.validation), -1) / 255.0
  p, rest = together.best_params, together.best_rest
  h = x @ p['dense']['kernel'][...][0] + p['dense']['bias'][...][0]
  h = (h - rest['norm']['mean'][...][0]) / np.sqrt(
      rest['norm']['var'][...][0] + 1e-5)
  h = np.maximum(h * p['norm']['scale'][...][0] + p['norm']['bias'][...][0],
                 0)
  logits = h @ p['head']['kernel'][...][0] + p['head']['bias'][...][0]
  error = np.mean(np.argmax(logits, 1) != ds.validation.targets)
  assert error == pytest.approx(together.best_val[0], abs=1 / len(x) + 1e-9)


class FrozenFeatures(nnx.Module):
  """A probe: fixed random features (not trained), a trained linear head."""

  def __init__(self, *, rngs):
    self.features = models.Frozen(jax.random.normal(rngs.params(), (64, 16)))
    self.head = nnx.Linear(16, 10, rngs=rngs)

  def __call__(self, x):
    return self.head(jnp.tanh(x.reshape(x.shape[0], -1) @ self.features[...]))


def test_frozen_variables_do_not_train(digits):
  ds = _small(digits)
  r = train.train_population(FrozenFeatures, ds, [0], [1e-2], SETTINGS)
  initial = FrozenFeatures(rngs=nnx.Rngs(params=train.member_key(0, 0)))
  np.testing.assert_array_equal(r.best_rest['features'][...][0],
                                initial.features[...])
  assert not np.allclose(r.best_params['head']['kernel'][...][0],
                         initial.head.kernel[...])
  assert r.best_val[0] < 0.85  # Chance is 0.9: the head learned.



def test_mimic_loss_value_and_gradient(x64):
  """Squared error on logits (Ba & Caruana 2014): the value against numpy,
  the gradient through a tiny linear student against float64 central
  differences."""
  task = tasks.get_task('logit_matching')
  rng = np.random.default_rng(0)
  x = rng.normal(size=(5, 3))
  teacher = rng.normal(size=(5, 4))
  w = rng.normal(size=(3, 4))
  loss = lambda w: task.loss(jnp.asarray(x) @ w, jnp.asarray(teacher)).mean()
  assert float(loss(w)) == pytest.approx(np.mean((x @ w - teacher) ** 2),
                                         rel=1e-12)
  grad = np.asarray(jax.grad(loss)(jnp.asarray(w)))
  assert grad.dtype == np.float64
  eps, fd = 1e-6, np.zeros_like(w)
  for i in np.ndindex(*w.shape):
    e = np.zeros_like(w)
    e[i] = eps
    fd[i] = (float(loss(w + e)) - float(loss(w - e))) / (2 * eps)
  np.testing.assert_allclose(grad, fd, rtol=1e-7, atol=1e-9)


def test_a_student_mimicking_a_linear_teacher_recovers_it():
  """Logit matching is least squares on the teacher's logits: a linear
  student reaches the teacher's weights and agrees on every argmax."""
  rng = np.random.default_rng(1)
  x = rng.normal(size=(600, 6)).astype(np.float32)
  w, b = rng.normal(size=(6, 3)), rng.normal(size=3)
  logits = (x @ w + b).astype(np.float32)
  ds = _float_dataset(x[:500], logits[:500], x[500:], logits[500:],
                      'logit_matching')
  r = train.train_population(functools.partial(models.Linear, 6, 3), ds, [0],
                             [0.05], _settings(num_epochs=80))
  kernel = r.best_params['dense']['kernel'][...][0]
  np.testing.assert_allclose(kernel, w, atol=2e-2)
  metrics = train.EvalProgram(r.step_def, SETTINGS)(
      r.best_params, r.best_rest, ds.validation)
  assert metrics['disagreement'][0] == 0.0 and metrics['mse'][0] < 1e-3


class _Slope(nnx.Module):
  """y = w x with w = 0 at the start: one weight, no bias."""

  def __init__(self, *, rngs: nnx.Rngs):
    del rngs
    self.w = nnx.Param(jnp.zeros((1, 1), jnp.float32))

  def __call__(self, x_NHWC):
    return x_NHWC.reshape(len(x_NHWC), 1) @ self.w[...]


def _slope(x, val_x, val_scale):
  """y = w x data: training targets 2x on `x`, validation targets
  `val_scale` * x on `val_x` (1-D inputs as (N, 1, 1, 1))."""
  shape = lambda v: v.reshape(-1, 1, 1, 1)
  return data.Dataset(
      name='slope', train=data.Split(shape(x), (2 * x)[:, None]),
      validation=data.Split(shape(val_x), (val_scale * val_x)[:, None]),
      input_shape=(1, 1, 1), num_classes=1, input_convention='float',
      task='regression', _read_test=lambda: None)


def test_patience_stops_after_the_best_of_a_closed_form_validation_curve():
  """Full-batch gradient descent on y = w x towards training targets 2x,
  validated on targets 1x: w after epoch e is 2 (1 - (1 - 2 lr m)^(e+1))
  (m = mean x^2), so the validation loss (w - 1)^2 m_val falls, is least
  where w is nearest 1, then rises. The run must stop `patience` epochs
  after that epoch and keep that w."""
  x = np.linspace(-1, 1, 64, dtype=np.float32)
  m = float(np.mean(x.astype(np.float64) ** 2))
  lr = 0.1 / m                          # 1 - 2 lr m = 0.8.
  ds = _slope(x, x[::2], 1.0)
  patience = 3
  r = train.train_population(
      _Slope, ds, [0], [lr], _settings(
          num_epochs=40, patience=patience, batch_size=64, optimizer='sgd',
          schedule='constant'))
  epochs = np.arange(40)
  w = 2 * (1 - 0.8 ** (epochs + 1))
  m_val = float(np.mean(x[::2].astype(np.float64) ** 2))
  val = (w - 1) ** 2 * m_val
  best = int(np.argmin(val))
  assert best == 2 and 0 < val[best] < val[best - 1] < val[0]
  assert r.best_epoch[0] == best
  assert r.epochs_run == best + patience + 1
  np.testing.assert_allclose(r.history['val'][:r.epochs_run, 0],
                             val[:r.epochs_run], rtol=1e-4)
  np.testing.assert_allclose(np.asarray(r.best_params['w']).ravel(),
                             [w[best]], rtol=1e-5)


def test_a_member_out_of_patience_keeps_its_best_while_others_train_on():
  """Patience is each member's own: a member that stopped improving keeps
  its best epoch even when its validation improves later, while another
  member keeps the population training. The same y = w x as above,
  validated on targets 2.5x: at 1 - 2 lr m = -0.5 (member A) w overshoots,
  3, 1.5, 2.25, ..., so its validation loss is 0.5^2 m, 1.0^2 m, then
  0.25^2 m: best at epoch 0, out of patience (1) after epoch 1, and its
  better epoch 2 must not be kept. At 1 - 2 lr m = 0.9 (member B) w creeps
  towards 2 and improves every epoch until the cap."""
  x = np.linspace(-1, 1, 64, dtype=np.float32)
  m = float(np.mean(x.astype(np.float64) ** 2))
  ds = _slope(x, x, 2.5)
  r = train.train_population(
      _Slope, ds, [0, 0], [0.75 / m, 0.05 / m], _settings(
          num_epochs=6, patience=1, batch_size=64, optimizer='sgd',
          schedule='constant'))
  epochs = np.arange(6)
  w = {'A': 2 - 2 * (-0.5) ** (epochs + 1), 'B': 2 - 2 * 0.9 ** (epochs + 1)}
  np.testing.assert_allclose(w['A'][:3], [3.0, 1.5, 2.25])
  assert r.epochs_run == 6                     # B never ran out.
  np.testing.assert_allclose(r.history['val'],
                             np.stack([(w[k] - 2.5) ** 2 * m for k in 'AB'],
                                      1), rtol=1e-4)
  assert list(r.best_epoch) == [0, 5]
  np.testing.assert_allclose(np.asarray(r.best_params['w']).ravel(),
                             [w['A'][0], w['B'][5]], rtol=1e-5)


def test_keep_last_keeps_the_last_epoch_not_the_best():
  """The overshooting y = w x of the test above (w = 3, 1.5, 2.25, 1.875,
  ...; validation targets 2.5x, best at epoch 2): keep='last' keeps epoch 5's
  w = 2 - 2 (-0.5)^6, whatever validation says; keep='best' keeps epoch 2."""
  x = np.linspace(-1, 1, 64, dtype=np.float32)
  m = float(np.mean(x.astype(np.float64) ** 2))
  ds = _slope(x, x, 2.5)
  runs = {keep: train.train_population(
      _Slope, ds, [0], [0.75 / m], _settings(
          num_epochs=6, batch_size=64, optimizer='sgd', schedule='constant',
          keep=keep)) for keep in ('best', 'last')}
  w = 2 - 2 * (-0.5) ** (np.arange(6) + 1)
  val = (w - 2.5) ** 2 * m
  assert int(np.argmin(val)) == 2
  assert runs['best'].best_epoch[0] == 2 and runs['last'].best_epoch[0] == 5
  np.testing.assert_allclose(np.asarray(runs['last'].best_params['w']).ravel(),
                             [w[5]], rtol=1e-5)
  np.testing.assert_allclose(runs['last'].best_val, [val[5]], rtol=1e-4)
  np.testing.assert_allclose(np.asarray(runs['best'].best_params['w']).ravel(),
                             [w[2]], rtol=1e-5)


def test_selecting_on_loss_keeps_the_least_validation_loss(digits):
  ds = _small(digits)
  by_loss = tasks.selecting_on(tasks.get_task('classification'), 'loss')
  assert by_loss.name == 'classification/select_on=loss'
  r = train.train_population(_mlp(digits), ds, [0, 1], [3e-3, 3e-2],
                             _settings(num_epochs=4), task=by_loss)
  loss = train.EvalProgram(r.step_def, _settings())(
      r.best_params, r.best_rest, ds.validation)['loss']
  np.testing.assert_allclose(loss, r.best_val, rtol=1e-5)
  np.testing.assert_allclose(r.best_val, r.history['val'].min(axis=0),
                             rtol=1e-6)
  assert tasks.selecting_on(tasks.get_task('classification'), 'error') is (
      tasks.get_task('classification'))
  with pytest.raises(UsageError, match="no metric 'mse'"):
    tasks.selecting_on(tasks.get_task('classification'), 'mse')


def test_class_weighted_loss_on_a_1_to_99_toy_is_the_hand_computed_value():
  """One positive among 100 examples, every logit 2: balanced weights are
  100 / (2 * 1) = 50 for the positive and 100 / (2 * 99) for each negative,
  so the weighted mean loss is (50 softplus(-2) + 99 * 100/198 softplus(2))
  / 100 = (softplus(2) + softplus(-2)) / 2; unweighted it is
  (softplus(-2) + 99 softplus(2)) / 100."""
  labels = np.zeros(100, np.int32)
  labels[0] = 1
  weights = tasks.balanced_weights(labels, 2)
  assert weights == pytest.approx((100 / 198, 50.0))
  softplus = lambda v: np.log1p(np.exp(v))
  logits = jnp.full((100, 1), 2.0)
  for name in ('binary', 'classification'):
    task = tasks.class_weighted(tasks.get_task(name), weights)
    if name == 'classification':   # Two logits (0, 2): the same margins.
      out = jnp.concatenate([jnp.zeros((100, 1)), logits], 1)
    else:
      out = logits
    got = float(task.loss(out, jnp.asarray(labels)).mean())
    assert got == pytest.approx((softplus(2) + softplus(-2)) / 2, rel=1e-6)
    plain = float(tasks.get_task(name).loss(out, jnp.asarray(labels)).mean())
    assert plain == pytest.approx((softplus(-2) + 99 * softplus(2)) / 100,
                                  rel=1e-6)
    assert task.name == f'{name}/class_weights=0.505051,50'
    assert dict(task.metrics)['error'] is dict(
        tasks.get_task(name).metrics)['error']
  assert tasks.balanced_weights([0, 0, 2], 3) == pytest.approx((0.5, 0, 1.0))
  with pytest.raises(UsageError, match='class-id targets'):
    tasks.class_weighted(tasks.get_task('regression'), (1.0,))
