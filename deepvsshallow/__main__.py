"""`python -m deepvsshallow STUDY [--flag=value ...]`: any study from the
registry, with the same flags as its launcher (experiments/STUDY.py);
`python -m deepvsshallow lecture ...` runs the whole lecture."""

import sys

from deepvsshallow import cli


def main(argv: list[str]) -> None:
  from deepvsshallow import lecture, studies
  name = argv[1] if len(argv) > 1 and not argv[1].startswith('-') else None
  known = ('lecture', *studies.names())
  if name not in known:
    cli.usage_exit(f'expected a study as the first argument, one of '
                   f'{", ".join(known)}; e.g. python -m deepvsshallow '
                   f'{known[1]} --workdir=runs/{known[1]}.')
  rest = [argv[0], *argv[2:]]
  if name == 'lecture':
    lecture.launch(rest)
  else:
    cli.launch_study(studies.get(name), rest)


if __name__ == '__main__':
  main(sys.argv)
