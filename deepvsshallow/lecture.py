"""The whole lecture, "Why deep learning?", as one run and one report.

`run_lecture(config, workdir)` runs every study of the registry
(`deepvsshallow.studies`; or those in `config.studies`), each in its own
process as its launcher would (`python -m deepvsshallow STUDY`), at its
default config, or at its
`:runlocal` smoke config, each in `workdir/<study>/` with its output in
`workdir/logs/<study>.txt`, then writes `workdir/REPORT.md`: the chapters in
the lecture's order, each with its claim, the published anchor, our verdict
in one line (the study's `headline(summary)`), its whole report and every
figure it wrote; and `workdir/REPORT.html`, the same as one self-contained
web page (`webpage.render`: figures embedded, a table of contents), rendered
before either file is written.

`config.parallel` studies run at once, each in its own process (their
console lines prefixed with the study's name); the results do not depend
on it. Most of a smoke run, and much of a full one, is compiling, which
XLA:CPU does on one core: two studies at once keep both cores of a 2-core
machine busy (BUILD_NOTES.md).

Resuming: a study whose `results.json` exists is finished (a run writes it
after its report and figures) and is not rerun; a study directory without
it (a run cut off) is run again, and the study resumes from the populations
it saved (`deepvsshallow.store`), training only what is missing. The report
is rebuilt from the studies' results.json files on every call.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import json
import os
import re
import subprocess
import sys
import threading
import time

from deepvsshallow import cli, fields, report, runner, studies, webpage
from deepvsshallow.errors import UsageError

REPORT = 'REPORT.md'


def _study_names(value) -> str | None:
  known = studies.names()
  ok = isinstance(value, (tuple, list)) and value and all(
      v in known for v in value)
  return None if ok else f'a non-empty subset of {", ".join(known)}'


FIELDS = fields.Schema({
    'studies': fields.Field(
        fields.derived(lambda values: studies.names() if values.get(
            'runlocal') else studies.lecture_names()),
        "Chapters to run, any subset; the report keeps the lecture's order. "
        'Default: every study but those that run on their own '
        '(Study.in_lecture: the data-size sweep, 32 minutes alone); every '
        'study with :runlocal.',
        _study_names),
    'runlocal': fields.Field(False, "Each study's :runlocal smoke config "
                             'instead of its default.', fields.boolean()),
    'parallel': fields.Field(2, 'Studies run at once, one process each '
                             '(results do not depend on it): 2 keeps a '
                             '2-core CPU busy while one study compiles.',
                             fields.integer(1)),
})


def get_config(arg: str = ''):
  """The whole lecture: every study at its default config, one REPORT.md.

  Command:
    python experiments/lecture.py --workdir=runs/lecture
    ...lecture.py --config=:runlocal   every study's smoke config (CI runs it)
    --config.studies="('NAME', 'NAME')"   a few chapters (names: the registry)

  Run it again on the same workdir to resume: finished studies are kept, a
  study cut off mid-run is run again, and the report is rebuilt.

  Runtime on a 2-core CPU: 34 min 57 s from nothing (no compilation
  cache, no datasets; measured 2026-12-04, BUILD_NOTES.md), two studies at a
  time, the longest first, each with one XLA device per core; the long pole
  is the ideal-vs-real study, trained to convergence (27 minutes beside
  the others); :runlocal about 3-5 minutes.

  Expected result: REPORT.md with 10 chapters (every study but the
  data-size sweep, which runs on its own launcher in experiments/; 11
  with :runlocal), each with its verdict in the table at the top
  (README.md quotes them).
  """
  if arg not in ('', 'runlocal'):
    raise ValueError(f'config argument {arg!r}: expected nothing or '
                     'runlocal.')
  return FIELDS.config(runlocal=arg == 'runlocal')


def check_config(config, execution: runner.Execution) -> None:
  """One line, and nothing written, for a bad study list or flags."""
  if execution.is_task:
    raise UsageError('the lecture runs whole studies; submit a study as an '
                     'array with launch/slurm.sh instead of passing task '
                     'flags (or SLURM array variables) to lecture.py.')
  import jax
  if jax.distributed.is_initialized():
    raise UsageError('the lecture runs each study as its own process; run '
                     'a study (not lecture.py) with --distributed or '
                     'launch/slurm.sh --processes.')
  FIELDS.validate(config)


def run_study(study: str, runlocal: bool, workdir: str, log_path: str,
              prefix: str = '', parallel: int = 1,
              allow_config_change: bool = False) -> int:
  """Runs one study in its own process, as its launcher would
  (`python -m deepvsshallow STUDY`), with its default or :runlocal config;
  its output goes to the console (each line after `prefix`) and to
  `log_path`. Returns the exit code."""
  command = [sys.executable, '-m', 'deepvsshallow', study,
             f'--workdir={workdir}']
  if runlocal:
    command.append('--config=:runlocal')
  if allow_config_change:
    command.append('--allow_config_change')
  env = dict(os.environ)
  if parallel > 1:   # Studies beside each other share an accelerator's
    # memory: each takes what it needs instead of JAX's default 75%.
    env.setdefault('XLA_PYTHON_CLIENT_PREALLOCATE', 'false')
  with open(log_path, 'w') as log:
    proc = subprocess.Popen(command, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    for line in proc.stdout:
      print(prefix + line, end='', flush=True)
      log.write(line)
    return proc.wait()


def run_lecture(config, workdir: str, *,
                execution: runner.Execution | None = None) -> dict:
  """Runs the chapters that are not finished, then writes REPORT.md."""
  execution = execution or runner.Execution()
  check_config(config, execution)
  workdir = os.path.abspath(workdir)
  # A workdir holds one kind of lecture: smoke results are never kept as
  # the default's, nor the other way round.
  mode = 'runlocal' if config.runlocal else 'default'
  marker = os.path.join(workdir, 'lecture.json')
  if os.path.exists(marker):
    with open(marker) as f:
      held = json.load(f).get('mode')
    if held != mode:
      raise UsageError(f'workdir {workdir} holds a {held} lecture, not a '
                       f'{mode} one; pass another --workdir.')
  os.makedirs(os.path.join(workdir, 'logs'), exist_ok=True)
  report.write_json(marker, {'mode': mode})
  t0 = time.time()
  ran, kept, failed = [], [], []
  chapters = [s for s in studies.registry().values()
              if s.name in config.studies]

  stop = threading.Event()   # Set by a failure: start no further study.

  def run(i: int, study) -> None:
    if stop.is_set():
      return
    print(f'[{i}/{len(chapters)}] {study.name}: running '
          f'({"runlocal" if config.runlocal else "default"} config)...',
          flush=True)
    log = os.path.join(workdir, 'logs', f'{study.name}.txt')
    code = run_study(study.name, config.runlocal,
                     os.path.join(workdir, study.name), log,
                     f'[{study.name}] ' if config.parallel > 1 else '',
                     config.parallel, execution.allow_config_change)
    (ran if code == 0 else failed).append((study.name, code, log))
    if code != 0:
      stop.set()

  pool = concurrent.futures.ThreadPoolExecutor(config.parallel)
  try:
    futures = []
    # The longest first: a long study started last would run alone.
    for i, study in sorted(enumerate(chapters, 1),
                           key=lambda c: -c[1].minutes):
      if os.path.exists(os.path.join(workdir, study.name, 'results.json')):
        print(f'[{i}/{len(chapters)}] {study.name}: finished before; '
              'kept.', flush=True)
        kept.append(study.name)
      else:
        futures.append(pool.submit(run, i, study))
    for f in futures:
      f.result()   # (An error of the runner itself, not of a study.)
  except BaseException:   # Ctrl-C: start nothing more.
    stop.set()
    pool.shutdown(wait=False, cancel_futures=True)
    raise
  pool.shutdown()
  if failed:   # Studies already running ran to the end; theirs are kept.
    order = [c.name for c in chapters]
    failed.sort(key=lambda f: order.index(f[0]))
    raise UsageError(
        '; '.join(f'study {study} stopped with exit code {code} (its output: '
                  f'{log})' for study, code, log in failed)
        + '; fix it and run the same command again to resume.')
  ran = [c.name for c in chapters if c.name in {s for s, _, _ in ran}]
  text = render_report(workdir, chapters, runlocal=config.runlocal)
  # The page first (figures embedded): a figure missing is one line, and
  # neither file is written.
  path = os.path.join(workdir, REPORT)
  html = webpage.render(text, workdir, REPORT)
  report.atomic_write(path, text)
  report.atomic_write(webpage.page_path(path), html)
  print(f'Wrote {path} and {webpage.page_path(path)} ({len(ran)} studies '
        f'run, {len(kept)} kept, {time.time() - t0:.0f}s).', flush=True)
  return {'ran': ran, 'kept': kept, 'report': path,
          'page': webpage.page_path(path)}


def _embed(markdown: str, study: str) -> str:
  """A study's results.md inside the lecture: headings one level down,
  relative links into the study's directory."""
  markdown = re.sub(r'^(#+) ', lambda m: '#' * (len(m.group(1)) + 2) + ' ',
                    markdown, flags=re.M)
  return re.sub(r'(!?\[[^\]]*\]\()(?!https?:|/)([^)]+\))',
                lambda m: f'{m.group(1)}{study}/{m.group(2)}', markdown)


