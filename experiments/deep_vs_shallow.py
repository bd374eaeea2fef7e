r"""Deep vs shallow MLPs at matched parameter counts: the launcher.

  python experiments/deep_vs_shallow.py --workdir=runs/deep_vs_shallow
  python experiments/deep_vs_shallow.py \
      --config=experiments/configs/deep_vs_shallow.py:mnist --workdir=runs/mnist

The config's docstring gives the runtime and the expected result. Everything
here is `deepvsshallow.studies.deep_vs_shallow.train_and_evaluate`.
"""

from deepvsshallow import cli
from deepvsshallow.studies import deep_vs_shallow

if __name__ == '__main__':
  cli.launch(deep_vs_shallow.train_and_evaluate, __file__)
