"""The config fields every study shares, declared once, and their checks.

A study's config file (`experiments/configs/<study>.py`) calls `common(...)`
with its dataset's defaults, then adds its own fields. Every field below is
read by the runner or the engine (`train.TrainSettings.from_config`); a test
walks each study's config and fails on a field nothing reads.

`check_common(config)` is the shared part of the one validation pass that the
runner makes before anything is loaded or written: it returns one line per
problem, and a study's own check adds its lines to the same list.
"""

from __future__ import annotations

import numbers
from typing import Callable, Mapping

import ml_collections
import numpy as np

from deepvsshallow import data, train
from deepvsshallow.errors import UsageError


def common(dataset: str | None, **overrides) -> ml_collections.ConfigDict:
  """The shared fields with their defaults; `overrides` must name some.

  `dataset=None` is for studies that generate their data (the lab): they
  have no `dataset` or `data_dir` field, and carve validation from their
  generated training sets with `val_fraction` and `split_seed`.
  """
  c = ml_collections.ConfigDict()
  # Data.
  if dataset is not None:
    c.dataset = dataset
    c.data_dir = ''            # '' = $TFDS_DATA_DIR or ~/tensorflow_datasets.
    spec = data.DATASETS.get(dataset)
    if spec is not None and spec.generator:
      # A generated dataset's arguments (MNIST-1D: num_samples, seed); the
      # defaults give the published dataset.
      c.generator = ml_collections.ConfigDict(dict(spec.generator))
  c.val_fraction = 0.15        # Carved from train; test is read once, after all training.
  c.split_seed = 0             # Which examples are validation. Fixed: changing it to move a result is tuning.
  # Candidates (picked on validation) and replicates.
  c.learning_rates = (1e-3,)
  c.num_seeds = 3              # Seeds 0..num_seeds-1 are replicates, never tuned.
  # Optimisation.
  c.optimizer = 'adam'         # sgd | momentum | adam | adamw
  c.schedule = 'cosine'        # constant | cosine | warmup_cosine (to 0 over the whole run)
  c.warmup_fraction = 0.05     # warmup_cosine only: share of steps spent warming up from 0.
  c.momentum = 0.9             # optimizer=momentum only.
  c.nesterov = True            # optimizer=momentum only.
  c.weight_decay = 0.0         # adamw: decoupled; sgd, momentum, adam: an L2 term in the gradient.
  c.batch_size = 64
  c.num_epochs = 50
  c.patience = 0               # Stop when no member improved on validation for this many epochs; 0 = never.
  # Execution: none of these changes a result beyond float rounding.
  c.eval_batch_size = 2048     # Chunk size when evaluating.
  c.shard = True               # Shard the population axis over every device (of every process, with --distributed).
  c.members = 'auto'           # vmap | map (in turn) | auto: map for conv nets on CPU, where vmap is 2.4x slower.
  c.matmul_precision = 'default'  # default | high | highest; GPUs default float32 matmuls to TF32.
  c.progress = True            # A progress bar per population (on a terminal).
  c.checkpoint_every = 0       # Save a population's training state every this many epochs (orbax), so a killed run resumes mid-population; 0 = only finished populations are saved.
  unknown = set(overrides) - set(c.keys())
  if unknown:
    raise KeyError(f'common() has no fields {sorted(unknown)}.')
  c.update(overrides)
  return c


COMMON_FIELDS = tuple(common('digits').keys())


def parse_arg(arg: str, datasets: Mapping) -> tuple[str, bool]:
  """'[DATASET][,runlocal]' -> (dataset, runlocal); DATASET defaults to the
  first of `datasets`."""
  args = [a for a in (arg or '').split(',') if a]
  names = [a for a in args if a != 'runlocal']
  if len(names) > 1 or any(a not in datasets for a in names):
    raise ValueError(
        f'config argument {arg!r}: expected [DATASET][,runlocal] with DATASET '
        f'one of {", ".join(sorted(datasets))}.')
  return (names[0] if names else next(iter(datasets))), 'runlocal' in args


def train_settings(**overrides) -> train.TrainSettings:
  """TrainSettings from the common defaults, for notebooks and tests."""
  return train.TrainSettings.from_config(common('digits', **overrides))


# ----------------------------------------------------------------- checks

class Problems:
  """The lines of one validation pass: each a problem and what to do."""

  def __init__(self):
    self.lines: list[str] = []

  def __bool__(self) -> bool:
    return bool(self.lines)

  def add(self, line: str) -> None:
    self.lines.append(line)

  def attempt(self, fn: Callable, *args, **kwargs):
    """fn(*args, **kwargs), with a UsageError it raises kept as a line."""
    try:
      return fn(*args, **kwargs)
    except UsageError as e:
      self.lines.extend(str(e).splitlines())
      return None

  def raise_if_any(self) -> None:
    if self.lines:
      raise UsageError('\n'.join(dict.fromkeys(self.lines)))


