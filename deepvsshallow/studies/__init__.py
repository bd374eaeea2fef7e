"""The studies, in the lecture's order: one registry, read by the
launchers, the lecture, the README's list and the tests.

Each study is a package (`deepvsshallow/studies/<name>/`) that declares one
`study.Study` record in its `__init__.py`:

  config.py      its fields (`FIELDS`, each declared once with its meaning
                 and check) and `get_config(arg)`, whose docstring gives the
                 command, the runtime and the expected result;
  experiment.py  what it trains and measures: `run(run) -> summary`;
  report.py      its markdown, figures and one-line headline, from a summary.

Adding a study: a new package beside these, one line in `registry()` below,
a three-line launcher in experiments/ and a test in tests/.
"""

from __future__ import annotations

from deepvsshallow.errors import UsageError


def registry() -> dict:
  """name -> `study.Study`, in the lecture's order (imported on first use,
  so importing one study does not import the others)."""
  from deepvsshallow.studies import (architecture_search, data_size,
                                     deep_vs_shallow, end_to_end,
                                     expressivity, ideal_vs_real, modularity,
                                     optimism, separation, stn,
                                     weight_sharing)
  studies = (deep_vs_shallow, data_size, ideal_vs_real, expressivity,
             modularity, separation, weight_sharing, end_to_end, optimism,
             architecture_search, stn)
  return {m.STUDY.name: m.STUDY for m in studies}


def names() -> tuple[str, ...]:
  return tuple(registry())


def lecture_names() -> tuple[str, ...]:
  """The studies of the lecture's default (`Study.in_lecture`)."""
  return tuple(n for n, s in registry().items() if s.in_lecture)


def get(name: str):
  """The study `name`, or a one-line UsageError listing the known ones."""
  studies = registry()
  if name not in studies:
    raise UsageError(f'unknown study {name!r}; known: '
                     f'{", ".join(studies)}.')
  return studies[name]
