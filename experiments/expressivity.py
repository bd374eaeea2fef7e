r"""The why-deep lab, part 1 (expressivity by construction): the launcher.

  python experiments/expressivity.py --workdir=runs/expressivity

Its config (deepvsshallow/studies/expressivity/config.py) gives the runtime
and the expected result.
"""

from deepvsshallow import cli
from deepvsshallow.studies import expressivity

if __name__ == '__main__':
  cli.launch_study(expressivity.STUDY)
