"""The config fields every study shares, each declared once with its check.

A study declares its fields with `schema(data, own_fields, checks=...)`:
the data fields (`one_dataset`, `several_datasets`, or none for a study that
generates its data), the shared fields below (validation split, candidates,
checkpoints), the engine's (`train.TrainSettings`, which owns their defaults
and checks) and its own. The runner validates a config against its study's
schema in one pass before anything is loaded or written: one line per
problem, exit code 2 from a launcher.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

from deepvsshallow import data, fields, train
from deepvsshallow.fields import Field


def _generator_default(values) -> object:
  """A generated dataset's arguments (MNIST-1D: num_samples, seed): the
  defaults give the published dataset; other datasets have no such field."""
  names = values.get('datasets') or (values.get('dataset'),)
  for name in names:
    spec = data.DATASETS.get(name)
    if spec is not None and spec.generator:
      return dict(spec.generator)
  return fields.ABSENT


def _dataset_name(value) -> str | None:
  return None if value in data.DATASETS else (
      f'one of {", ".join(sorted(data.DATASETS))} (the dataset registry)')


def one_dataset(default: str) -> dict[str, Field]:
  """`dataset`, `data_dir` and (for a generated dataset) `generator`."""
  return {
      'dataset': Field(default, 'A name in the dataset registry '
                       '(deepvsshallow/data.py).', _dataset_name),
      'data_dir': Field('', "TFDS data directory; '' = $TFDS_DATA_DIR or "
                        '~/tensorflow_datasets.', fields.text()),
      'generator': Field(fields.derived(_generator_default),
                         "The generated dataset's arguments (MNIST-1D, "
                         'syllables: num_samples, seed).'),
  }


def several_datasets(default: tuple[str, ...]) -> dict[str, Field]:
  """`datasets` (each trained alike), `data_dir` and `generator` (for the
  generated ones)."""
  def names(value):
    ok = isinstance(value, (tuple, list)) and value and all(
        v in data.DATASETS for v in value)
    return None if ok else ('a non-empty list of names in the dataset '
                            f'registry ({", ".join(sorted(data.DATASETS))})')
  fields_ = one_dataset(default[0])
  del fields_['dataset']
  return {'datasets': Field(default, 'Datasets, each trained alike.', names),
          **fields_}


SHARED = {
    'val_fraction': Field(0.15, 'Carved from train; test is read once, after '
                          'all training.', fields.number(0, 1, low_open=True,
                                                          high_open=True)),
    'split_seed': Field(0, 'Which examples are validation. Fixed: changing it '
                        'to move a result is tuning.', fields.integer(0)),
    'checkpoint_every': Field(
        0, "Save a population's training state every this many epochs "
        '(orbax), so a killed run resumes mid-population; 0 = only finished '
        'populations are saved.', fields.integer(0)),
}

# The grid every population trains (learning rates x seeds), for a study
# whose populations do not bring their own members.
CANDIDATES = {
    'learning_rates': Field((1e-3,), 'Candidates, picked on validation.',
                            fields.positive_numbers()),
    'num_seeds': Field(3, 'Seeds 0..num_seeds-1 are replicates, never tuned.',
                       fields.integer(1)),
    'grid_extensions': Field(
        4, 'A pick on an end of learning_rates is not tuned: extend the grid '
        'one step that way (same log spacing) and train the new candidates, '
        'up to this many times; a pick still on the end is reported so.',
        fields.integer(0)),
}


# Training to convergence, one protocol for the studies that do (the
# ideal-vs-real and data-size studies): Adam at a constant learning rate until no
# member's validation metric has improved for `patience` epochs, capped at
# `num_epochs`; both count passes over MNIST-1D's published training set
# (3,400 examples, 53 steps a pass) and `train.in_passes_over` turns them
# into as many steps on a set of any size (patience: 1,590 steps, at least
# train.MIN_PATIENCE_PASSES passes; cap: 318,000 steps).
TO_CONVERGENCE = dict(learning_rates=(3e-3, 1e-2), num_seeds=3, batch_size=64,
                      schedule='constant', num_epochs=6000, patience=30)


def _datasets_of(config) -> list[str]:
  keys = config.keys()
  if 'datasets' in keys:
    return list(config.datasets)
  return [config.dataset] if 'dataset' in keys else []


def generator_of(config) -> dict | None:
  """The generated dataset's arguments, if the config has any."""
  if 'generator' not in config.keys():
    return None
  return dict(config.generator)


def generated(config) -> list[str]:
  """A check: config.dataset is a generated one (a study that generates
  more of it)."""
  if not data.DATASETS[config.dataset].generator:
    names = ', '.join(n for n, s in data.DATASETS.items() if s.generator)
    return [f'config.dataset={config.dataset!r} is not generated: this '
            f'study generates more of it; use one of {names}.']
  return []


def new_generator_seed(field: str) -> Callable:
  """A check: config.<field>, a seed to generate more data with, is not the
  dataset's own seed (whose sample holds the test examples)."""
  def check(config) -> list[str]:
    if config[field] == (generator_of(config) or {}).get('seed'):
      return [f'config.{field}={config[field]} is the dataset\'s own seed: '
              'what it generates would contain the test examples; pick '
              'another.']
    return []
  return check


def check_data(config) -> list[str]:
  """The generator's arguments, and a batch that fits in the training set."""
  lines = []
  generator = generator_of(config)
  names = _datasets_of(config)
  # Several datasets share one generator field, for the generated ones.
  checked = ([n for n in names if data.DATASETS[n].generator]
             if 'datasets' in config.keys() else names)
  for name in checked:
    lines += data.check_generator(name, generator)
  if lines:
    return lines
  for name in _datasets_of(config):
    spec = data.DATASETS[name]
    size = spec.train_size_for(generator if spec.generator else None)
    n_train = size - data.num_validation(size, config.val_fraction)
    if config.batch_size > n_train:
      return [f'config.batch_size={config.batch_size} is larger than the '
              f'{n_train} training examples of {name}; lower it.']
  return []


def _keep_without_patience(config) -> list[str]:
  if config.keep == 'last' and config.patience:
    return [f'config.keep=last with config.patience={config.patience}: '
            'patience stops on validation, which keep=last only watches; '
            'set config.patience=0 or config.keep=best.']
  return []


def schema(data_fields: Mapping[str, Field] | None,
           own: Mapping[str, Field], *, candidates: bool = True,
           checks: Iterable[Callable] = ()) -> fields.Schema:
  """A study's fields: its data's, the shared ones, the candidate grid's
  (`candidates=False` for a study whose populations bring their own
  members), the engine's, its own."""
  grid = CANDIDATES if candidates else {}
  return fields.Schema(
      {**(data_fields or {}), **SHARED, **grid,
       **train.TrainSettings.config_fields(), **own},
      checks=(check_data, _keep_without_patience, *checks))


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


def runlocal_only(arg: str) -> bool:
  """'' or 'runlocal' (a study with no dataset argument)."""
  if arg not in ('', 'runlocal'):
    raise ValueError(f'config argument {arg!r}: expected nothing or '
                     'runlocal.')
  return arg == 'runlocal'
