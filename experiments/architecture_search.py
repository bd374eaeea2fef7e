r"""Evolution vs random search: the launcher.

  python experiments/architecture_search.py --workdir=runs/architecture_search

Its config (deepvsshallow/studies/architecture_search/config.py) gives the
runtime and the expected result.
"""

from deepvsshallow import cli
from deepvsshallow.studies import architecture_search

if __name__ == '__main__':
  cli.launch_study(architecture_search.STUDY)
