r"""Spatial transformers on distorted digits: the launcher.

  python experiments/stn.py --workdir=runs/stn
  python experiments/stn.py --config=experiments/configs/stn.py:mnist \
      --workdir=runs/stn_mnist

Everything here is `deepvsshallow.stn_experiment.train_and_evaluate`.
"""

import os

from absl import flags

from deepvsshallow import cli
from deepvsshallow import stn_experiment

_CONFIG = cli.define_config(
    os.path.join(os.path.dirname(__file__), 'configs', 'stn.py'))
_WORKDIR = flags.DEFINE_string('workdir', 'runs/stn', 'Where results go.')


def main(argv):
  if len(argv) > 1:
    cli.usage_exit(f'unexpected arguments {argv[1:]}; use --flag=value.')
  stn_experiment.train_and_evaluate(cli.config_value(_CONFIG), _WORKDIR.value)


if __name__ == '__main__':
  cli.run(main)
