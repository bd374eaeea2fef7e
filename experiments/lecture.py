r"""The whole lecture, every study and one REPORT.md: the launcher.

  python experiments/lecture.py --workdir=runs/lecture
  python experiments/lecture.py --config=:runlocal --workdir=/tmp/lecture

The config (deepvsshallow/lecture.py, `get_config`) gives the options.
"""

from deepvsshallow import lecture

if __name__ == '__main__':
  lecture.launch()
