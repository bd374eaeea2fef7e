r"""Ideal vs real (MNIST-1D, deep and shallow families): the launcher.

  python experiments/ideal_vs_real.py --workdir=runs/ideal_vs_real

The config's docstring gives the runtime and the expected result. Everything
here is `deepvsshallow.studies.ideal_vs_real.train_and_evaluate`.
"""

from deepvsshallow import cli
from deepvsshallow.studies import ideal_vs_real

if __name__ == '__main__':
  cli.launch(ideal_vs_real.train_and_evaluate, __file__)