def is_int(value, *, at_least: int) -> bool:
  return (isinstance(value, numbers.Integral) and not isinstance(value, bool)
          and value >= at_least)


def int_list(problems: Problems, name: str, values, *, at_least: int = 1,
             allow_empty: bool = False) -> tuple:
  values = tuple(values)
  if (not values and not allow_empty) or not all(
      is_int(v, at_least=at_least) for v in values):
    problems.add(f'config.{name} must be a '
                 f'{"" if allow_empty else "non-empty "}list of integers '
                 f'>= {at_least}, got {values}.')
  return values


def int_field(problems: Problems, config, name: str, *, at_least: int):
  if not is_int(config[name], at_least=at_least):
    problems.add(f'config.{name} must be an integer >= {at_least}, got '
                 f'{config[name]!r}.')


def one_of(problems: Problems, config, name: str, choices) -> None:
  if config[name] not in choices:
    problems.add(f'config.{name} must be one of {", ".join(choices)}; got '
                 f'{config[name]!r}.')


def _positive_numbers(values) -> bool:
  try:
    return bool(values) and all(
        not isinstance(v, bool) and np.isfinite(float(v)) and float(v) > 0
        for v in values)
  except (TypeError, ValueError):
    return False


def generator_of(config) -> dict | None:
  """The generated dataset's arguments, if the config has any."""
  if 'generator' not in config.keys():
    return None
  return dict(config.generator)


def check_common(config) -> Problems:
  """Every shared field, one line per problem; nothing is loaded."""
  p = Problems()
  spec = generator = None
  if 'dataset' in config.keys():
    spec = p.attempt(data.get_spec, config.dataset)
    generator = generator_of(config)
    if spec is not None:
      for line in data.check_generator(config.dataset, generator):
        p.add(line)
  if not 0 < config.val_fraction < 1:
    p.add(f'config.val_fraction must be in (0, 1), got {config.val_fraction}.')
  int_field(p, config, 'split_seed', at_least=0)
  if not _positive_numbers(tuple(config.learning_rates)):
    p.add(f'config.learning_rates must be positive numbers, got '
          f'{tuple(config.learning_rates)}.')
  for name in ('num_seeds', 'num_epochs', 'batch_size', 'eval_batch_size'):
    int_field(p, config, name, at_least=1)
  int_field(p, config, 'patience', at_least=0)
  int_field(p, config, 'checkpoint_every', at_least=0)
  one_of(p, config, 'optimizer', train.OPTIMIZERS)
  one_of(p, config, 'schedule', train.SCHEDULES)
  one_of(p, config, 'members', train.MEMBER_MODES)
  one_of(p, config, 'matmul_precision', train.MATMUL_PRECISIONS)
  if not 0 <= config.warmup_fraction < 1:
    p.add(f'config.warmup_fraction must be in [0, 1), got '
          f'{config.warmup_fraction}.')
  if not 0 <= config.momentum < 1:
    p.add(f'config.momentum must be in [0, 1), got {config.momentum}.')
  if config.weight_decay < 0:
    p.add(f'config.weight_decay must be >= 0, got {config.weight_decay}.')
  for name in ('nesterov', 'shard', 'progress'):
    if not isinstance(config[name], bool):
      p.add(f'config.{name} must be True or False, got {config[name]!r}.')
  if (spec is not None and is_int(config.batch_size, at_least=1)
      and 0 < config.val_fraction < 1):
    size = spec.train_size_for(generator) if not p else spec.train_size
    n_train = size - data.num_validation(size, config.val_fraction)
    if config.batch_size > n_train:
      p.add(f'config.batch_size={config.batch_size} is larger than the '
            f'{n_train} training examples of {config.dataset}; lower it.')
  return p


class ReadTracker:
  """A config that records which fields the code reads (`to_dict` and `keys`,
  which copy or list every field, are not reads). Launchers wrap their config
  in one when $DEEPVSSHALLOW_CONFIG_READS names a file, and write the fields
  read there: a test then finds fields nothing reads."""

  def __init__(self, config):
    object.__setattr__(self, '_config', config)
    object.__setattr__(self, 'read', set())

  def __getattr__(self, name):
    self.read.add(name)
    return getattr(self._config, name)

  def __getitem__(self, name):
    self.read.add(name)
    return self._config[name]

  def to_dict(self):
    return self._config.to_dict()

  def keys(self):
    return self._config.keys()
