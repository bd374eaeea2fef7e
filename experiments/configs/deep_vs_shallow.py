"""Deep-and-thin vs shallow-and-fat MLPs at matched parameter counts.

The lecture's first claim, in the format of Seide et al. 2011 (Switchboard:
5x2048 17.2% WER vs 1x3772 22.5% at the same parameter count). Depths 1..5 at
one width, the one-hidden-layer net matched to each deep one's parameter
count, and a fixed-budget sweep across depths; learning rates picked on a
validation split carved from train; seeds are replicates (mean +- std).

Command (default: scikit-learn's bundled 8x8 digits, offline):
  python experiments/deep_vs_shallow.py --workdir=runs/deep_vs_shallow

Other arguments, comma-separated after the file name:
  ...deep_vs_shallow.py:runlocal       a smoke run in seconds (CI uses it)
  ...deep_vs_shallow.py:mnist          MNIST through TFDS, wider nets (also
                                       fashion_mnist, kmnist, cifar10, ...)
  ...deep_vs_shallow.py:mnist,runlocal both

Runtime: about 2 minutes for the default on a 2-core CPU (70 s when the
compilation cache is warm, i.e. from the second run on); `:mnist`
takes about an hour there and a few minutes on one GPU.

Expected result (digits default, measured table in README.md): every net
reaches 2-6% test error; the 8x8 digits task is small enough that depth buys
little at these sizes, and the report says whichever way it comes out.
Validation error of the picked model is typically below its test error: the
selection is optimistic, the lecture's point about training on validation.
"""

from deepvsshallow import config as config_lib

_DATASET_DEFAULTS = {
    # dataset: (width, budgets, batch_size, num_epochs)
    'digits': (128, (10_000, 40_000), 64, 60),
    'mnist': (1024, (300_000, 1_500_000), 128, 30),
    'fashion_mnist': (1024, (300_000, 1_500_000), 128, 30),
    'kmnist': (1024, (300_000, 1_500_000), 128, 30),
    'emnist_digits': (1024, (300_000, 1_500_000), 128, 30),
    'cifar10': (1024, (1_000_000, 4_000_000), 128, 40),
    'svhn': (1024, (1_000_000, 4_000_000), 128, 30),
}


def get_config(arg: str = ''):
  dataset, runlocal = config_lib.parse_arg(arg, _DATASET_DEFAULTS)
  width, budgets, batch_size, num_epochs = _DATASET_DEFAULTS[dataset]
  # The shared fields (data, candidates, optimisation, execution) and what
  # each one does: deepvsshallow/config.py.
  c = config_lib.common(dataset, learning_rates=(3e-4, 1e-3, 3e-3),
                        num_seeds=3, batch_size=batch_size,
                        num_epochs=num_epochs)
  # The grid of architectures.
  c.activation = 'relu'        # relu | sigmoid | hard_sigmoid
  c.width = width              # Units per hidden layer of the deep nets.
  c.depths = (1, 2, 3, 4, 5)   # Deep nets: depth x width, each with a matched 1-hidden-layer net.
  c.budgets = budgets          # Fixed-budget sweep: every depth at the widest width within each budget.
  c.count_biases = True        # Match parameter counts with biases (the models have them).

  if runlocal:
    c.width = 32
    c.depths = (1, 2, 3)
    c.budgets = (budgets[0],)
    c.learning_rates = (1e-3, 3e-3)
    c.num_seeds = 2
    c.num_epochs = 3
  return c
