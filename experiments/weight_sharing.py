r"""Weight sharing on MNIST-1D (logistic, MLP, CNN, GRU; plain and shuffled):
the launcher.

  python experiments/weight_sharing.py --workdir=runs/weight_sharing

The config's docstring gives the runtime and the expected result. Everything
here is `deepvsshallow.studies.weight_sharing.train_and_evaluate`.
"""

from deepvsshallow import cli
from deepvsshallow.studies import weight_sharing

if __name__ == '__main__':
  cli.launch(weight_sharing.train_and_evaluate, __file__)
