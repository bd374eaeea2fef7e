"""The shared representation measurements against known answers."""

import numpy as np
import pytest
from flax import nnx

from deepvsshallow import models, probes
from deepvsshallow.errors import UsageError


def test_probe_separates_a_separable_toy_and_is_at_chance_on_noise():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(600, 5))
  score = x @ np.array([1.0, -2.0, 0.5, 0.0, 0.0])
  x, y = x[np.abs(score) > 0.5], (score[np.abs(score) > 0.5] > 0).astype(int)
  got = probes.linear_probe(x[:200], y[:200], x[200:], y[200:], l2=100.0)
  assert got['train_accuracy'] == got['test_accuracy'] == 1.0
  # Labels independent of the features: chance on test (2,000 test examples,
  # so 0.5 +- 0.04 is 3.5 standard errors).
  x = rng.normal(size=(3000, 5))
  y = rng.integers(0, 2, 3000)
  got = probes.linear_probe(x[:1000], y[:1000], x[1000:], y[1000:])
  assert abs(got['test_accuracy'] - 0.5) < 0.04


def test_probe_refuses_one_class():
  with pytest.raises(UsageError, match='two classes'):
    probes.linear_probe(np.ones((4, 2)), np.zeros(4), np.ones((2, 2)),
                        np.zeros(2))


def test_fisher_ratio_against_a_hand_computed_value():
  # Class 0: (0,0), (2,0); class 1: (4,2), (4,4). Means (1,0), (4,3); overall
  # (2.5, 1.5). S_B trace: 2 * (1.5^2 + 1.5^2) * 2 = 18. S_W trace: class 0
  # 1 + 1, class 1 1 + 1 = 4. Ratio 4.5.
  x = np.array([[0, 0], [2, 0], [4, 2], [4, 4]], float)
  assert probes.fisher_ratio(x, [0, 0, 1, 1]) == pytest.approx(4.5)
  # Invariant to rotation, translation and global scale.
  rot = np.array([[0.6, -0.8], [0.8, 0.6]])
  assert probes.fisher_ratio(3 * x @ rot + 7, [0, 0, 1, 1]) == pytest.approx(
      4.5)
  assert probes.fisher_ratio(np.array([[0.], [0.], [1.], [1.]]),
                             [0, 0, 1, 1]) == float('inf')


