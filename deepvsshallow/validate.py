"""Config checks shared by the experiments: each failure is one UsageError."""

from __future__ import annotations

import numpy as np

from deepvsshallow import models, train
from deepvsshallow.errors import UsageError


def positive_ints(name: str, values, *, allow_empty: bool = False) -> tuple:
  values = tuple(values)
  if (not values and not allow_empty) or any(
      not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1
      for v in values):
    raise UsageError(f'config.{name} must be a '
                     f'{"" if allow_empty else "non-empty "}list of integers '
                     f'>= 1, got {values}.')
  return values


def training(config) -> None:
  """The fields every population experiment shares."""
  models.get_activation(getattr(config, 'activation', 'relu'))
  train.make_optimizer(config.optimizer, 1.0, schedule=config.schedule)
  lrs = tuple(config.learning_rates)
  if not lrs or any(not np.isfinite(lr) or lr <= 0 for lr in lrs):
    raise UsageError(f'config.learning_rates must be positive numbers, got '
                     f'{lrs}.')
  for name in ('num_seeds', 'num_epochs', 'batch_size', 'eval_batch_size'):
    positive_ints(name, [getattr(config, name)])
  if config.patience < 0:
    raise UsageError(f'config.patience must be >= 0, got {config.patience}.')


def train_settings(config) -> train.TrainSettings:
  return train.TrainSettings(
      optimizer=config.optimizer, schedule=config.schedule,
      weight_decay=config.weight_decay, batch_size=config.batch_size,
      num_epochs=config.num_epochs, patience=config.patience,
      eval_batch_size=config.eval_batch_size, shard=config.shard)
