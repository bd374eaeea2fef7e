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


def non_negative_int(name: str, value) -> int:
  if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or (
      value < 0):
    raise UsageError(f'config.{name} must be an integer >= 0, got {value!r}.')
  return int(value)


def training(config) -> None:
  """The fields every population experiment shares."""
  models.get_activation(getattr(config, 'activation', 'relu'))
  train.make_optimizer(config.optimizer, 1.0, schedule=config.schedule)
  lrs = tuple(config.learning_rates)
  try:
    ok = bool(lrs) and all(np.isfinite(float(lr)) and float(lr) > 0
                           for lr in lrs)
  except (TypeError, ValueError):
    ok = False
  if not ok:
    raise UsageError(f'config.learning_rates must be positive numbers, got '
                     f'{lrs}.')
  if not 0 < config.val_fraction < 1:
    raise UsageError(f'config.val_fraction must be in (0, 1), got '
                     f'{config.val_fraction}.')
  non_negative_int('split_seed', config.split_seed)
  for name in ('num_seeds', 'num_epochs', 'batch_size', 'eval_batch_size'):
    positive_ints(name, [getattr(config, name)])
  if config.patience < 0:
    raise UsageError(f'config.patience must be >= 0, got {config.patience}.')


def fits_data(config, dataset) -> None:
  """Checks that need the data's size; call before writing anything."""
  if config.batch_size > len(dataset.train):
    raise UsageError(f'config.batch_size={config.batch_size} is larger than '
                     f'the {len(dataset.train)} training examples of '
                     f'{dataset.name}; lower it.')


def train_settings(config) -> train.TrainSettings:
  return train.TrainSettings(
      optimizer=config.optimizer, schedule=config.schedule,
      weight_decay=config.weight_decay, batch_size=config.batch_size,
      num_epochs=config.num_epochs, patience=config.patience,
      eval_batch_size=config.eval_batch_size, shard=config.shard)
