"""The one comparison: its numbers against a hand computation, its three
verdicts in both directions, and the no-interval case."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from deepvsshallow import stats


@pytest.mark.parametrize('a,b', [
    ([0.30, 0.32, 0.31, 0.35], [0.40, 0.38]),
    ([0.1, 0.2, 0.15], [0.12, 0.25, 0.2, 0.3, 0.22]),
])
def test_the_interval_is_welchs_as_scipy_computes_it(a, b):
  c = stats.compare_seeds(a, b, higher_is_better=False)
  ci = scipy_stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
  assert c.difference == pytest.approx(np.mean(a) - np.mean(b))
  assert (c.low, c.high) == pytest.approx((ci.low, ci.high), rel=1e-9)
  assert c.seeds == (len(a), len(b))


def test_two_seeds_a_side_get_a_wide_interval():
  """With 2 seeds a side Welch's t has about 2 degrees of freedom: the
  half-width is t(0.975, 2) = 4.303 standard errors, not 2 (closed form)."""
  c = stats.compare_seeds([0.0, 0.1], [0.2, 0.3], higher_is_better=False)
  se = math.sqrt(0.005 / 2 + 0.005 / 2)
  assert c.high - c.difference == pytest.approx(4.302653 * se, rel=1e-5)
  assert c.verdict == 'inconclusive'   # -0.2 ± 0.304, though 2 se = 0.141.


@pytest.mark.parametrize('a,b,higher,outcome', [
    ([0.1, 0.11, 0.12], [0.3, 0.31, 0.29], False, 'supported'),
    ([0.1, 0.11, 0.12], [0.3, 0.31, 0.29], True, 'contradicted'),
    ([0.3, 0.31, 0.29], [0.1, 0.11, 0.12], False, 'contradicted'),
    ([0.3, 0.31, 0.29], [0.1, 0.11, 0.12], True, 'supported'),
    ([0.1, 0.3, 0.2], [0.2, 0.1, 0.3], False, 'inconclusive'),
    ([0.2, 0.2], [0.2, 0.2], False, 'inconclusive'),   # No spread, no gap.
])
def test_each_verdict_in_each_direction(a, b, higher, outcome):
  assert stats.compare_seeds(a, b, higher_is_better=higher).verdict == outcome


def test_one_seed_a_side_has_no_interval_and_says_so():
  c = stats.compare_seeds([0.1], [0.5, 0.6], higher_is_better=False)
  assert c.verdict == 'inconclusive' and c.difference == pytest.approx(-0.45)
  assert 'no interval' in c.describe('a', 'b', scale=100, unit='points')
  d = stats.compare_seeds([0.1, 0.12], [0.5, 0.52], higher_is_better=False)
  text = d.describe('deep', 'shallow', scale=100, unit='points')
  assert text.startswith('deep − shallow = -40.0 [') and text.endswith(
      'points: supported')


def test_bad_shapes_are_refused():
  with pytest.raises(ValueError):
    stats.compare_seeds([[0.1, 0.2]], [0.1], higher_is_better=False)
  with pytest.raises(ValueError):
    stats.compare_seeds([], [0.1], higher_is_better=False)
