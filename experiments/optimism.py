r"""Selection is training: optimism against K: the launcher.

  python experiments/optimism.py --workdir=runs/optimism

Its config (deepvsshallow/studies/optimism/config.py) gives the runtime and
the expected result.
"""

from deepvsshallow import cli
from deepvsshallow.studies import optimism

if __name__ == '__main__':
  cli.launch_study(optimism.STUDY)
