r"""Selection is training: optimism against K: the launcher.

  python experiments/optimism.py --workdir=runs/optimism

The config's docstring gives the runtime and the expected result. Everything
here is `deepvsshallow.studies.optimism.train_and_evaluate`.
"""

from deepvsshallow import cli
from deepvsshallow.studies import optimism

if __name__ == '__main__':
  cli.launch(optimism.train_and_evaluate, __file__)
