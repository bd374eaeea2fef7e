"""Can the structure be found automatically? Regularized evolution (Real et
al. 2019) against random search with the same number of trained candidates,
over MLP depth, width, activation and learning rate under a parameter budget.

Command (default: MNIST-1D, offline):
  python experiments/architecture_search.py --workdir=runs/architecture_search
  ...architecture_search.py --config=:runlocal   a smoke run in seconds (CI
                                                 uses it)

Runtime on a 2-core CPU: 3 min 10 s in the lecture run of 2026-12-03
(190 s, one CPU device per core, beside another study), 146 s of it
compiling one program per shape and population size.

Expected result (measured 2026-12-02, README.md): evolution and random
search cannot be told apart on their picks' test error (36.3% vs 35.6%:
+0.7 [-2.0, +3.4] points, inconclusive); every pick sits inside the space's
learning rates (0.01-0.1), four of the six are 1x256 relu. The verdict:
evolution's picks' test error minus random search's, paired over the test
examples (`stats.compare`), with a "not bracketed" note when picks sit at
an end of the learning rates.
"""

from __future__ import annotations

import numpy as np

from deepvsshallow import config as config_lib
from deepvsshallow import data, evolution, fields, models
from deepvsshallow.errors import UsageError
from deepvsshallow.fields import Field


def make_space(config, input_dim: int, num_classes: int) -> evolution.Space:
  return evolution.Space(
      input_dim=input_dim, num_classes=num_classes, budget=config.budget,
      depths=tuple(config.depths), widths=tuple(config.widths),
      activations=tuple(config.activations),
      learning_rates=tuple(float(x) for x in config.search_learning_rates))


def _tournament_fits(config) -> list[str]:
  if config.sample_size > config.population_size:
    return [f'config.sample_size={config.sample_size} is larger than '
            f'config.population_size={config.population_size}; lower it.']
  return []


def _space_is_not_empty(config) -> list[str]:
  spec = data.DATASETS[config.dataset]
  try:
    make_space(config, int(np.prod(spec.input_shape)),
               spec.num_classes).check()
  except UsageError as e:
    return [f'config.budget={config.budget}: {e}']
  return []


FIELDS = config_lib.schema(
    config_lib.one_dataset('mnist1d'), {
        'methods': Field(evolution.SEARCHES, 'Searches compared.',
                         fields.subset_of(*evolution.SEARCHES)),
        'search_seeds': Field(3, 'Replicates of each search.',
                              fields.integer(1)),
        'population_size': Field(16, "Evolution's population; also the "
                                 'random first generation of both.',
                                 fields.integer(2)),
        'sample_size': Field(4, "Evolution's tournament size.",
                             fields.integer(1)),
        'generations': Field(6, 'Generations after the first.',
                             fields.integer(1)),
        'children_per_generation': Field(
            8, 'Candidates per generation (trained together, grouped by '
            'shape).', fields.integer(1)),
        'budget': Field(20_000, 'Parameters at most.', fields.integer(1)),
        'depths': Field((1, 2, 3, 4), 'The space: hidden layers.',
                        fields.integers(1)),
        'widths': Field((16, 32, 64, 128, 256), 'The space: one width for '
                        'all hidden layers.', fields.integers(1)),
        'activations': Field(('relu', 'hard_sigmoid'), 'The space: '
                             'activations.',
                             fields.subset_of(*models.ACTIVATIONS)),
        # Picks sat at the top of (1e-3..1e-2), then of (3e-3..3e-2) in 5 of
        # 6 searches, then at the top of (3e-3..1e-1) in 3 (BUILD_NOTES.md).
        'search_learning_rates': Field((3e-3, 1e-2, 3e-2, 0.1, 0.3),
                                       'The space: Adam learning rates.',
                                       fields.positive_numbers()),
    }, candidates=False, checks=(_tournament_fits, _space_is_not_empty))


def get_config(arg: str = ''):
  dataset, runlocal = config_lib.parse_arg(arg, {'mnist1d': None,
                                                 'digits': None})
  c = FIELDS.config(dataset=dataset, batch_size=64, num_epochs=20)
  if runlocal:
    c.search_seeds = 1
    c.population_size = 4
    c.sample_size = 2
    c.generations = 1
    c.children_per_generation = 2
    c.widths = (16, 32)
    c.depths = (1,)
    c.activations = ('relu',)
    c.num_epochs = 2
    if dataset == 'mnist1d':
      c.generator.num_samples = 1000
  return c
