"""What a representation holds: probes, how far apart classes lie, projections and
group accuracies, written once for every study that looks inside a net.

Conventions: features are float arrays `features_ND` (N examples, D
dimensions), labels are int arrays `labels_N`. Nothing here trains a net;
these are measurements of features that a net has already computed.

  linear_probe        logistic regression on standardised features, fitted on
                      one split and scored on another (Alain & Bengio 2016's
                      linear classifier probes).
  fisher_ratio        tr(S_B) / tr(S_W): between-class over within-class
                      scatter. Invariant to rotation, translation and global
                      scale, but not to width: a wide layer's many
                      directions of small, class-free variance add to
                      tr(S_W).
  principal_subspace,
  principal_projection,
  pca_fisher_ratio    the Fisher ratio in the top k principal directions of
                      the training features: every layer measured in k
                      dimensions (still invariant to rotation, translation,
                      scale and zero padding).
  pairwise_correct    from a many-class probe's scores, each example against
                      every other class: the 45 pairs of 10 classes at once.
  project_2d          PCA (numpy SVD) or t-SNE (scikit-learn) to 2-D.
  confusion_matrix,
  most_confused_pair  which two classes a classifier mixes up most.
  group_accuracies    per-group, worst-group and average accuracy (Sagawa et
                      al. 2020's metrics for a rare group).
  layer_features,
  outputs, predict    run a trained model (one member, e.g. `Picked.member`)
                      on stored inputs, in chunks, under one jit.
"""

from __future__ import annotations

import functools
import warnings

import jax
import numpy as np
from flax import nnx

from deepvsshallow import data as data_lib
from deepvsshallow.errors import UsageError

PROJECTIONS = ('pca', 'tsne')


@functools.partial(jax.jit, static_argnums=(0, 3, 4))
def _apply(graph, state, inputs, convention: str, method: str):
  model = nnx.merge(graph, state)
  x = data_lib.prepare_inputs(inputs, convention)
  return model.features(x) if method == 'features' else model(x)


def _chunked(model, inputs, convention: str, method: str, chunk: int):
  graph, state = nnx.split(model)
  parts = [jax.device_get(_apply(graph, state, inputs[i:i + chunk],
                                 convention, method))
           for i in range(0, len(inputs), chunk)]
  return jax.tree.map(lambda *xs: np.concatenate(xs), *parts)


def layer_features(model, inputs, convention: str, *,
                   chunk: int = 2048) -> list[np.ndarray]:
  """`model.features` (layer 0 = the input, then each hidden layer) on
  stored inputs, as float32 numpy arrays (N, D_layer)."""
  return _chunked(model, inputs, convention, 'features', chunk)


def outputs(model, inputs, convention: str, *, chunk: int = 2048
            ) -> np.ndarray:
  """The model's outputs (logits) for stored inputs, (N, K)."""
  return _chunked(model, inputs, convention, 'call', chunk)


def predict(model, inputs, convention: str, *, chunk: int = 2048
            ) -> np.ndarray:
  """The model's argmax class for each stored input."""
  return outputs(model, inputs, convention, chunk=chunk).argmax(-1)


def _standardise(train_ND, *others):
  mean = train_ND.mean(0)
  scale = train_ND.std(0)
  scale = np.where(scale > 0, scale, 1.0)
  return [(x - mean) / scale for x in (train_ND, *others)]


def linear_probe(train_ND, train_labels_N, test_ND, test_labels_N, *,
                 l2: float = 1.0, max_iter: int = 2000) -> dict[str, float]:
  """Accuracy of a logistic-regression probe fitted on train, scored on test.

  Features are standardised with the training split's statistics; `l2` is
  scikit-learn's inverse regularisation strength C (larger = weaker),
  fixed rather than tuned so that every layer gets the same probe.
  """
  from sklearn.exceptions import ConvergenceWarning
  from sklearn.linear_model import LogisticRegression
  train_ND = np.asarray(train_ND, np.float64).reshape(len(train_ND), -1)
  test_ND = np.asarray(test_ND, np.float64).reshape(len(test_ND), -1)
  if len(np.unique(train_labels_N)) < 2:
    raise UsageError('a probe needs at least two classes in its training '
                     'examples; pick labels that occur in the data.')
  train_ND, test_ND = _standardise(train_ND, test_ND)
  probe = LogisticRegression(C=l2, max_iter=max_iter)
  with warnings.catch_warnings():
    # A probe on separable features drives its weights up until max_iter;
    # its accuracy is what we read, and it is settled by then.
    warnings.simplefilter('ignore', ConvergenceWarning)
    probe.fit(train_ND, train_labels_N)
  correct = probe.predict(test_ND) == np.asarray(test_labels_N)
  return {'train_accuracy': float(probe.score(train_ND, train_labels_N)),
          'test_accuracy': float(correct.mean()),
          'test_correct': correct,   # Each test example: 1 where right.
          # (N, classes) scores (N for two classes: the second's margin),
          # columns in sorted label order.
          'test_scores': probe.decision_function(test_ND)}


