r"""End to end vs a hand-crafted front end: the launcher.

  python experiments/end_to_end.py --workdir=runs/end_to_end

The config's docstring gives the runtime and the expected result. Everything
here is `deepvsshallow.studies.end_to_end.train_and_evaluate`.
"""

from deepvsshallow import cli
from deepvsshallow.studies import end_to_end

if __name__ == '__main__':
  cli.launch(end_to_end.train_and_evaluate, __file__)
