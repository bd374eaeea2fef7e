r"""Weight sharing on MNIST-1D (logistic, MLP, CNN, GRU; plain and shuffled):
the launcher.

  python experiments/weight_sharing.py --workdir=runs/weight_sharing

Its config (deepvsshallow/studies/weight_sharing/config.py) gives the
runtime and the expected result.
"""

from deepvsshallow import cli
from deepvsshallow.studies import weight_sharing

if __name__ == '__main__':
  cli.launch_study(weight_sharing.STUDY)
