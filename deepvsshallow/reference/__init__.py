"""Published tables and closed forms the experiments compare against.

Each CSV starts with comment lines that name its source. Copied from the
project's shared reference folder so that a clone has them.
"""

import csv
import importlib.resources


def load_csv(name: str) -> list[dict[str, str]]:
  """Rows of a reference table, comment lines skipped."""
  text = (importlib.resources.files(__name__) / name).read_text()
  return list(csv.DictReader(
      l for l in text.splitlines() if l and not l.startswith('#')))
