"""What every absl launcher shares: the config flag and the exit-2 contract.

Bad input (an unknown config field, a bad value, an unknown dataset, an
impossible width) prints one line, `error: ...`, and exits with code 2: no
traceback, nothing written. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from typing import Callable

from absl import app, flags, logging
from ml_collections import config_flags

from deepvsshallow.errors import UsageError

USAGE_EXIT_CODE = 2


def usage_exit(message) -> None:
  print(f'error: {message}', file=sys.stderr, flush=True)
  sys.exit(USAGE_EXIT_CODE)


def _last_line(error: BaseException) -> str:
  lines = [l.strip() for l in str(error).splitlines() if l.strip()]
  return lines[-1] if lines else type(error).__name__


def define_config(default_file: str, argv=None):
  """DEFINE_config_file('config', ...), with unknown fields as usage errors.

  ml_collections registers `--config.field` overrides while the flag is
  defined, so an unknown field fails here, before any parsing.
  """
  try:
    return config_flags.DEFINE_config_file(
        'config', default_file,
        'Config file[:arg]. Its docstring gives the command, the runtime and '
        'the expected result.', lock_config=True)
  except (AttributeError, KeyError) as e:
    overrides = [a.split('=')[0] for a in (argv or sys.argv)
                 if a.startswith('--config.')]
    usage_exit(f'unknown config field among {", ".join(overrides)} '
               f'({_last_line(e)}); every field is declared in the config '
               f'file ({default_file}).')


def config_value(config_flag):
  """The parsed config, or a one-line error if its file could not load."""
  try:
    config = config_flag.value
    config.keys()  # A config that failed to load raises on first use only.
    return config
  except OSError as e:
    errno_lines = [l.strip() for l in str(e).splitlines() if 'Errno' in l]
    usage_exit('could not load the config file: '
               + (errno_lines[-1] if errno_lines else _last_line(e)))


def run(main: Callable[[list[str]], None]) -> None:
  """app.run(main), turning flag errors and UsageError into exit code 2."""

  def parse(argv):
    try:
      return flags.FLAGS(argv)
    except flags.Error as e:
      usage_exit(_last_line(e))

  def guarded(argv):
    # TFDS and XLA log at INFO/WARNING about things a user cannot act on;
    # --verbosity=0 (or higher) brings them back.
    if not flags.FLAGS['verbosity'].present:
      logging.set_verbosity(logging.ERROR)
    try:
      main(argv)
    except UsageError as e:
      usage_exit(e)

  app.run(guarded, flags_parser=parse)


def launch(train_and_evaluate: Callable, config_file: str,
           default_workdir: str) -> None:
  """The whole of a launcher: --config and --workdir, then
  `train_and_evaluate(config, workdir)` under the exit-2 contract."""
  config_flag = define_config(config_file)
  workdir = flags.DEFINE_string('workdir', default_workdir,
                                'Where results are written.')

  def main(argv):
    if len(argv) > 1:
      usage_exit(f'unexpected arguments {argv[1:]}; use --flag=value.')
    train_and_evaluate(config_value(config_flag), workdir.value)

  run(main)
