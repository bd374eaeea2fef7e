"""Weight sharing: the families' parameter counts (closed form = the
model's own, and the paper's), the GRU against a numpy reference, the
lecture's counts, and the study end to end."""

import json
import os

import jax.numpy as jnp
import numpy as np
import pytest
from conftest import launch, refused, study_run
from flax import nnx

from deepvsshallow import models, params
from deepvsshallow.studies import weight_sharing
from experiments.configs import weight_sharing as ws_config



def _count(model) -> int:
  return params.count_params(nnx.state(model, nnx.Param))


def _abstract(fn):
  return nnx.eval_shape(lambda: fn(rngs=nnx.Rngs(0)))


@pytest.mark.parametrize('family,knob,paper', [
    ('logistic', {}, 410), ('mlp', {'width': 100}, 15_210),
    ('cnn', {'channels': 25}, 5_210), ('gru', {'hidden': 6}, 5_134)])
def test_paper_sizes_have_the_papers_counts(family, knob, paper):
  model = weight_sharing.Model(family, 'paper', knob,
                               weight_sharing.count(family, knob))
  assert model.param_count == paper
  assert _count(_abstract(model.build())) == paper


@pytest.mark.parametrize('family', ['mlp', 'cnn', 'gru'])
def test_closed_forms_equal_the_models_at_other_sizes(family):
  key = {'mlp': 'width', 'cnn': 'channels', 'gru': 'hidden'}[family]
  for value in (1, 3, 17):
    model = weight_sharing.Model(family, 'x', {key: value},
                                 weight_sharing.count(family, {key: value}))
    assert _count(_abstract(model.build())) == model.param_count
  assert params.gru_param_count(40, 6, 10, bidirectional=False) == (
      _count(_abstract(lambda rngs: models.GRU(40, 10, bidirectional=False,
                                               rngs=rngs))))


def test_budget_sizes_are_nearest_to_the_budget():
  c = ws_config.get_config('')
  grid = weight_sharing.build_models(c)
  for m in grid:
    if 'budget' in m.size:
      key, value = next(iter(m.knob.items()))
      for other in (value - 1, value + 1):
        assert abs(weight_sharing.count(m.family, {key: other}) - c.budget) \
            >= abs(m.param_count - c.budget)
  # CNN and GRU at the paper's size are the budget size too: merged.
  sizes = {(m.family, m.size) for m in grid}
  assert ('cnn', 'paper = budget') in sizes and ('gru', 'paper = budget') in sizes
  assert ('mlp', 'paper') in sizes and ('mlp', 'budget') in sizes


def _gru_numpy(x_NL, w_i, w_h, b_i, b_h, reverse=False):
  """torch.nn.GRU's equations, step by step, in float64."""
  n, length = x_NL.shape
  hidden = w_h.shape[0]
  h = np.zeros((n, hidden))
  out = np.zeros((n, length, hidden))
  order = range(length - 1, -1, -1) if reverse else range(length)
  sig = lambda v: 1 / (1 + np.exp(-v))
  for t in order:
    gi = x_NL[:, t:t + 1] @ w_i + b_i
    gh = h @ w_h + b_h
    r = sig(gi[:, :hidden] + gh[:, :hidden])
    z = sig(gi[:, hidden:2 * hidden] + gh[:, hidden:2 * hidden])
    cand = np.tanh(gi[:, 2 * hidden:] + r * gh[:, 2 * hidden:])
    h = (1 - z) * cand + z * h
    out[:, t] = h
  return out


def test_gru_matches_a_numpy_reference():
  model = models.GRU(7, 3, hidden=4, rngs=nnx.Rngs(0))
  x = np.random.default_rng(0).normal(size=(5, 7, 1, 1)).astype(np.float32)
  cells = [tuple(np.asarray(v[...], np.float64) for v in
                 (c.w_i, c.w_h, c.b_i, c.b_h)) for c in model.cells]
  states = np.concatenate([_gru_numpy(x[:, :, 0, 0], *cells[0]),
                           _gru_numpy(x[:, :, 0, 0], *cells[1], reverse=True)],
                          axis=-1)
  logits = states.reshape(5, -1) @ np.asarray(model.head.kernel[...]) + (
      np.asarray(model.head.bias[...]))
  np.testing.assert_allclose(np.asarray(model(jnp.asarray(x))), logits,
                             atol=1e-5)


