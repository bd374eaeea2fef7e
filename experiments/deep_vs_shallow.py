r"""Deep vs shallow MLPs at matched parameter counts: the launcher.

  python experiments/deep_vs_shallow.py --workdir=runs/deep_vs_shallow
  python experiments/deep_vs_shallow.py \
      --config=experiments/configs/deep_vs_shallow.py:mnist --workdir=runs/mnist

The config's docstring gives the runtime and the expected result. Everything
here is `deepvsshallow.deep_vs_shallow.train_and_evaluate(config, workdir)`.
"""

import os

from absl import flags

from deepvsshallow import cli
from deepvsshallow import deep_vs_shallow

_CONFIG = cli.define_config(
    os.path.join(os.path.dirname(__file__), 'configs', 'deep_vs_shallow.py'))
_WORKDIR = flags.DEFINE_string('workdir', 'runs/deep_vs_shallow',
                               'Where results are written.')


def main(argv):
  if len(argv) > 1:
    cli.usage_exit(f'unexpected arguments {argv[1:]}; use --flag=value.')
  deep_vs_shallow.train_and_evaluate(cli.config_value(_CONFIG), _WORKDIR.value)


if __name__ == '__main__':
  cli.run(main)
