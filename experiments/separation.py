r"""Layer-by-layer separation of two look-alike classes: the launcher.

  python experiments/separation.py --workdir=runs/separation

The config's docstring gives the runtime and the expected result. Everything
here is `deepvsshallow.studies.separation.train_and_evaluate`.
"""

from deepvsshallow import cli
from deepvsshallow.studies import separation

if __name__ == '__main__':
  cli.launch(separation.train_and_evaluate, __file__)
