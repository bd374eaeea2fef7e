r"""The why-deep lab, part 1 (expressivity by construction): the launcher.

  python experiments/expressivity.py --workdir=runs/expressivity

The config's docstring gives the runtime and the expected result. Everything
here is `deepvsshallow.studies.expressivity.train_and_evaluate`.
"""

from deepvsshallow import cli
from deepvsshallow.studies import expressivity

if __name__ == '__main__':
  cli.launch(expressivity.train_and_evaluate, __file__)
