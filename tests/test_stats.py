"""The one comparison: its numbers against a hand computation, its three
verdicts in both directions, and the no-interval case."""

import math

import numpy as np
import pytest

from deepvsshallow import stats


def test_the_interval_is_two_welch_standard_errors():
  a, b = [0.30, 0.32, 0.31, 0.35], [0.40, 0.38]
  c = stats.compare_seeds(a, b, higher_is_better=False)
  se = math.sqrt(np.var(a, ddof=1) / 4 + np.var(b, ddof=1) / 2)
  assert c.difference == pytest.approx(0.32 - 0.39)
  assert (c.low, c.high) == pytest.approx((-0.07 - 2 * se, -0.07 + 2 * se))
  assert c.verdict == 'supported' and c.seeds == (4, 2)


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
