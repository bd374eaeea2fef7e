r"""Modularity, the rare group (flat, modular, one-vs-rest): the launcher.

  python experiments/modularity.py --workdir=runs/modularity

Its config (deepvsshallow/studies/modularity/config.py) gives the runtime
and the expected result.
"""

from deepvsshallow import cli
from deepvsshallow.studies import modularity

if __name__ == '__main__':
  cli.launch_study(modularity.STUDY)
