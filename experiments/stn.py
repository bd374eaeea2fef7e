r"""Spatial transformers on distorted digits: the launcher.

  python experiments/stn.py --workdir=runs/stn
  python experiments/stn.py --config=experiments/configs/stn.py:mnist \
      --workdir=runs/stn_mnist

The config's docstring gives the runtime and the expected result. Everything
here is `deepvsshallow.studies.stn.train_and_evaluate(config, workdir)`.
"""

from deepvsshallow import cli
from deepvsshallow.studies import stn

if __name__ == '__main__':
  cli.launch(stn.train_and_evaluate, __file__)
