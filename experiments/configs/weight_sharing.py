"""Weight sharing on MNIST-1D: logistic regression, MLP, 1-D CNN and GRU,
on the plain and the position-shuffled dataset (Greydanus 2020).

The lecture's CNN and RNN argument: sharing weights across positions buys,
at the same parameter count, a function that fits data with local,
translation-invariant structure, and shuffling the positions takes that
advantage away. Every family at the paper's own size (MLP 40-100-100-10
with a residual layer, 15,210; CNN 3 x 25 channels, 5,210; bidirectional
GRU, hidden 6, 5,134; logistic, 410) and at one matched budget.

Command:
  python experiments/weight_sharing.py --workdir=runs/weight_sharing
  ...weight_sharing.py:runlocal   a smoke run in seconds (CI uses it)

Runtime: about 8 minutes on a 2-core CPU (the GRU's 40-step recurrence
dominates).

Expected result: see README.md for the measured table beside the paper's
(MNIST-1D accuracy: logistic 32%, MLP 68%, CNN 94%, GRU 91%; shuffled: CNN
56%, GRU 57%, MLP and logistic unchanged).
"""

from deepvsshallow import config as config_lib


def get_config(arg: str = ''):
  if arg not in ('', 'runlocal'):
    raise ValueError(f'config argument {arg!r}: expected nothing or runlocal '
                     '(the datasets are config.datasets).')
  # The shared fields and what each does: deepvsshallow/config.py. The
  # paper's protocol: Adam, batch 100, learning rate 1e-2 (here picked on
  # validation from a grid around it), about 8,000 steps (235 epochs of 34).
  c = config_lib.common('mnist1d', learning_rates=(3e-3, 1e-2), num_seeds=3,
                        batch_size=100, num_epochs=235)
  del c['dataset']               # Several datasets: config.datasets.
  c.datasets = ('mnist1d', 'mnist1d_shuffled')
  c.families = ('logistic', 'mlp', 'cnn', 'gru')
  c.sizes = ('paper', 'budget')  # paper: Greydanus 2020's sizes; budget: each family near config.budget.
  c.budget = 5_200               # Parameters (the paper's CNN and GRU sizes).
  if arg == 'runlocal':
    c.num_epochs = 2
    c.num_seeds = 2
    c.learning_rates = (1e-2,)
    c.generator.num_samples = 1000
    c.sizes = ('budget',)
  return c
