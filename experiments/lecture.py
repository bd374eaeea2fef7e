r"""The whole lecture, every study and one REPORT.md: the launcher.

  python experiments/lecture.py --workdir=runs/lecture

The config's docstring gives the options. Everything here is
`deepvsshallow.lecture.run_lecture`.
"""

from deepvsshallow import cli, lecture

if __name__ == '__main__':
  cli.launch(lecture.run_lecture, __file__)
