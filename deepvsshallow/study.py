"""A study as one record: its name, chapter, config, run and headline.

Each study declares one `Study` in its own package
(`deepvsshallow/studies/<name>/__init__.py`), and `deepvsshallow.studies`
lists them in the lecture's order. The launchers, the lecture, the README's
list and the tests read that registry; nothing else names a study.

  STUDY = study.Study(
      name='my_study',
      chapter=study.Chapter(title=..., claim=..., anchor=...),
      fields=config.FIELDS,             # every field, declared once
      get_config=config.get_config,     # get_config('' | 'runlocal' | ...)
      experiment=experiment.run,        # run(run: runner.Run) -> summary
      headline=report.headline,         # headline(summary) -> one line
      minutes=3)                        # its default's runtime, about
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable

from deepvsshallow import fields as fields_lib
from deepvsshallow import runner


@dataclasses.dataclass(frozen=True)
class Chapter:
  """The study's place in the lecture."""
  title: str
  claim: str     # The lecture's claim, in one sentence.
  anchor: str    # What was published, with its source.


@dataclasses.dataclass(frozen=True)
class Study:
  name: str
  chapter: Chapter
  fields: fields_lib.Schema
  get_config: Callable[[str], Any]
  # The study's body: trains through the validated `runner.Run` it is
  # given and returns `run.finish(...)`'s summary.
  experiment: Callable[[runner.Run], dict]
  headline: Callable[[dict], str]   # The verdict in one line, from a summary.
  # About how long its default took in the lecture from nothing on a 2-core
  # CPU, two studies at a time (measured, BUILD_NOTES.md). The lecture
  # starts the longest studies first, so that no long study runs alone at
  # the end.
  minutes: float = 3.0
  # In the lecture's default (a study whose default takes far longer than
  # the others runs on its own, or with --config.studies).
  in_lecture: bool = True

  @property
  def config_file(self) -> str:
    """The file that declares `get_config` (absl's --config default)."""
    return inspect.getfile(self.get_config)

  def train_and_evaluate(self, config, workdir: str, *,
                         execution: runner.Execution | None = None) -> dict:
    """Validates `config` (one UsageError line per problem, nothing
    written), runs the study in `workdir` and returns its summary."""
    with runner.Run(self.name, config, workdir, schema=self.fields,
                    execution=execution) as run:
      return self.experiment(run)
