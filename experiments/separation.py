r"""Do deeper layers pull look-alike classes apart? (separation): the
launcher.

  python experiments/separation.py --workdir=runs/separation

Its config (deepvsshallow/studies/separation/config.py) gives the runtime
and the expected result.
"""

from deepvsshallow import cli
from deepvsshallow.studies import separation

if __name__ == '__main__':
  cli.launch_study(separation.STUDY)
