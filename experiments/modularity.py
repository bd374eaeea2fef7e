r"""Modularity and a rare group: the launcher.

  python experiments/modularity.py --workdir=runs/modularity

The config's docstring gives the runtime and the expected result. Everything
here is `deepvsshallow.studies.modularity.train_and_evaluate`.
"""

from deepvsshallow import cli
from deepvsshallow.studies import modularity

if __name__ == '__main__':
  cli.launch(modularity.train_and_evaluate, __file__)
