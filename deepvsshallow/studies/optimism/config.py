"""Selection is training: how optimistic is the validation error of the best
of K candidates, against K? One pool of random MLPs (architecture and
learning rate) trained once per dataset, then bootstrapped (Cawley & Talbot
2010), beside the order-statistics prediction and the cure (a second held-out
split used once).

Command (MNIST-1D and digits, both offline):
  python experiments/optimism.py --workdir=runs/optimism
  ...optimism.py --config=:runlocal   a smoke run in seconds (CI uses it)

Runtime on a 2-core CPU: 3 min 36 s (216 s) in the lecture run of 2026-12-03
(one CPU device per core, beside another study), most of it compiling the
architectures' programs; 247 s alone beside another run.

Expected result (measured 2026-12-03, README.md): on MNIST-1D the optimism
of the best of K (test - select) grows in the means from 0.7 points at K=1
to 4.0 at K=256, below the 6.0 predicted for equally good candidates; on
digits it is 3.3-3.8 points at every K (the select error hits 0). Holdout -
select, the optimism without the test split, goes from -0.8 to +2.8
(MNIST-1D) and +1.8 to +2.5 (digits). Judged on independent picks (2 at
K=256), no growth and no level is told from 0: the two halves' carve
noise (about 4 and 3 points) is larger.
"""

import numpy as np

from deepvsshallow import config as config_lib
from deepvsshallow import data, fields, params
from deepvsshallow.fields import Field


def _low_high(value):
  ok = (isinstance(value, (tuple, list)) and len(value) == 2
        and fields.number()(value[0]) is None
        and fields.number()(value[1]) is None and 0 < value[0] <= value[1])
  return None if ok else '(low, high) with 0 < low <= high'


def _ks_fit_the_pool(config) -> list[str]:
  pool = config.pool_architectures * config.candidates_per_architecture
  if max(config.ks) > pool:
    return [f'config.ks has K={max(config.ks)} > the pool of {pool} '
            f'candidates ({config.pool_architectures} architectures x '
            f'{config.candidates_per_architecture}); lower K or grow the '
            'pool.']
  return []


def _budget_fits(config) -> list[str]:
  depth = max(config.depths)   # Every depth must fit at width 1.
  over = []
  for name in config.datasets:
    spec = data.DATASETS[name]
    smallest = params.mlp_param_count(int(np.prod(spec.input_shape)),
                                      [1] * depth, spec.num_classes)
    if config.budget < smallest:
      over.append(f'{smallest} on {name}')
  if over:
    return [f'config.budget={config.budget} is below the smallest '
            f'architecture (depth {depth}, width 1: {", ".join(over)} '
            'parameters); raise it.']
  return []


# Each candidate has its own learning rate (config.lr_range) and seed: no
# learning_rates / num_seeds grid.
FIELDS = config_lib.schema(
    config_lib.several_datasets(('mnist1d', 'digits')), {
        'pool_architectures': Field(16, 'Random (depth, width) MLPs, each '
                                    'one population.', fields.integer(1)),
        'candidates_per_architecture': Field(
            32, 'Learning rates per architecture (one seed each): the pool '
            'is 16 x 32 = 512.', fields.integer(1)),
        'depths': Field((1, 2, 3, 4), 'Depth drawn uniformly from these.',
                        fields.integers(1)),
        'budget': Field(20_000, 'Parameters at most; width drawn uniformly '
                        'from 1..the widest that fits.', fields.integer(1)),
        'lr_range': Field((1e-4, 3e-2), 'Adam learning rates, log-uniform.',
                          _low_high),
        'pool_seed': Field(0, 'Draws the pool, and the bootstrap.',
                           fields.integer(0)),
        'ks': Field((1, 2, 4, 8, 16, 32, 64, 128, 256), 'Candidates compared '
                    '(at most the pool).', fields.integers(1)),
        'resamples': Field(2000, 'Bootstrap draws of K candidates per K.',
                           fields.integer(10)),
    }, candidates=False, checks=(_ks_fit_the_pool, _budget_fits))


def get_config(arg: str = ''):
  runlocal = config_lib.runlocal_only(arg)
  c = FIELDS.config(batch_size=64, num_epochs=30)
  if runlocal:
    c.pool_architectures = 2
    c.candidates_per_architecture = 4
    c.ks = (1, 2, 8)
    c.num_epochs = 2
    c.resamples = 200
    c.generator.num_samples = 1000
  return c
