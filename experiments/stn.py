r"""Spatial transformers on distorted digits: the launcher.

  python experiments/stn.py --workdir=runs/stn
  python experiments/stn.py --config=:mnist --workdir=runs/stn_mnist

Its config (deepvsshallow/studies/stn/config.py) gives the runtime and the
expected result.
"""

from deepvsshallow import cli
from deepvsshallow.studies import stn

if __name__ == '__main__':
  cli.launch_study(stn.STUDY)
