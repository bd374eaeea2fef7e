r"""Spatial transformers on distorted digits: the launcher.

  python experiments/stn.py --workdir=runs/stn
  python experiments/stn.py --config=experiments/configs/stn.py:mnist \
      --workdir=runs/stn_mnist

The config's docstring gives the runtime and the expected result. Everything
here is `deepvsshallow.stn_experiment.train_and_evaluate(config, workdir)`.
"""

import os

from deepvsshallow import cli, stn_experiment

if __name__ == '__main__':
  cli.launch(stn_experiment.train_and_evaluate,
             os.path.join(os.path.dirname(__file__), 'configs', 'stn.py'),
             default_workdir='runs/stn')