def test_cnn1d_output_length_follows_same_padding():
  # 40 -> 20 -> 10 -> 5 positions with strides 2: a head of 5 * 25 inputs.
  model = _abstract(lambda rngs: models.CNN1D(40, 10, rngs=rngs))
  assert model.head.kernel.shape == (125, 10)
  model = _abstract(lambda rngs: models.CNN1D(41, 10, rngs=rngs))
  assert model.head.kernel.shape == (6 * 25, 10)   # ceil thrice: 21, 11, 6.


def test_the_lectures_weight_sharing_counts():
  """A 3x3 convolution on a 9-pixel patch shares 9 weights where a dense
  layer needs 81; a 100-unit recurrence over 3 steps needs 200 per-unit
  weights where its feed-forward unrolling needs 300. Counted on modules."""
  assert params.shared_vs_unshared_weights('conv', 3) == (9, 81)
  conv = nnx.Conv(1, 1, (3, 3), use_bias=False, rngs=nnx.Rngs(0))
  dense = nnx.Linear(9, 9, use_bias=False, rngs=nnx.Rngs(0))
  assert (_count(conv), _count(dense)) == (9, 81)
  # The same 9 outputs on a 3x3 patch (SAME padding): conv is a dense layer
  # whose 81 weights are tied to 9 values.
  x = np.random.default_rng(0).normal(size=(1, 3, 3, 1)).astype(np.float32)
  k = np.asarray(conv.kernel[...])[:, :, 0, 0]
  tied = np.zeros((9, 9))
  for i in range(3):
    for j in range(3):
      for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
          if 0 <= i + di < 3 and 0 <= j + dj < 3:
            tied[(i + di) * 3 + j + dj, i * 3 + j] = k[di + 1, dj + 1]
  np.testing.assert_allclose(np.asarray(conv(jnp.asarray(x))).ravel(),
                             x.ravel() @ tied, atol=1e-6)

  assert params.shared_vs_unshared_weights('rnn', 100, steps=3) == (200, 300)

  class Recurrent(nnx.Module):   # Per-unit weights: one input, one recurrent.
    def __init__(self, units, steps, shared):
      n = 1 if shared else steps - 1
      self.w_in = nnx.Param(jnp.ones(units))
      self.w_rec = nnx.List([nnx.Param(jnp.ones(units)) for _ in range(n)])

  assert _count(Recurrent(100, 3, shared=True)) == 200
  assert _count(Recurrent(100, 3, shared=False)) == 300


@pytest.mark.slow
def test_launcher_end_to_end(lecture_runlocal):
  workdir, _ = study_run(lecture_runlocal, 'weight_sharing')
  assert sorted(os.listdir(workdir)) == ['config.json', 'populations',
                                         'results.json', 'results.md',
                                         'results.png', 'tensorboard',
                                         'trials.jsonl']
  summary = json.loads((workdir / 'results.json').read_text())
  config = ws_config.get_config('runlocal')
  rows = summary['rows']
  assert len(rows) == len(config.datasets) * len(
      weight_sharing.build_models(config))
  assert all(r['status'] == 'done' and 0 <= r['test_error_mean'] <= 1
             for r in rows)
  md = (workdir / 'results.md').read_text()
  assert '| model | size | params |' in md and 'when shuffled' in md


@pytest.mark.parametrize('overrides,message', [
    (dict(families=('logistic', 'transformer')), 'config.families must be'),
    (dict(sizes=('huge',)), 'config.sizes must be'),
    (dict(datasets=('digits',)), 'not an MNIST-1D variant'),
    (dict(budget=10), 'budget must be an integer >= 500'),
])
def test_bad_config_is_one_usage_line_and_writes_nothing(overrides, message,
                                                         tmp_path):
  config = ws_config.get_config('')
  config.update(overrides)
  assert message in refused(weight_sharing.train_and_evaluate, config, tmp_path / 'never_created')


def test_unknown_family_from_the_launcher_is_exit_2(tmp_path):
  proc = launch(
      'weight_sharing',
      "--config.families=('mlp','resnet')",
      f'--workdir={tmp_path / "never"}',
      timeout=120)
  assert proc.returncode == 2
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  assert len(lines) == 1 and 'families' in lines[0]
  assert not (tmp_path / 'never').exists()
