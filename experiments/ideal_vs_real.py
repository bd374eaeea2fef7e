r"""Ideal vs real (MNIST-1D, deep and shallow families): the launcher.

  python experiments/ideal_vs_real.py --workdir=runs/ideal_vs_real

Its config (deepvsshallow/studies/ideal_vs_real/config.py) gives the
runtime and the expected result.
"""

from deepvsshallow import cli
from deepvsshallow.studies import ideal_vs_real

if __name__ == '__main__':
  cli.launch_study(ideal_vs_real.STUDY)