def test_pca_fisher_is_the_fisher_ratio_in_the_main_directions():
  """Two classes apart along a high-variance axis, with 50 extra noise
  directions: the full trace ratio is diluted by them, the ratio in the top
  principal direction is not. Known answer: in 1-D with class means ±m and
  unit within-class noise, tr(S_B) / tr(S_W) -> m^2."""
  rng = np.random.default_rng(0)
  n, m = 4000, 3.0
  y = rng.integers(0, 2, n)
  signal = (2 * y - 1) * m + rng.normal(size=n)
  noise = 0.5 * rng.normal(size=(n, 50))
  x = np.concatenate([signal[:, None], noise], 1)
  full = probes.fisher_ratio(x[n // 2:], y[n // 2:])
  top = probes.pca_fisher_ratio(x[:n // 2], x[n // 2:], y[n // 2:], 1)
  assert top == pytest.approx(m ** 2, rel=0.05)
  assert full == pytest.approx(m ** 2 / (1 + 50 * 0.25), rel=0.05)
  # Invariant to an orthogonal rotation and to zero padding (the issue's
  # two properties), with k = 5 directions.
  q, _ = np.linalg.qr(rng.normal(size=(51, 51)))
  k5 = probes.pca_fisher_ratio(x[:n // 2], x[n // 2:], y[n // 2:], 5)
  rotated = probes.pca_fisher_ratio(x[:n // 2] @ q, x[n // 2:] @ q,
                                    y[n // 2:], 5)
  pad = lambda a: np.pad(a, ((0, 0), (0, 30)))
  padded = probes.pca_fisher_ratio(pad(x[:n // 2]), pad(x[n // 2:]),
                                   y[n // 2:], 5)
  assert rotated == pytest.approx(k5, rel=1e-9)
  assert padded == pytest.approx(k5, rel=1e-9)
  # Fewer directions than asked for: the ones there are.
  mean, basis = probes.principal_subspace(pad(x[:100, :3]), 10)
  assert basis.shape == (33, 3)


def test_pairwise_correct_decides_each_pair_by_its_two_scores():
  scores = np.array([[3.0, 1.0, 2.0],    # class 0: beats 1 and 2
                     [0.0, 1.0, 2.0],    # class 1: beats 0, loses to 2
                     [5.0, 4.0, 0.0]])   # class 2: loses to both
  got = probes.pairwise_correct(scores, [0, 1, 2])
  np.testing.assert_array_equal(np.isnan(got), np.eye(3, dtype=bool))
  np.testing.assert_array_equal(np.nan_to_num(got, nan=-1),
                                [[-1, 1, 1], [1, -1, 0], [0, 0, -1]])
  # A many-class probe on separable blobs gets every pair right.
  rng = np.random.default_rng(0)
  y = rng.integers(0, 4, 800)
  x = 6 * np.eye(4)[y] + rng.normal(size=(800, 4))
  fit = probes.linear_probe(x[:400], y[:400], x[400:], y[400:])
  assert fit['test_scores'].shape == (400, 4)
  assert np.nanmean(probes.pairwise_correct(fit['test_scores'], y[400:])) > 0.99


def test_most_confused_pair_counts_both_directions():
  counts = np.array([[50, 3, 4], [3, 40, 1], [0, 2, 60]])
  # 0<->1: 6, 0<->2: 4, 1<->2: 3.
  assert probes.most_confused_pair(counts) == (0, 1)
  m = probes.confusion_matrix([0, 1, 1, 2, 2], [0, 1, 2, 2, 0], 3)
  np.testing.assert_array_equal(m, [[1, 0, 1], [0, 1, 0], [0, 1, 1]])


def test_pca_recovers_the_main_axis_and_tsne_keeps_clusters_apart():
  rng = np.random.default_rng(1)
  x = rng.normal(size=(300, 6)) * np.array([10, 3, 0.1, 0.1, 0.1, 0.1])
  xy = probes.project_2d(x, 'pca')
  # The first component is the first coordinate, up to sign and centring.
  assert abs(np.corrcoef(xy[:, 0], x[:, 0])[0, 1]) > 0.999
  two = np.concatenate([rng.normal(size=(20, 8)), rng.normal(size=(20, 8))
                        + 20])
  emb = probes.project_2d(two, 'tsne')
  a, b = emb[:20], emb[20:]
  gap = np.linalg.norm(a.mean(0) - b.mean(0))
  assert gap > 3 * max(a.std(0).max(), b.std(0).max())
  with pytest.raises(UsageError, match='unknown projection'):
    probes.project_2d(x, 'umap')


def test_group_accuracies():
  got = probes.group_accuracies([1, 0, 1, 1, 1, 0], [0, 0, 1, 1, 3, 3], 4)
  assert got['per_group'] == [0.5, 1.0, None, 0.5]
  assert got['worst_group'] == 0.5
  assert got['mean_over_groups'] == pytest.approx(2 / 3)
  assert got['overall'] == pytest.approx(4 / 6)


def test_layer_features_match_a_numpy_forward():
  model = models.MLP(6, [5, 4], 3, rngs=nnx.Rngs(0))
  x = np.random.default_rng(2).normal(size=(7, 6)).astype(np.float32)
  feats = probes.layer_features(model, x, 'float', chunk=3)
  h = x.astype(np.float64)
  expected = [h]
  for layer in model.hidden:
    h = np.maximum(h @ np.asarray(layer.kernel[...], np.float64)
                   + np.asarray(layer.bias[...], np.float64), 0)
    expected.append(h)
  assert len(feats) == 3
  for got, want in zip(feats, expected):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
  logits = h @ np.asarray(model.head.kernel[...]) + np.asarray(
      model.head.bias[...])
  np.testing.assert_array_equal(
      probes.predict(model, x, 'float', chunk=4), logits.argmax(-1))