def pairwise_correct(scores_NK, labels_N) -> np.ndarray:
  """(N, K): for each example of class y and each other class j, 1.0 where
  a many-class probe scores y above j (the pair (y, j) decided by the
  probe's two scores), NaN at j = y. `scores_NK`: a probe's `test_scores`,
  classes 0..K-1 in order. Row means: each example's accuracy over the
  K - 1 pairs that hold its class."""
  scores_NK = np.asarray(scores_NK, np.float64)
  if scores_NK.ndim == 1:   # Two classes: the second's margin.
    scores_NK = np.stack([np.zeros_like(scores_NK), scores_NK], 1)
  labels_N = np.asarray(labels_N)
  own = scores_NK[np.arange(len(labels_N)), labels_N][:, None]
  out = (own > scores_NK).astype(np.float64)
  out[np.arange(len(labels_N)), labels_N] = np.nan
  return out


def fisher_ratio(features_ND, labels_N) -> float:
  """tr(S_B) / tr(S_W) with S_B = sum_c n_c (mu_c - mu)(mu_c - mu)^T and
  S_W = sum_c sum_{x in c} (x - mu_c)(x - mu_c)^T; inf if every class is a
  single point."""
  x = np.asarray(features_ND, np.float64).reshape(len(features_ND), -1)
  labels_N = np.asarray(labels_N)
  mu = x.mean(0)
  between = within = 0.0
  for c in np.unique(labels_N):
    xc = x[labels_N == c]
    mu_c = xc.mean(0)
    between += len(xc) * np.sum((mu_c - mu) ** 2)
    within += np.sum((xc - mu_c) ** 2)
  return float(between / within) if within > 0 else float('inf')


def principal_subspace(train_ND, components: int):
  """(mean_D, basis_DK): the training features' mean and their top
  `components` principal directions (fewer where the features span fewer
  dimensions)."""
  x = np.asarray(train_ND, np.float64).reshape(len(train_ND), -1)
  mean = x.mean(0)
  _, sv, vt = np.linalg.svd(x - mean, full_matrices=False)
  rank = int(np.sum(sv > sv[0] * 1e-9)) if len(sv) and sv[0] > 0 else 0
  return mean, vt[:min(components, rank)].T


def principal_projection(train_ND, test_ND, components: int) -> np.ndarray:
  """(N, k): the test features, centred on the training features' mean, in
  their top `components` principal directions (`principal_subspace`)."""
  mean, basis = principal_subspace(train_ND, components)
  test = np.asarray(test_ND, np.float64).reshape(len(test_ND), -1)
  return (test - mean) @ basis


def pca_fisher_ratio(train_ND, test_ND, test_labels_N,
                     components: int) -> float:
  """The Fisher ratio of the test features in the top `components`
  principal directions of the training features."""
  return fisher_ratio(principal_projection(train_ND, test_ND, components),
                      test_labels_N)


def project_2d(features_ND, method: str, *, seed: int = 0) -> np.ndarray:
  """(N, 2): PCA's first two components, or a t-SNE embedding."""
  if method not in PROJECTIONS:
    raise UsageError(f'unknown projection {method!r}; known: '
                     f'{", ".join(PROJECTIONS)}.')
  x = np.asarray(features_ND, np.float64).reshape(len(features_ND), -1)
  x = x - x.mean(0)
  if method == 'pca':
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    out = x @ vt[:2].T
    return np.pad(out, ((0, 0), (0, 2 - out.shape[1])))
  from sklearn.manifold import TSNE
  perplexity = min(30.0, (len(x) - 1) / 3)
  return TSNE(2, perplexity=perplexity, init='pca', random_state=seed
              ).fit_transform(x)


def confusion_matrix(predictions_N, labels_N, num_classes: int) -> np.ndarray:
  """counts[true, predicted]."""
  counts = np.zeros((num_classes, num_classes), np.int64)
  np.add.at(counts, (np.asarray(labels_N), np.asarray(predictions_N)), 1)
  return counts


def most_confused_pair(counts_KK) -> tuple[int, int]:
  """The pair (a, b), a < b, with the most mistakes between them, both ways."""
  both = counts_KK + counts_KK.T
  np.fill_diagonal(both, -1)
  a, b = np.unravel_index(np.argmax(both), both.shape)
  return (int(min(a, b)), int(max(a, b)))


def group_accuracies(correct_N, groups_N, num_groups: int) -> dict:
  """Accuracy per group, the worst group's, and the mean over groups.

  `correct_N` is 1 where a prediction was right. A group without examples
  has accuracy None and is left out of the worst and the mean.
  """
  correct_N = np.asarray(correct_N, np.float64)
  groups_N = np.asarray(groups_N)
  per_group = [float(correct_N[groups_N == g].mean())
               if np.any(groups_N == g) else None for g in range(num_groups)]
  present = [a for a in per_group if a is not None]
  return {'per_group': per_group,
          'worst_group': min(present) if present else None,
          'mean_over_groups': float(np.mean(present)) if present else None,
          'overall': float(correct_N.mean()) if len(correct_N) else None}