def render_report(workdir: str, chapters, *, runlocal: bool) -> str:
  lines = ['# Why deep learning? The lecture, rerun', '',
           f'Written {datetime.date.today().isoformat()} by '
           '`python experiments/lecture.py`'
           + (' with `:runlocal` (smoke configs: the numbers say nothing)'
              if runlocal else ' (every study at its default config)')
           + '. Each chapter: the lecture\'s claim, the published anchor, '
           'our verdict in one line, then the study\'s own report.', '',
           '| # | chapter | our verdict |', '|---|---|---|']
  bodies = []
  for i, study in enumerate(chapters, 1):
    chapter = study.chapter
    sub = os.path.join(workdir, study.name)
    path = os.path.join(sub, 'results.json')
    if not os.path.exists(path):
      lines.append(f'| {i} | {chapter.title} | not run |')
      bodies.append(f'## {i}. {chapter.title}\n\nNot run yet.\n')
      continue
    with open(path) as f:
      summary = json.load(f)
    verdict = study.headline(summary)
    lines.append(f'| {i} | [{chapter.title}](#'
                 f'{webpage.anchor(f"{i}. {chapter.title}")}) | '
                 f'{verdict.replace("|", "/")} |')
    body = [f'## {i}. {chapter.title}', '',
            f'**The claim.** {chapter.claim}', '',
            f'**Published.** {chapter.anchor}', '',
            f'**Here.** {verdict}', '']
    md_path = os.path.join(sub, 'results.md')
    embedded = ''
    if os.path.exists(md_path):
      with open(md_path) as f:
        embedded = _embed(f.read(), study.name)
      body += [embedded.strip(), '']
    figures = sorted(n for n in os.listdir(sub) if n.endswith('.png'))
    missing = [n for n in figures if f'{study.name}/{n})' not in embedded]
    for name in missing:
      body += [f'![{name[:-4]}]({study.name}/{name})', '']
    bodies.append('\n'.join(body))
  lines += ['']
  return '\n'.join(lines + bodies) + '\n'


def launch(argv: list[str] | None = None) -> None:
  """The lecture's launcher (experiments/lecture.py)."""
  cli.launch('lecture', __file__, run_lecture, argv)
