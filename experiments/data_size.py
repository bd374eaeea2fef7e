r"""Where depth pays (deep vs shallow across training-set size, MNIST-1D):
the launcher.

  python experiments/data_size.py --workdir=runs/data_size

Its config (deepvsshallow/studies/data_size/config.py) gives the runtime
and the expected result.
"""

from deepvsshallow import cli
from deepvsshallow.studies import data_size

if __name__ == '__main__':
  cli.launch_study(data_size.STUDY)
