"""Parameter accounting against Seide et al. 2011 and brute force."""

import functools
import math

import jax
import pytest
from flax import nnx

from deepvsshallow import models, params, reference
from deepvsshallow.errors import UsageError

SEIDE_IN, SEIDE_OUT = 429, 9304  # 11 frames x 39 features; senones.


def test_seide_2011_matches_weights_only():
  rows = reference.load_csv('seide2011_switchboard.csv')
  assert {'1x3772', '1x4634'} <= {r['layers'] + 'x' + r['units'] for r in rows}
  for depth, shallow in [(5, 3772), (7, 4634)]:
    assert params.match_shallow_width(
        SEIDE_IN, [2048] * depth, SEIDE_OUT, biases=False) == shallow
  # The counts themselves, by hand: 429*2048 + 4*2048^2 + 2048*9304.
  assert params.mlp_param_count(SEIDE_IN, [2048] * 5, SEIDE_OUT,
                                biases=False) == 36_710_400
  match = params.shallow_match(SEIDE_IN, [2048] * 5, SEIDE_OUT, biases=False)
  assert match.param_count == 3772 * (SEIDE_IN + SEIDE_OUT) == 36_712_876
  assert match.rounding == 'nearest'
  assert match.relative_mismatch == pytest.approx(2476 / 36_710_400)


@pytest.mark.parametrize('biases', [True, False])
@pytest.mark.parametrize('hidden', [[3], [2048] * 5, [5, 17, 2], [100] * 7])
def test_match_is_nearest_by_brute_force(hidden, biases):
  target = params.mlp_param_count(64, hidden, 10, biases=biases)
  width = params.match_shallow_width(64, hidden, 10, biases=biases)
  miss = lambda w: abs(params.mlp_param_count(64, [w], 10, biases=biases)
                       - target)
  best = min(range(1, 2 * width + 10), key=lambda w: (miss(w), w))
  assert width == best


@pytest.mark.parametrize('biases', [True, False])
@pytest.mark.parametrize('depth,budget', [(1, 5000), (2, 26_122), (3, 40_000),
                                          (5, 10_000), (7, 123_457)])
def test_budget_width_is_largest_within_budget(depth, budget, biases):
  m = params.budget_width(64, depth, 10, budget, biases=biases)
  count = lambda w: params.mlp_param_count(64, [w] * depth, 10, biases=biases)
  assert m.rounding == 'down'
  assert m.param_count == count(m.width) <= budget < count(m.width + 1)
  assert -1 < m.relative_mismatch <= 0


def test_budget_exact_hit_returns_that_width():
  budget = params.mlp_param_count(64, [128] * 2, 10)
  assert params.budget_width(64, 2, 10, budget).width == 128


def test_model_count_equals_closed_form_and_is_pinned():
  model = nnx.eval_shape(lambda: models.MLP(64, [128] * 5, 10,
                                            rngs=nnx.Rngs(0)))
  counted = params.count_params(nnx.state(model, nnx.Param))
  # 64*128+128 + 4*(128*128+128) + 128*10+10, written out.
  assert counted == params.mlp_param_count(64, [128] * 5, 10) == 75_658
  weights = sum(math.prod(x.shape)
                for x in jax.tree.leaves(nnx.state(model, nnx.Param))
                if len(x.shape) == 2)
  assert weights == params.mlp_param_count(64, [128] * 5, 10, biases=False)


@pytest.mark.parametrize('call,match', [
    (lambda: params.mlp_param_count(64, [], 10), 'depth >= 1'),
    (lambda: params.mlp_param_count(64, [32, 0], 10), 'widths must be'),
    (lambda: params.mlp_param_count(64, [-4], 10), 'widths must be'),
    (lambda: params.match_shallow_width(64, [], 10), 'depth >= 1'),
    (lambda: params.budget_width(64, 0, 10, 1000), 'depth must be >= 1'),
    (lambda: params.budget_width(64, 3, 10, 50), 'below the smallest'),
])
def test_impossible_requests_are_usage_errors(call, match):
  with pytest.raises(UsageError, match=match):
    call()


@pytest.mark.parametrize('shape,channels', [((12, 12, 1), (16, 32)),
                                            ((18, 18, 1), (5, 7)),
                                            ((32, 32, 3), (8, 16))])
def test_cnn_count_closed_form_equals_model(shape, channels):
  fn = functools.partial(models.CNN, shape, 10, channels=channels)
  # 3x3 convs with biases and a dense head on ceil(h/4) x ceil(w/4), by hand.
  h4, w4 = -(-shape[0] // 4), -(-shape[1] // 4)
  c1, c2 = channels
  by_hand = 9 * shape[2] * c1 + c1 + 9 * c1 * c2 + c2 + h4 * w4 * c2 * 10 + 10
  assert params.model_param_count(fn) == params.cnn_param_count(
      shape, channels, 10) == by_hand


def test_cnn_channels_for_budget_hits_exact_budgets():
  """A budget that is exactly the count of a scaled pair is hit exactly,
  and the result keeps the channels' proportion (scaled by one factor)."""
  for scale, shape in [(0.5, (12, 12, 1)), (2.0, (18, 18, 1))]:
    channels = (round(16 * scale), round(32 * scale))
    budget = params.cnn_param_count(shape, channels, 10)
    assert params.cnn_channels_for_budget(shape, (16, 32), 10,
                                          budget) == channels
  ch = params.cnn_channels_for_budget((12, 12, 1), (16, 32), 10, 9_000)
  assert abs(params.cnn_param_count((12, 12, 1), ch, 10) - 9_000) < 0.03 * 9_000


def test_the_torch_init_is_pytorchs_linear_default():
  """PyTorch's nn.Linear: weights and biases U(-1/sqrt(fan_in),
  1/sqrt(fan_in)), so std bound/sqrt(3) (closed form); the zero-bias init
  keeps every bias at 0."""
  import numpy as np
  from flax import nnx
  from deepvsshallow import models
  torch = models.MLP(400, (300,), 10, init='torch', rngs=nnx.Rngs(0))
  plain = models.MLP(400, (300,), 10, rngs=nnx.Rngs(0))
  for layer, fan_in in ((torch.hidden[0], 400), (torch.head, 300)):
    bound = 1 / np.sqrt(fan_in)
    for a in (np.asarray(layer.kernel[...]), np.asarray(layer.bias[...])):
      assert np.abs(a).max() <= bound
    w = np.asarray(layer.kernel[...])
    assert w.std() == pytest.approx(bound / np.sqrt(3), rel=0.02)
  # 300 hidden biases: mean |b| = bound / 2.
  assert np.abs(np.asarray(torch.hidden[0].bias[...])).mean() == (
      pytest.approx(0.05 / 2, rel=0.1))
  assert not np.asarray(plain.hidden[0].bias[...]).any()
  assert not np.asarray(plain.head.bias[...]).any()
