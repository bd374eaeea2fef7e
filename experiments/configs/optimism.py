"""Selection is training: how optimistic is the validation error of the best
of K candidates, against K? One pool of random MLPs (architecture and
learning rate) trained once per dataset, then bootstrapped (Cawley & Talbot
2010), beside the order-statistics prediction and the cure (a second held-out
split used once).

Command (MNIST-1D and digits, both offline):
  python experiments/optimism.py --workdir=runs/optimism
  ...optimism.py:runlocal   a smoke run in seconds (CI uses it)

Runtime on a 2-core CPU: about 4-7 minutes (250 s in the lecture run, 415 s
on a busy host; most of it compiles the 32 architectures' programs).

Expected result (measured 2026-11-22, README.md): on MNIST-1D the optimism
of the best of K (test - select) grows from 0.7 points at K=1 to 4.3 at
K=256, below the 5.8 predicted for equally good candidates; on digits it is
3.3-3.8 points at every K (the select error hits 0); test - holdout stays
at 1-2 points, flat in K.
"""

from deepvsshallow import config as config_lib


def get_config(arg: str = ''):
  if arg not in ('', 'runlocal'):
    raise ValueError(f'config argument {arg!r}: expected nothing or runlocal '
                     '(the datasets are config.datasets).')
  # The shared fields and what each does: deepvsshallow/config.py. Each
  # candidate has its own learning rate (config.lr_range) and seed, so
  # config.learning_rates and config.num_seeds are not used for the pool.
  c = config_lib.common('mnist1d', batch_size=64, num_epochs=30)
  del c['dataset']               # Several datasets: config.datasets.
  c.datasets = ('mnist1d', 'digits')
  c.pool_architectures = 16      # Random (depth, width) MLPs, each one population.
  c.candidates_per_architecture = 32  # Learning rates per architecture (one seed each): the pool is 16 x 32 = 512.
  c.depths = (1, 2, 3, 4)        # Depth drawn uniformly from these.
  c.budget = 20_000              # Parameters at most; width drawn uniformly from 1..the widest that fits.
  c.lr_range = (1e-4, 3e-2)      # Adam learning rates, log-uniform.
  c.pool_seed = 0                # Draws the pool, and the bootstrap.
  c.ks = (1, 2, 4, 8, 16, 32, 64, 128, 256)  # Candidates compared (at most the pool).
  c.resamples = 2000             # Bootstrap draws of K candidates per K.
  if arg == 'runlocal':
    c.pool_architectures = 2
    c.candidates_per_architecture = 4
    c.ks = (1, 2, 8)
    c.num_epochs = 2
    c.resamples = 200
    c.generator.num_samples = 1000
  return c
