r"""Deep vs shallow MLPs at matched parameter counts: the launcher.

  python experiments/deep_vs_shallow.py --workdir=runs/deep_vs_shallow
  python experiments/deep_vs_shallow.py --config=:mnist --workdir=runs/mnist

Its config (deepvsshallow/studies/deep_vs_shallow/config.py) gives the
other arguments, the runtime and the expected result.
"""

from deepvsshallow import cli
from deepvsshallow.studies import deep_vs_shallow

if __name__ == '__main__':
  cli.launch_study(deep_vs_shallow.STUDY)
