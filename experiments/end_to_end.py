r"""End to end vs a hand-crafted front end: the launcher.

  python experiments/end_to_end.py --workdir=runs/end_to_end

Its config (deepvsshallow/studies/end_to_end/config.py) gives the runtime
and the expected result.
"""

from deepvsshallow import cli
from deepvsshallow.studies import end_to_end

if __name__ == '__main__':
  cli.launch_study(end_to_end.STUDY)
