"""The whole lecture: every study at its default config, one REPORT.md.

Command:
  python experiments/lecture.py --workdir=runs/lecture
  ...lecture.py:runlocal        every study's smoke config (CI runs this)
  --config.studies="('optimism', 'architecture_search')"   a few chapters

Run it again on the same workdir to resume: finished studies are kept, a
study cut off mid-run is run again, and the report is rebuilt.

Runtime on a 2-core CPU: about 36 minutes from nothing (no compilation
cache, no datasets; measured 2026-11-22, BUILD_NOTES.md), two studies at a
time; :runlocal about 3-5 minutes.

Expected result: REPORT.md with 10 chapters, each with its verdict in the
table at the top (README.md quotes them).
"""

import ml_collections

from deepvsshallow import lecture


def get_config(arg: str = ''):
  if arg not in ('', 'runlocal'):
    raise ValueError(f'config argument {arg!r}: expected nothing or '
                     'runlocal.')
  c = ml_collections.ConfigDict()
  c.studies = lecture.STUDIES    # Chapters to run, any subset; the report keeps the lecture's order.
  c.runlocal = arg == 'runlocal'  # Each study's :runlocal smoke config instead of its default.
  c.parallel = 2                 # Studies run at once, one process each (results do not depend on it): 2 keeps a 2-core CPU busy while one study compiles.
  return c
