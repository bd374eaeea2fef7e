"""The whole lecture, "Why deep learning?", as one run and one report.

`run_lecture(config, workdir)` runs every study of `CHAPTERS` (or those in
`config.studies`) through its own launcher (`experiments/<study>.py`, one
process each, as a user would run it) at its default config, or at its
`:runlocal` smoke config, each in `workdir/<study>/` with its output in
`workdir/logs/<study>.txt`, then writes `workdir/REPORT.md`: the chapters in
the lecture's order, each with its claim, the published anchor, our verdict
in one line (the study's `headline(summary)`), its whole report and every
figure it wrote.

`config.parallel` studies run at once, each in its own process (their
console lines prefixed with the study's name); the results do not depend
on it. Most of a smoke run, and much of a full one, is compiling, which
XLA:CPU does on one core: two studies at once keep both cores of a 2-core
machine busy (BUILD_NOTES.md).

Resuming: a study whose `results.json` exists is finished and is not rerun;
a study directory without it (a run cut off) is run again, and the study
resumes from the populations it saved (`deepvsshallow.store`), training only
what is missing. The report is rebuilt from the studies' results.json files
on every call.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime
import importlib
import json
import os
import re
import subprocess
import sys
import threading
import time

from deepvsshallow import report, store
from deepvsshallow.errors import UsageError


@dataclasses.dataclass(frozen=True)
class Chapter:
  study: str     # deepvsshallow/studies/<study>.py, experiments/configs/<study>.py
  title: str
  claim: str
  anchor: str    # What was published, with its source.


CHAPTERS = (
    Chapter('deep_vs_shallow', 'Deep and thin vs shallow and fat',
            'At equal parameter counts, deep-and-thin nets beat '
            'shallow-and-fat ones.',
            'Seide et al. 2011 (Switchboard): 5x2k 17.2% WER vs 1x3772 '
            '22.5%; Ba & Caruana 2014 (TIMIT): shallow 23.1%, deep 21.9%, '
            'shallow mimic 21.6% phone error.'),
    Chapter('ideal_vs_real', 'Ideal vs real (鱼与熊掌)',
            'A larger function set gets closer to the ideal but needs more '
            'data; depth reaches a low loss with fewer parameters.',
            'The lecture\'s picture; no published table.'),
    Chapter('expressivity', 'What one layer and many layers can build',
            'One hidden layer builds any piecewise-linear function, but k '
            'layers of 2 ReLUs make 2^k pieces, and deep nets approximate x² '
            'and parity more cheaply.',
            'Telgarsky 2016 (the tent map); Yarotsky 2017 (x²); the lecture\'s '
            'parity circuits.'),
    Chapter('modularity', 'Modularity: the rare group',
            'Modular, shared features need less data for a rare class.',
            'Sagawa et al. 2020 (CelebA, blond men 1,387 of 162,770): ERM '
            '94.8% average, 41.1% worst group; group DRO with strong ℓ2 93.5% '
            'and 86.7%.'),
    Chapter('separation', 'Deeper layers pull look-alike classes apart',
            'Deeper layers separate classes that look alike.',
            'Mohamed, Hinton & Penn 2012 (t-SNE of TIMIT layers); the '
            'lecture\'s MNIST 4 vs 9.'),
    Chapter('weight_sharing', 'Weight sharing: CNNs and RNNs',
            'Sharing weights (convolution, recurrence) saves parameters.',
            'Greydanus 2020 (MNIST-1D): logistic 32%, MLP 68%, CNN 94%, GRU '
            '91% accuracy; shuffled, CNN 56%, GRU 57%.'),
    Chapter('end_to_end', 'End-to-end learning vs a hand-built pipeline',
            'Learning the whole pipeline ties with or beats a hand-crafted '
            'front end.',
            'The lecture\'s speech pipeline (DFT → filter bank → log → DCT → '
            'MFCC; Davis & Mermelstein 1980).'),
    Chapter('optimism', 'Selection is training',
            'Choosing among many models on a validation set is itself '
            'training on it.',
            'Cawley & Talbot 2010: over-fitting in model selection; order '
            'statistics grow as σ√(2 ln K).'),
    Chapter('architecture_search', 'Can the structure be found automatically?',
            'A search over architectures can find the structure.',
            'Real et al. 2019 (regularized evolution); random search as the '
            'honest baseline.'),
    Chapter('stn', 'Spatial transformers',
            'A spatial transformer (6 affine parameters, bilinear sampling) '
            'lets a net undo rotation, scale and translation.',
            'Jaderberg et al. 2015, distorted MNIST: FCN 2.1 / 2.6%, ST-FCN '
            '1.2 / 0.8% (R / RTS), CNN 1.2 / 0.8%, ST-CNN 0.7 / 0.5%.'),
)
STUDIES = tuple(c.study for c in CHAPTERS)
REPORT = 'REPORT.md'


def check_config(config) -> None:
  """One line, and nothing written, for a bad study list or flags."""
  e = store.execution()
  if e.is_task:
    raise UsageError('the lecture runs whole studies; submit a study as an '
                     'array with launch/slurm.sh instead of passing task '
                     'flags (or SLURM array variables) to lecture.py.')
  import jax
  if jax.distributed.is_initialized():
    raise UsageError('the lecture runs each study as its own process; run '
                     'a study (not lecture.py) with --distributed or '
                     'launch/slurm.sh --processes.')
  studies = tuple(config.studies)
  unknown = [s for s in studies if s not in STUDIES]
  if unknown or not studies:
    raise UsageError(
        (f'config.studies: unknown {", ".join(map(repr, unknown))}'
         if unknown else 'config.studies is empty')
        + f'; known: {", ".join(STUDIES)}.')
  if not isinstance(config.runlocal, bool):
    raise UsageError(f'config.runlocal must be True or False, got '
                     f'{config.runlocal!r}.')
  if (not isinstance(config.parallel, int) or isinstance(config.parallel, bool)
      or config.parallel < 1):
    raise UsageError(f'config.parallel must be an integer >= 1, got '
                     f'{config.parallel!r}.')


def experiments_dir() -> str:
  """experiments/ beside the package, in a clone of the repository."""
  return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
      __file__))), 'experiments')


def run_study(study: str, runlocal: bool, workdir: str, log_path: str,
              prefix: str = '', parallel: int = 1) -> int:
  """Runs experiments/<study>.py (the study's own launcher, as a user
  would) with its default or :runlocal config; its output goes to the
  console (each line after `prefix`) and to `log_path`. Returns the exit
  code."""
  root = experiments_dir()
  config = os.path.join(root, 'configs', f'{study}.py') + (
      ':runlocal' if runlocal else '')
  command = [sys.executable, os.path.join(root, f'{study}.py'),
             f'--config={config}', f'--workdir={workdir}']
  if store.execution().allow_config_change:
    command.append('--allow_config_change')
  # The launcher also writes which config fields the study read (a test
  # looks for fields nothing reads).
  env = dict(os.environ, DEEPVSSHALLOW_CONFIG_READS=os.path.splitext(
      log_path)[0] + '.reads.json')
  if parallel > 1:   # Studies beside each other share an accelerator's
    # memory: each takes what it needs instead of JAX's default 75%.
    env.setdefault('XLA_PYTHON_CLIENT_PREALLOCATE', 'false')
  with open(log_path, 'w') as log:
    proc = subprocess.Popen(command, cwd=os.path.dirname(root),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    for line in proc.stdout:
      print(prefix + line, end='', flush=True)
      log.write(line)
    return proc.wait()


def run_lecture(config, workdir: str) -> dict:
  """Runs the chapters that are not finished, then writes REPORT.md."""
  check_config(config)
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
  chapters = [c for c in CHAPTERS if c.study in config.studies]

  stop = threading.Event()   # Set by a failure: start no further study.

  def run(i: int, chapter: Chapter) -> None:
    if stop.is_set():
      return
    print(f'[{i}/{len(chapters)}] {chapter.study}: running '
          f'({"runlocal" if config.runlocal else "default"} config)...',
          flush=True)
    log = os.path.join(workdir, 'logs', f'{chapter.study}.txt')
    code = run_study(chapter.study, config.runlocal,
                     os.path.join(workdir, chapter.study), log,
                     f'[{chapter.study}] ' if config.parallel > 1 else '',
                     config.parallel)
    (ran if code == 0 else failed).append((chapter.study, code, log))
    if code != 0:
      stop.set()

  pool = concurrent.futures.ThreadPoolExecutor(config.parallel)
  try:
    futures = []
    for i, chapter in enumerate(chapters, 1):
      if os.path.exists(os.path.join(workdir, chapter.study, 'results.json')):
        print(f'[{i}/{len(chapters)}] {chapter.study}: finished before; '
              'kept.', flush=True)
        kept.append(chapter.study)
      else:
        futures.append(pool.submit(run, i, chapter))
    for f in futures:
      f.result()   # (An error of the runner itself, not of a study.)
  except BaseException:   # Ctrl-C: start nothing more.
    stop.set()
    pool.shutdown(wait=False, cancel_futures=True)
    raise
  pool.shutdown()
  if failed:   # Studies already running ran to the end; theirs are kept.
    order = [c.study for c in chapters]
    failed.sort(key=lambda f: order.index(f[0]))
    raise UsageError(
        '; '.join(f'study {study} stopped with exit code {code} (its output: '
                  f'{log})' for study, code, log in failed)
        + '; fix it and run the same command again to resume.')
  ran = [c.study for c in chapters if c.study in {s for s, _, _ in ran}]
  text = render_report(workdir, chapters, runlocal=config.runlocal)
  report.atomic_write(os.path.join(workdir, REPORT), text)
  print(f'Wrote {os.path.join(workdir, REPORT)} ({len(ran)} studies run, '
        f'{len(kept)} kept, {time.time() - t0:.0f}s).', flush=True)
  return {'ran': ran, 'kept': kept, 'report': os.path.join(workdir, REPORT)}


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
  for i, chapter in enumerate(chapters, 1):
    sub = os.path.join(workdir, chapter.study)
    path = os.path.join(sub, 'results.json')
    if not os.path.exists(path):
      lines.append(f'| {i} | {chapter.title} | not run |')
      bodies.append(f'## {i}. {chapter.title}\n\nNot run yet.\n')
      continue
    with open(path) as f:
      summary = json.load(f)
    module = importlib.import_module(f'deepvsshallow.studies.{chapter.study}')
    verdict = module.headline(summary)
    lines.append(f'| {i} | [{chapter.title}](#{i}-'
                 f'{_slug(chapter.title)}) | {verdict.replace("|", "/")} |')
    body = [f'## {i}. {chapter.title}', '',
            f'**The claim.** {chapter.claim}', '',
            f'**Published.** {chapter.anchor}', '',
            f'**Here.** {verdict}', '']
    md_path = os.path.join(sub, 'results.md')
    embedded = ''
    if os.path.exists(md_path):
      with open(md_path) as f:
        embedded = _embed(f.read(), chapter.study)
      body += [embedded.strip(), '']
    figures = sorted(n for n in os.listdir(sub) if n.endswith('.png'))
    missing = [n for n in figures if f'{chapter.study}/{n})' not in embedded]
    for name in missing:
      body += [f'![{name[:-4]}]({chapter.study}/{name})', '']
    bodies.append('\n'.join(body))
  lines += ['']
  return '\n'.join(lines + bodies) + '\n'


def _slug(title: str) -> str:
  """GitHub's anchor for a heading (after its number)."""
  slug = re.sub(r'[^\w\- ]', '', title.lower()).strip()
  return re.sub(r' ', '-', slug)
