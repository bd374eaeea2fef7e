"""The rendered two-attribute dataset: counts, seeding, independence of the
nuisances, visibility of each attribute, and argument checks."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from deepvsshallow import attributes
from deepvsshallow.errors import UsageError

PER_GROUP = 2000


@pytest.fixture(scope='module')
def balanced():
  """2,000 examples per group: (images_NHW1, attributes_N2, groups_N)."""
  return attributes.make_split([PER_GROUP] * 4, seed=0)


def _mean_brightness(images_NHW1):
  return images_NHW1.reshape(len(images_NHW1), -1).mean(axis=1)


def _best_threshold_accuracy(score_N, labels_N):
  """Accuracy of the best 1-D threshold rule on score, either direction."""
  labels_N = labels_N[np.argsort(score_N, kind='stable')]
  n, n_pos = len(labels_N), labels_N.sum()
  pos_below = np.concatenate([[0], np.cumsum(labels_N)])
  below = np.arange(n + 1)
  # Rule "predict 1 above the threshold": negatives below + positives above.
  acc_up = ((below - pos_below) + (n_pos - pos_below)) / n
  return max(acc_up.max(), (1 - acc_up).max())


def test_groups_and_attribute_constants():
  assert attributes.ATTRIBUTES == ('shape', 'texture')
  assert [g[0] for g in attributes.GROUPS] == [0, 1, 2, 3]
  for group_id, _, (shape, texture), _ in attributes.GROUPS:
    assert group_id == 2 * shape + texture
  assert attributes.GROUPS[attributes.RARE_GROUP][2] == (1, 1)
  assert attributes.GROUPS[3][3] == 'boys with long hair'


def test_balanced_split_has_exact_counts_and_independent_attributes(balanced):
  images_NHW1, attributes_N2, groups_N = balanced
  assert images_NHW1.shape == (4 * PER_GROUP, 16, 16, 1)
  assert images_NHW1.dtype == np.uint8
  assert attributes_N2.dtype == groups_N.dtype == np.int32
  assert np.array_equal(groups_N, 2 * attributes_N2[:, 0] + attributes_N2[:, 1])
  table_22 = np.zeros((2, 2), int)
  np.add.at(table_22, (attributes_N2[:, 0], attributes_N2[:, 1]), 1)
  assert np.array_equal(table_22, np.full((2, 2), PER_GROUP))
  # Images use the dynamic range and are not all alike.
  assert images_NHW1.max() > 200 and images_NHW1.min() < 10
  assert len(np.unique(images_NHW1.reshape(len(images_NHW1), -1), axis=0)) == (
      len(images_NHW1))


@pytest.mark.parametrize('counts, expected', [
    ({0: 5, 3: 2}, [5, 0, 0, 2]),
    ((3, 1, 4, 1), [3, 1, 4, 1]),
    (np.array([0, 7, 0, 0]), [0, 7, 0, 0]),
])
def test_make_split_gives_exactly_the_requested_counts(counts, expected):
  images_NHW1, attributes_N2, groups_N = attributes.make_split(counts, seed=1)
  assert np.array_equal(np.bincount(groups_N, minlength=4), expected)
  assert len(images_NHW1) == len(attributes_N2) == sum(expected)
  assert np.array_equal(attributes.group_of(attributes_N2), groups_N)


def test_make_split_is_deterministic_per_seed_and_differs_across_seeds():
  first = attributes.make_split((5, 6, 7, 8), seed=3)
  again = attributes.make_split((5, 6, 7, 8), seed=3)
  other = attributes.make_split((5, 6, 7, 8), seed=4)
  for a, b in zip(first, again):
    assert np.array_equal(a, b)
  assert not np.array_equal(first[2], other[2])  # Another order...
  assert not np.array_equal(first[0], other[0])  # ...and other images.
  by_group = lambda split, g: split[0][split[2] == g]
  assert not np.array_equal(by_group(first, 3), by_group(other, 3))


def test_make_split_order_is_shuffled(balanced):
  _, _, groups_N = balanced
  # Sorted blocks would give ~1.0; a random order gives ~1/4.
  same_as_next = np.mean(groups_N[1:] == groups_N[:-1])
  assert 0.2 < same_as_next < 0.3
  for g in range(4):  # Each group spread over the whole split.
    positions = np.flatnonzero(groups_N == g) / len(groups_N)
    assert abs(positions.mean() - 0.5) < 0.03


def test_mean_brightness_does_not_predict_either_attribute(balanced):
  images_NHW1, attributes_N2, _ = balanced
  brightness_N = _mean_brightness(images_NHW1)
  for k in range(2):
    labels_N = attributes_N2[:, k]
    gap = (brightness_N[labels_N == 1].mean()
           - brightness_N[labels_N == 0].mean())
    assert abs(gap) < 0.08 * brightness_N.std(), attributes.ATTRIBUTES[k]
    assert _best_threshold_accuracy(brightness_N, labels_N) < 0.54


def test_nuisances_do_not_depend_on_the_attributes():
  # The same rng state draws the same nuisances whatever the attributes: a
  # flipped attribute changes every image but (equal ink) not its brightness.
  zeros_N = np.zeros(500, int)
  base_NHW1 = attributes.render(zeros_N, zeros_N, np.random.default_rng(5))
  base_N = _mean_brightness(base_NHW1)
  for shape_N, texture_N in ((1 - zeros_N, zeros_N), (zeros_N, 1 - zeros_N)):
    flipped_NHW1 = attributes.render(shape_N, texture_N,
                                     np.random.default_rng(5))
    assert (flipped_NHW1 != base_NHW1).any(axis=(1, 2, 3)).all()
    gap_N = _mean_brightness(flipped_NHW1) - base_N
    assert np.abs(gap_N).max() < 0.2 * base_N.std()
    assert abs(gap_N.mean()) < 0.02 * base_N.std()  # Ink matched on average.


def test_each_attribute_is_visible_to_a_linear_readout(balanced):
  images_NHW1, attributes_N2, groups_N = balanced
  x_NP = images_NHW1.reshape(len(images_NHW1), -1) / 255.0
  train, test = slice(0, 2000), slice(2000, 3000)
  shuffled_N2 = np.random.default_rng(0).permutation(attributes_N2[train])
  fit = lambda y: LogisticRegression(C=0.1, max_iter=300).fit(x_NP[train], y)
  with threadpool_limits(1):  # Many BLAS threads make these tiny fits slow.
    for k in range(2):
      accuracy = fit(attributes_N2[train, k]).score(x_NP[test],
                                                    attributes_N2[test, k])
      assert accuracy >= 0.97, (attributes.ATTRIBUTES[k], accuracy)
      chance = fit(shuffled_N2[:, k]).score(x_NP[test], attributes_N2[test, k])
      assert abs(chance - 0.5) < 0.07, (attributes.ATTRIBUTES[k], chance)
    group_accuracy = fit(groups_N[train]).score(x_NP[test], groups_N[test])
  assert group_accuracy >= 0.95


def test_render_shapes_and_sizes():
  rng = np.random.default_rng(0)
  images_NHW1 = attributes.render([0, 1, 1], [1, 0, 1], rng, size=24)
  assert images_NHW1.shape == (3, 24, 24, 1) and images_NHW1.dtype == np.uint8
  assert attributes.render([], [], rng).shape == (0, 16, 16, 1)
  images_NHW1, _, _ = attributes.make_split((1, 1, 1, 1), seed=0, size=8)
  assert images_NHW1.shape == (4, 8, 8, 1)


@pytest.mark.parametrize('call', [
    lambda: attributes.make_split((1, -1, 1, 1), seed=0),
    lambda: attributes.make_split({0: 0, 3: 0}, seed=0),
    lambda: attributes.make_split((0, 0, 0, 0), seed=0),
    lambda: attributes.make_split((1, 1, 1), seed=0),
    lambda: attributes.make_split({4: 1}, seed=0),
    lambda: attributes.make_split((1, 1.5, 1, 1), seed=0),
    lambda: attributes.make_split(10, seed=0),
    lambda: attributes.make_split((1, 1, 1, 1), seed=1.5),
    lambda: attributes.make_split((1, 1, 1, 1), seed='3'),
    lambda: attributes.make_split((1, 1, 1, 1), seed=None),
    lambda: attributes.make_split((1, 1, 1, 1), seed=-1),
    lambda: attributes.make_split((1, 1, 1, 1), seed=0, size=7),
    lambda: attributes.make_split((1, 1, 1, 1), seed=0, size=16.0),
    lambda: attributes.render([0, 2], [0, 1], np.random.default_rng(0)),
    lambda: attributes.render([0.5], [0], np.random.default_rng(0)),
    lambda: attributes.render([0, 1], [0], np.random.default_rng(0)),
    lambda: attributes.render([0], [0], 0),
])
def test_bad_arguments_raise_usage_error_with_one_line(call):
  with pytest.raises(UsageError) as info:
    call()
  assert isinstance(info.value, ValueError)
  message = str(info.value)
  assert message and '\n' not in message
