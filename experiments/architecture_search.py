r"""Evolution vs random search: the launcher.

  python experiments/architecture_search.py --workdir=runs/architecture_search

The config's docstring gives the runtime and the expected result. Everything
here is `deepvsshallow.studies.architecture_search.train_and_evaluate`.
"""

from deepvsshallow import cli
from deepvsshallow.studies import architecture_search

if __name__ == '__main__':
  cli.launch(architecture_search.train_and_evaluate, __file__)
