"""Can the structure be found automatically? Regularized evolution (Real et
al. 2019) against random search with the same number of trained candidates,
over MLP depth, width, activation and learning rate under a parameter budget.

Command (default: MNIST-1D, offline):
  python experiments/architecture_search.py --workdir=runs/architecture_search
  ...architecture_search.py:runlocal   a smoke run in seconds (CI uses it)

Runtime on a 2-core CPU: about 9 minutes (510 s measured, 442 s of it
compiling one program per shape and population size).

Expected result (measured 2026-11-22, README.md): after 64 candidates per
search, evolution's best validation error is 35.9 +- 1.0% and random
search's 36.8 +- 2.0%, but their picks' test errors tie (39.8 vs 39.1%);
evolution's picks are more optimistic (+3.8 vs +2.4 points).
"""

from deepvsshallow import config as config_lib


def get_config(arg: str = ''):
  dataset, runlocal = config_lib.parse_arg(arg, {'mnist1d': None,
                                                 'digits': None})
  # The shared fields and what each does: deepvsshallow/config.py. Every
  # candidate has its own learning rate and seed, so config.learning_rates
  # and config.num_seeds are not used.
  c = config_lib.common(dataset, batch_size=64, num_epochs=20)
  c.methods = ('evolution', 'random')  # Searches compared.
  c.search_seeds = 3             # Replicates of each search.
  c.population_size = 16         # Evolution's population; also the random first generation of both.
  c.sample_size = 4              # Evolution's tournament size.
  c.generations = 6              # Generations after the first.
  c.children_per_generation = 8  # Candidates per generation (trained together, grouped by shape).
  c.budget = 20_000              # Parameters at most.
  c.depths = (1, 2, 3, 4)        # The space: hidden layers,
  c.widths = (16, 32, 64, 128, 256)  # one width for all of them,
  c.activations = ('relu', 'hard_sigmoid')
  c.search_learning_rates = (1e-3, 3e-3, 1e-2)  # Adam.
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
