"""What a study trains: a task is a loss, metrics, and the metric picked on.

A model maps prepared inputs to `outputs_NK` (N examples, K outputs). A task
says how those outputs are scored against a split's `targets`:

  classification  targets_N int32 class ids; outputs are logits (K classes).
  binary          targets_N int32 in {0, 1}; outputs_N1 one logit.
  regression      targets_NK float32; squared error, mean over outputs.
  logit_matching  targets_NK float32 teacher logits (Ba & Caruana 2014):
                  squared error on logits; `disagreement` counts examples
                  whose argmax differs from the teacher's.
  attributes      targets_NA int32 in {0, 1}, outputs_NA one logit per
                  binary attribute: binary cross-entropy, mean over the
                  attributes; `error` counts an example wrong when any of
                  its attributes is (the joint decision read from the heads).

Every loss and metric is per example; the engine averages (`mean`) or takes
the maximum (`max`) over a split. `select_on` names the metric that early
stopping and the pick on validation minimise.

Inputs reach the model through one of the input conventions of `data.py`
(`prepare_inputs`), which a dataset declares; a task never rescales inputs.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from deepvsshallow.errors import UsageError

PerExample = Callable[[jax.Array, jax.Array], jax.Array]


@dataclasses.dataclass(frozen=True)
class Metric:
  fn: PerExample
  reduce: str  # 'mean' or 'max' over the examples of a split.


@dataclasses.dataclass(frozen=True)
class Task:
  name: str
  loss: PerExample
  metrics: tuple[tuple[str, Metric], ...]  # `loss` is always among them.
  select_on: str


def _cross_entropy(logits_NK, labels_N):
  return optax.softmax_cross_entropy_with_integer_labels(logits_NK, labels_N)


def _misclassified(logits_NK, labels_N):
  return (jnp.argmax(logits_NK, -1) != labels_N).astype(jnp.float32)


def _binary_cross_entropy(logits_N1, labels_N):
  return optax.sigmoid_binary_cross_entropy(logits_N1[:, 0],
                                            labels_N.astype(jnp.float32))


def _binary_misclassified(logits_N1, labels_N):
  return ((logits_N1[:, 0] > 0) != (labels_N > 0)).astype(jnp.float32)


def _attributes_cross_entropy(logits_NA, targets_NA):
  return jnp.mean(optax.sigmoid_binary_cross_entropy(
      logits_NA, targets_NA.astype(jnp.float32)), axis=-1)


def _attributes_wrong(logits_NA, targets_NA):
  return jnp.any((logits_NA > 0) != (targets_NA > 0), axis=-1).astype(
      jnp.float32)


def _squared_error(outputs_NK, targets_NK):
  return jnp.mean(jnp.square(outputs_NK - targets_NK.reshape(
      outputs_NK.shape)), axis=-1)


def _max_abs_error(outputs_NK, targets_NK):
  return jnp.max(jnp.abs(outputs_NK - targets_NK.reshape(outputs_NK.shape)),
                 axis=-1)


def _disagreement(student_NK, teacher_NK):
  return (jnp.argmax(student_NK, -1) != jnp.argmax(teacher_NK, -1)).astype(
      jnp.float32)


def _task(name, loss, select_on, **metrics) -> Task:
  return Task(name, loss, tuple(metrics.items()) + (
      ('loss', Metric(loss, 'mean')),), select_on)


TASKS: dict[str, Task] = {
    'classification': _task('classification', _cross_entropy, 'error',
                            error=Metric(_misclassified, 'mean')),
    'binary': _task('binary', _binary_cross_entropy, 'error',
                    error=Metric(_binary_misclassified, 'mean')),
    'regression': _task('regression', _squared_error, 'mse',
                        mse=Metric(_squared_error, 'mean'),
                        max_error=Metric(_max_abs_error, 'max')),
    'attributes': _task('attributes', _attributes_cross_entropy, 'error',
                        error=Metric(_attributes_wrong, 'mean')),
    'logit_matching': _task('logit_matching', _squared_error, 'mse',
                            mse=Metric(_squared_error, 'mean'),
                            disagreement=Metric(_disagreement, 'mean')),
}


def selecting_on(task: Task, metric: str) -> Task:
  """`task`, with early stopping and the pick on validation minimising
  `metric` instead (e.g. classification's 'loss' for a study about loss);
  named 'TASK/select_on=METRIC', so that a population trained this way
  shares no program, file or fingerprint with one selected on the task's
  own metric."""
  names = [name for name, _ in task.metrics]
  if metric not in names:
    raise UsageError(f'task {task.name!r} has no metric {metric!r} to '
                     f'select on; its metrics: {", ".join(names)}.')
  if metric == task.select_on:
    return task
  return dataclasses.replace(task, name=f'{task.name}/select_on={metric}',
                             select_on=metric)


def class_weighted(task: Task, weights) -> Task:
  """`task` with each example's loss multiplied by its class's weight
  (`weights[target]`; a class id task: classification or binary), so that a
  rare class counts as much as a common one in training (King & Zeng 2001's
  reweighting; `balanced_weights`). The metrics are the task's own, and so
  is the pick on validation. Named 'TASK/class_weights=w0,w1,...': its own
  programs and fingerprints."""
  if task.name not in ('classification', 'binary'):
    raise UsageError(f'class weights need class-id targets (classification '
                     f'or binary), not task {task.name!r}.')
  w = tuple(float(x) for x in weights)
  table = jnp.asarray(w, jnp.float32)
  weighted = lambda outputs, targets: table[targets] * task.loss(outputs,
                                                                  targets)
  metrics = tuple((name, Metric(weighted, 'mean') if name == 'loss' else m)
                  for name, m in task.metrics)
  return dataclasses.replace(
      task, name=f'{task.name}/class_weights=' + ','.join(f'{x:.6g}'
                                                          for x in w),
      loss=weighted, metrics=metrics)


def balanced_weights(labels_N, num_classes: int) -> tuple[float, ...]:
  """n / (K n_c) for each class c of K (scikit-learn's 'balanced'): every
  class's examples together weigh n / K, and the weights average 1 over
  the examples. A class without examples gets weight 0."""
  counts = np.bincount(np.asarray(labels_N), minlength=num_classes)
  n = counts.sum()
  return tuple(float(n / (num_classes * c)) if c else 0.0 for c in counts)


def get_task(name: str) -> Task:
  if name not in TASKS:
    raise UsageError(f'unknown task {name!r}; known tasks: '
                     f'{", ".join(sorted(TASKS))}.')
  return TASKS[name]
