"""The shared runner: what every study does the same way, written once.

A study's `experiment.run(run)` reads as its own grid, models and report,
around the `Run` its record opens (`study.Study.train_and_evaluate`):

  def run(run: runner.Run) -> dict:
    dataset = run.load_dataset()
    picked = run.train_all([runner.Population(name, model_fn, dataset,
                                              info={...}) for ...])
    test = run.read_test(dataset)          # once, after all training
    rows = [Row(**p.info, scores=run.scores(p, test)) for p in picked]
    return run.finish({'rows': rows}, render=..., figures={...})

The parts, each on its own:
  * `Run`: the one validation pass (the study's schema: every problem one
    line, before anything is loaded or written), the workdir (removed again
    if a usage error stops the run before it wrote anything), reading test
    once after all training, and the summary (results.json, results.md,
    figures, all written atomically);
  * `Run._plan`: what to train, what is already saved (`store`: resume after
    a kill, array tasks sharing a workdir), which array task trains what;
  * while one population trains, nothing else waits for it: worker
    threads compile the next ones' programs (`CompileAhead`: training, and
    the fixed-shape evaluation), a thread initialises the next population's
    members (`Run._train_batch`; not with checkpoints, nor across
    processes), and another writes the last one's TensorBoard sessions
    (`Behind`);
  * `Picked`: the pick on validation, keeping the picked members'
    parameters, and the one way to evaluate them (`evaluate`,
    `evaluate_all`);
  * `store.encode_population` / `decode_population`: the saved files;
  * several processes (`jax.distributed`): every process runs the same
    study, each population spans every device of every process, and only
    process 0 writes or prints; checkpoints inside a population every
    `config.checkpoint_every` epochs (`checkpoints.py`).
"""

from __future__ import annotations

import base64
import collections
import concurrent.futures
import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import platform
import shutil
import time
import types
import typing
from typing import Any, Callable, Sequence

import jax
import numpy as np
from flax import nnx

from deepvsshallow import checkpoints
from deepvsshallow import config as config_lib
from deepvsshallow import fields as fields_lib
from deepvsshallow import data as data_lib
from deepvsshallow import params as params_lib
from deepvsshallow import report, runtime, selection, stats, tasks, train
from deepvsshallow import store as store_lib
from deepvsshallow.errors import UsageError

Execution = store_lib.Execution


@dataclasses.dataclass
class Picked:
  """A population after training: its pick on validation, and the picked
  members' best-validation state (host arrays, leading member axis)."""
  name: str
  info: dict[str, Any]                 # Written into every trial record.
  pick: selection.Pick | None          # None: every candidate diverged.
  params: Any
  rest: Any
  result: train.PopulationResult
  evaluator: train.EvalProgram         # Compiled for the picked members.
  learning_rates: tuple[float, ...]    # Each member's.
  logdirs: tuple[str, ...] = ()        # Each member's TensorBoard run.

  @property
  def task(self) -> tasks.Task:
    return self.result.step_def.task

  def evaluate(self, split: data_lib.Split, *, per_example: bool = False):
    """Every task metric of each picked member on `split` (one value per
    member), from the program compiled for the picked members; with
    `per_example`, also {metric: (members, examples)}."""
    return self.evaluator(self.params, self.rest, split,
                          per_example=per_example)

  def evaluate_all(self, split: data_lib.Split, *,
                   per_example: bool = False):
    """The same for every member of the population (its best-validation
    state), e.g. every candidate of a search: the same jitted program,
    compiled once for the population's shape."""
    r = self.result
    return self.evaluator(r.best_params, r.best_rest, split,
                          per_example=per_example)

  @property
  def grid(self) -> tuple[float, ...]:
    """The learning rates its candidates were trained at, ascending."""
    return tuple(sorted(set(self.learning_rates)))

  @property
  def kept_epochs(self) -> tuple[int, ...]:
    """Each picked member's kept (best-validation) epoch, from 0; () when
    every candidate diverged."""
    if self.pick is None:
      return ()
    return tuple(int(self.result.best_epoch[m]) for m in self.pick.members)

  def convergence(self, patience: int) -> 'Convergence':
    """How its picked members stopped, trained with `patience`."""
    return Convergence(patience, self.kept_epochs, self.ran_epochs)

  @property
  def ran_epochs(self) -> tuple[int, ...]:
    """Each picked member's epochs trained: its own population's, which a
    grid extension may have trained apart from the rest (its validation
    history holds NaN after its last epoch)."""
    if self.pick is None:
      return ()
    val = self.result.history['val']
    return tuple(int(np.sum(~np.isnan(val[:, m]))) for m in self.pick.members)

  @property
  def on_edge(self) -> bool:
    """The pick is an end of its grid, or the grid's only rate: not tuned."""
    return self.pick is not None and self.pick.candidate in (
        self.grid[0], self.grid[-1])

  def member(self, i: int):
    """The i-th picked member as an NNX model in evaluation mode."""
    take = lambda tree: jax.tree.map(lambda a: a[i], tree)
    return nnx.merge(self.result.step_def.eval_graph, take(self.params),
                     take(self.rest))


def describe_model_fn(fn) -> str:
  """What a population's model is, the same in every process (its saved
  result is found again by it): a function or class by its qualified name,
  a functools.partial by its function and arguments. A lambda, a closure or
  an argument that prints as an address cannot be found again on resume:
  a UsageError says to use a functools.partial of named things."""
  if isinstance(fn, functools.partial):
    parts = [describe_model_fn(fn.func)]
    parts += [_describe_arg(a) for a in fn.args]
    parts += [f'{k}={_describe_arg(v)}' for k, v in sorted(
        fn.keywords.items())]
    return f'partial({", ".join(parts)})'
  name = getattr(fn, '__qualname__', '')
  if not name or '<' in name:
    raise UsageError(f'model_fn {fn!r} has no stable name, so a resumed run '
                     'could not find its saved result; pass a '
                     'functools.partial of a module class.')
  return f'{fn.__module__}.{name}'


def _describe_arg(value) -> str:
  if isinstance(value, (tuple, list)):
    return f'({", ".join(_describe_arg(v) for v in value)},)'
  if isinstance(value, functools.partial) or hasattr(value, '__qualname__'):
    return describe_model_fn(value)
  text = repr(value)
  if ' at 0x' in text:
    raise UsageError(f'model_fn argument {text} prints as an address, so a '
                     'resumed run could not find its saved result; pass '
                     'plain values or named functions.')
  return text


@dataclasses.dataclass(frozen=True)
class Population:
  """One shape's candidates to train: a name, a model and a dataset."""
  name: str
  model_fn: Callable
  dataset: data_lib.Dataset
  info: dict = dataclasses.field(default_factory=dict)
  task: tasks.Task | None = None   # None: the dataset's own task.
  # None: the run's settings (from the config). A study that trains some
  # populations differently (e.g. equal steps on a larger dataset) passes
  # its own, and records the difference in `info`.
  settings: train.TrainSettings | None = None
  # None: the run's grid (config.learning_rates x config.num_seeds). A
  # study with its own candidates (random learning rates, a search) passes
  # (seeds, learning_rates), one entry per member; members sharing a
  # learning rate are that candidate's replicates.
  members: tuple[Sequence[int], Sequence[float]] | None = None
  # With members None: seeds per rate of the run's grid (None:
  # config.num_seeds), grid extensions included.
  num_seeds: int | None = None
  # False: the study evaluates the members itself (every candidate of a
  # search, say), so no evaluation program for the pick is compiled ahead
  # (`Picked.evaluator` then compiles on its first call, if any).
  evaluate_pick: bool = True
  # None: each member starts from the model's initialisation with its seed.
  # Else (params, rest): each member's initial nnx.Param state and other
  # state, either None for the model's own (host arrays, leading member
  # axis; `train.run_program`), e.g. narrow nets zero-padded into one wider
  # shape, so that many shapes share one program. Part of the fingerprint.
  initial: Any = dataclasses.field(default=None, compare=False, repr=False)
  # None, or one dict per member merged over `info` in that member's trial
  # record and HParams session: what tells members apart besides their
  # seed and learning rate (a search's candidates: each one's widths).
  member_info: Sequence[dict] | None = dataclasses.field(
      default=None, compare=False, repr=False)

  def __post_init__(self):
    if self.member_info is not None and (
        self.members is None or len(self.member_info) != len(self.members[0])):
      raise ValueError(f'{self.name}: member_info needs explicit members, '
                       'one entry per member.')

  def infos(self, info: dict, num_members: int) -> list[dict]:
    """Each member's info: `info`, then its own `member_info`."""
    return [{**info, **own}
            for own in (self.member_info or [{}] * num_members)]

  def seeds_and_lrs(self, run: 'Run') -> tuple[list[int], list[float]]:
    if self.members is None:
      return candidate_grid(run.config.learning_rates,
                            self.num_seeds or run.config.num_seeds)
    seeds, lrs = self.members
    return [int(s) for s in seeds], [float(lr) for lr in lrs]

  def program_key(self, settings: train.TrainSettings, num_members: int):
    """Populations with equal keys share one compiled program: the same
    model (a functools.partial's function and arguments), the same data
    shapes, task, settings and number of members. It ends with how the
    members run ('vmap' or 'map': what 'auto' picks for this model on this
    backend), which sets how they round, so a result saved under the other
    mode is not reused."""
    ds = self.dataset
    return (describe_model_fn(self.model_fn), ds.train.inputs.shape, ds.train.inputs.dtype.str,
            ds.train.targets.shape, ds.validation.inputs.shape,
            ds.validation.targets.shape, ds.input_convention,
            self.task.name if self.task else ds.task, settings, num_members,
            self.evaluate_pick,
            train.members_mode(settings.members, _abstract(self.model_fn)))


@dataclasses.dataclass(frozen=True)
class Planned:
  """A population's place in the run: its members, the key of its compiled
  program, its file key and fingerprint, and its saved result if any."""
  population: Population
  settings: train.TrainSettings
  seeds: list[int]
  lrs: list[float]
  program_key: tuple
  key: str                 # Its place in the run's order: populations/<key>.npz
  fp: str                  # What it is: a saved file counts only if it matches.
  saved: dict | None


class CompileAhead:
  """Worker threads that compile programs while earlier populations train,
  one program per key for the whole run: a shape seen before (in this call
  or an earlier one) is not compiled again. Used as `with compiler:` around
  each batch of populations; leaving it cancels what was not started."""

  def __init__(self):
    self._programs = {}   # program_key -> future.
    self._pool = None

  def __enter__(self) -> 'CompileAhead':
    self._pool = concurrent.futures.ThreadPoolExecutor(
        compile_workers(), thread_name_prefix='compile')
    return self

  def submit(self, program_key, fn, *args) -> concurrent.futures.Future:
    if program_key not in self._programs:
      self._programs[program_key] = self._pool.submit(fn, *args)
    return self._programs[program_key]

  def __exit__(self, *_) -> None:
    for program_key, f in list(self._programs.items()):
      if f.cancel():
        del self._programs[program_key]
    self._pool.shutdown()
    self._pool = None


class Behind:
  """One task at a time on a thread of its own, behind the training (a
  population's TensorBoard sessions, written while the next one trains).
  `submit` and `wait` first finish the task before, raising its error; used
  as `with behind:` around each batch of populations, which waits for the
  last task on the way out (and raises its error), or, leaving on another
  error, adds the task's error to that one as a note."""

  def __init__(self, name: str):
    self._name = name
    self._pool = None
    self._last = None

  def __enter__(self) -> 'Behind':
    self._pool = concurrent.futures.ThreadPoolExecutor(
        1, thread_name_prefix=self._name)
    return self

  def submit(self, fn, *args) -> None:
    self.wait()
    self._last = self._pool.submit(fn, *args)

  def wait(self) -> None:
    last, self._last = self._last, None
    if last is not None:
      last.result()

  def __exit__(self, kind, error, tb) -> None:
    try:
      if kind is None:
        self.wait()
    finally:
      last, self._last = self._last, None
      self._pool.shutdown()   # Waits for a task under way.
      self._pool = None
      if (error is not None and last is not None and not last.cancelled()
          and last.exception() is not None and hasattr(error, 'add_note')):
        error.add_note(f'{self._name} also failed: {last.exception()!r}')


def _arrays_hash(tree) -> tuple[str, ...]:
  """() for no given initial state, else one digest of its arrays."""
  if tree is None:
    return ()
  h = hashlib.sha256()
  for leaf in jax.tree.leaves(tree):
    h.update(np.ascontiguousarray(leaf).tobytes())
  return (h.hexdigest()[:16],)


def _abstract(model_fn):
  return nnx.eval_shape(lambda: model_fn(rngs=nnx.Rngs(0)))


def _trial_info(population: Population, program: train.PopulationProgram
                ) -> dict:
  """What every trial record of `population` says besides its own metrics:
  its parameter count, how its members ran, and the population's info."""
  return {'param_count': params_lib.model_param_count(population.model_fn),
          'members': program.members, **population.info}


def compile_workers() -> int:
  """Threads that compile ahead: every core but the one that trains."""
  return max(1, runtime.cores() - 1)


def candidate_grid(learning_rates: Sequence[float], num_seeds: int):
  """(member_seeds, member_lrs): every learning rate with every seed."""
  seeds = list(range(num_seeds))
  return ([s for _ in learning_rates for s in seeds],
          [float(lr) for lr in learning_rates for _ in seeds])


def next_rate(picked: Picked) -> float | None:
  """The learning rate one log step beyond the end of the grid the pick sits
  on (every candidate counts, diverged ones too), or None: the pick is
  inside its grid, the grid has one rate, or nothing could be picked."""
  grid = sorted(set(picked.learning_rates))
  if picked.pick is None or len(grid) < 2:
    return None
  # Six significant digits: 0.027, not 0.026999999999999996.
  if picked.pick.candidate == grid[-1]:
    return float(f'{grid[-1] * grid[-1] / grid[-2]:.6g}')
  if picked.pick.candidate == grid[0]:
    return float(f'{grid[0] * grid[0] / grid[1]:.6g}')
  return None


def platform_info(matmul_precision: str) -> dict[str, Any]:
  import flax
  import optax
  devices = jax.devices()
  return {'backend': jax.default_backend(),
          'deterministic_ops': runtime.deterministic_ops(
              jax.default_backend()),
          'device_kind': devices[0].device_kind,
          'devices': len(devices),
          'processes': jax.process_count(),
          'matmul_precision': matmul_precision,
          'float32_matmuls': runtime.float32_matmuls(
              jax.default_backend(), matmul_precision, devices[0]),
          'jax': jax.__version__, 'jaxlib': jax.lib.__version__,
          'flax': flax.__version__, 'optax': optax.__version__,
          'numpy': np.__version__, 'python': platform.python_version()}


def _finite_or_none(x):
  return float(x) if np.isfinite(x) else None


class Record:
  """A mixin for the frozen dataclasses of a study's results (typed rows):
  `from_json` rebuilds one from its JSON form (`to_json`), nested
  dataclasses, tuples and optional fields by their type hints."""

  @classmethod
  def from_json(cls, d: dict):
    return _rebuild(cls, d)


def _rebuild(tp, value):
  if value is None:
    return None
  origin, args = typing.get_origin(tp), typing.get_args(tp)
  if origin in (typing.Union, types.UnionType):
    options = [a for a in args if a is not type(None)]
    return _rebuild(options[0], value) if len(options) == 1 else value
  if origin is tuple:
    if len(args) == 2 and args[1] is Ellipsis:
      return tuple(_rebuild(args[0], v) for v in value)
    return tuple(_rebuild(a, v) for a, v in zip(args, value)) if args else (
        tuple(value))
  if origin is dict and len(args) == 2:
    return {k: _rebuild(args[1], v) for k, v in value.items()}
  if dataclasses.is_dataclass(tp):
    hints = typing.get_type_hints(tp)
    return tp(**{f.name: _rebuild(hints[f.name], value[f.name])
                 for f in dataclasses.fields(tp) if f.name in value})
  return value


@dataclasses.dataclass(frozen=True)
class Scores(Record):
  """What a picked candidate scored: `metric` (the task's select_on, e.g.
  'error') on validation and test, one value per seed (replicate), and on
  each test example (`test_examples`, encoded; `test_per_example` decodes
  it) for comparisons paired over the examples. `grid`: the learning rates
  it was picked among, after any extension; `on_edge`: the pick is still
  at an end of it (not bracketed). A row of a study's table holds one;
  `from_json` reads it back from results.json."""
  status: str                       # 'done', or 'diverged': every candidate diverged.
  metric: str
  num_candidates: int
  num_diverged: int = 0
  learning_rate: float | None = None
  val_per_seed: tuple[float, ...] = ()
  test_per_seed: tuple[float, ...] = ()
  test_examples: str = ''
  grid: tuple[float, ...] = ()
  on_edge: bool = False

  @property
  def done(self) -> bool:
    return self.status == 'done'

  @property
  def test_per_example(self) -> np.ndarray | None:
    """(seeds, test examples) of `metric`, or None if not kept."""
    return decode_examples(self.test_examples) if self.test_examples else (
        None)

  @property
  def val_mean(self) -> float:
    return selection.mean_std(self.val_per_seed)[0]

  @property
  def val_std(self) -> float:
    return selection.mean_std(self.val_per_seed)[1]

  @property
  def test_mean(self) -> float:
    return selection.mean_std(self.test_per_seed)[0]

  @property
  def test_std(self) -> float:
    return selection.mean_std(self.test_per_seed)[1]


@dataclasses.dataclass(frozen=True)
class Convergence(Record):
  """How the picked members of a population trained to convergence
  (patience > 0) stopped: each one's kept (best-validation) epoch and its
  population's epochs (`Picked.kept_epochs`, `Picked.ran_epochs`)."""
  patience: int
  kept_epochs: tuple[int, ...] = ()
  ran_epochs: tuple[int, ...] = ()

  @property
  def stopped_by_patience(self) -> list[bool]:
    """Per member: did `patience` epochs pass without improvement before
    its population stopped (else the cap stopped it first)? False for
    every member when patience is off."""
    return [bool(self.patience) and ran - 1 - kept >= self.patience
            for kept, ran in zip(self.kept_epochs, self.ran_epochs)]

  @property
  def converged(self) -> bool:
    """Every picked member stopped by patience, none by the cap."""
    return all(self.stopped_by_patience)

  def cell(self) -> str:
    """A table cell: 'kept/stopped', the mean kept (best-validation) epoch
    and the mean epoch each member stopped at (`patience` after its best,
    or its population's end), counted from 1, and how many members the cap
    stopped before patience did."""
    if not self.kept_epochs:
      return 'n/a'
    p = self.patience
    stop = [min(ran, kept + p + 1) if p else ran
            for kept, ran in zip(self.kept_epochs, self.ran_epochs)]
    cell = f'{np.mean(self.kept_epochs) + 1:.0f}/{np.mean(stop):.0f}'
    capped = self.stopped_by_patience.count(False)
    return cell + (f' ({capped} of {len(self.kept_epochs)} at the cap)'
                   if capped else '')


def encode_examples(values_SN: np.ndarray) -> str:
  """(seeds, examples) scores as text for results.json: 0/1 values as bits
  ('bits:SxN:<base64>'), anything else as float32 ('f32:SxN:<base64>')."""
  v = np.asarray(values_SN)
  shape = 'x'.join(map(str, v.shape))
  if np.isin(v, (0, 1)).all():
    return f'bits:{shape}:' + base64.b64encode(np.packbits(
        v.astype(bool))).decode()
  return f'f32:{shape}:' + base64.b64encode(
      v.astype('<f4').tobytes()).decode()


def decode_examples(text: str) -> np.ndarray:
  kind, shape, payload = text.split(':')
  shape = tuple(int(d) for d in shape.split('x'))
  raw = base64.b64decode(payload)
  if kind == 'bits':
    bits = np.unpackbits(np.frombuffer(raw, np.uint8))[:int(np.prod(shape))]
    return bits.reshape(shape).astype(np.float64)
  return np.frombuffer(raw, '<f4').reshape(shape).astype(np.float64)


HIGHER_IS_BETTER = frozenset({'accuracy'})   # Every other metric: lower.


def compare(a: Scores, b: Scores, **options) -> stats.Comparison:
  """The claim "a scored better than b" on the test set (`stats.compare`):
  paired over the test examples when both kept them, else over seeds. With
  one seed on a side there is no interval: inconclusive, and it says so."""
  if a.metric != b.metric:
    raise ValueError(f'comparing {a.metric} with {b.metric}')
  pa, pb = a.test_per_example, b.test_per_example
  paired = pa is not None and pb is not None and pa.shape[1] == pb.shape[1]
  return stats.compare_or_no_interval(pa if paired else a.test_per_seed,
                                      pb if paired else b.test_per_seed,
                                      higher_is_better=a.metric in
                                      HIGHER_IS_BETTER, **options)


def edge_note(**named: Scores) -> str:
  """' (not bracketed: NAME picked lr=X, an end of its grid a..b)' for each
  named pick still on an end of its grid after every extension (or 'the
  only rate tried'): beside a verdict, it says that side's tuning may be
  what the verdict measures."""
  notes = [f'{name} picked lr={s.learning_rate:g}, ' + (
      f'an end of its grid {s.grid[0]:g}..{s.grid[-1]:g}' if len(s.grid) > 1
      else 'the only rate tried')
           for name, s in named.items() if s is not None and s.on_edge]
  return f' (not bracketed: {"; ".join(notes)})' if notes else ''


def to_json(value):
  """Dataclasses (typed rows, Scores) as dicts, tuples as lists: what
  results.json holds and what a report renders."""
  return json.loads(json.dumps(value, default=_jsonable))


def _jsonable(value):
  if dataclasses.is_dataclass(value) and not isinstance(value, type):
    return {f.name: getattr(value, f.name)
            for f in dataclasses.fields(value)}
  if isinstance(value, np.generic):
    return value.item()
  raise TypeError(f'{type(value).__name__} is not JSON-serialisable')


class Run:
  """One study's run: validation, workdir, trial records, one read of test."""

  def __init__(self, study: str, config, workdir: str, *,
               schema: fields_lib.Schema,
               execution: Execution | None = None):
    self.t0 = time.time()
    self.compiles0 = runtime.compile_stats()
    self.trainings0 = runtime.programs_named(train.TRAINING_PROGRAM)
    self.study, self.config = study, config
    schema.validate(config)
    self.workdir = os.path.abspath(workdir)
    self.execution = execution or Execution()
    # Several processes (jax.distributed) run one study together; process 0
    # writes and prints for all of them.
    self.lead = jax.process_index() == 0
    if jax.process_count() > 1 and self.execution.is_task:
      raise UsageError('a multi-process run trains every population across '
                       'all its processes; drop --task_index/--num_tasks '
                       '(or the SLURM array) for it.')
    if jax.process_count() > 1 and not config.shard:
      raise UsageError('config.shard=False would train every population on '
                       'each process alone; keep config.shard=True for a '
                       'multi-process run.')
    self._created = _make_workdir(self.workdir)
    self.store = store_lib.Store(self.workdir, writer=self.lead)
    try:
      self.resumed = self.store.claim(study, config.to_dict(),
                                      self.execution.allow_config_change)
    except UsageError:
      self.__exit__(UsageError, UsageError(''), None)
      raise
    self.settings = train.TrainSettings.from_config(config)
    self._test_read = False
    self.trials_path = os.path.join(self.workdir, 'trials.jsonl')
    self._compiler = CompileAhead()
    self._sessions = Behind('sessions')
    self._seq = 0         # Populations so far, in the run's order.
    self._done = []       # Keys of this run's populations, trained or loaded.
    self._saved = []      # Keys saved so far in the batch under way.
    self._tested = set()  # TensorBoard runs holding their test metric.
    self._data_hashes = {}

  def __enter__(self) -> 'Run':
    return self

  def __exit__(self, kind, error, tb) -> bool:
    # A usage error before any population finished: leave nothing behind.
    if (isinstance(error, UsageError) and self._created and self.lead
        and set(os.listdir(self.workdir)) <= {'config.json'}):
      shutil.rmtree(self._created, ignore_errors=True)
    if isinstance(error, store_lib.TaskDone):
      e = self.execution
      self.log(f'Task {e.task_index} of {e.num_tasks}: trained its share; '
               'the rest needs the other tasks. Run without task flags on '
               'this workdir to train what is missing and write the report.')
      return True
    return False

  def log(self, message: str) -> None:
    if self.lead:
      print(message, flush=True)

  def load_dataset(self, name: str | None = None, *,
                   generator: dict | None = None) -> data_lib.Dataset:
    """The dataset `name` (default: config.dataset) with the config's data
    directory, validation split and generator arguments (`generator`
    replaces the latter, e.g. for a larger generated set)."""
    c = self.config
    name_ = name or c.dataset
    if data_lib.get_spec(name_).generator:   # Only generated sets take one.
      generator = generator or config_lib.generator_of(c)
    dataset = data_lib.load_dataset(
        name_, data_dir=c.data_dir or None, val_fraction=c.val_fraction,
        split_seed=c.split_seed, generator=generator)
    if name is None and generator is None:
      self.describe(dataset, f'{len(c.learning_rates)} learning rates x '
                    f'{c.num_seeds} seeds per population'
                    if 'learning_rates' in c.keys() else 'its own candidates')
    return dataset

  def describe(self, dataset: data_lib.Dataset, what: str) -> None:
    """The run's opening line: the data, what trains, where it runs."""
    processes = (f' of {jax.process_count()} processes'
                 if jax.process_count() > 1 else '')
    self.log(f'{self.study}: {dataset.name} (train {len(dataset.train)}, '
             f'validation {len(dataset.validation)}), {what} on '
             f'{jax.device_count()} {jax.default_backend()} device(s)'
             f'{processes}; writing to {self.workdir}')

  def train(self, name: str, model_fn: Callable, dataset: data_lib.Dataset, *,
            info: dict, task: tasks.Task | None = None) -> Picked:
    """Trains one population; see `train_all`."""
    return self.train_all([Population(name, model_fn, dataset, info, task)])[0]

  def train_all(self, populations: Sequence[Population]) -> list[Picked]:
    """Trains each population's candidates (learning rates x seeds) in
    order, records every trial and picks on validation. Programs compile
    ahead on `compile_workers()` threads while earlier populations train.

    A pick on an end of the run's learning-rate grid has not been tuned:
    the grid is extended one step that way (the same log spacing) and the
    new candidates train, up to `config.grid_extensions` times; the pick is
    then made over every candidate (`Scores.grid`, `Scores.on_edge`)."""
    picked = self._train_batch(populations)
    limit = (self.config.grid_extensions
             if 'grid_extensions' in self.config.keys() else 0)
    for _ in range(limit):
      extend = {i: lr for i, (p, k) in enumerate(zip(populations, picked))
                if p.members is None and (lr := next_rate(k)) is not None}
      if not extend:
        break
      more = self._train_batch([dataclasses.replace(
          populations[i], members=candidate_grid(
              [lr], populations[i].num_seeds or self.config.num_seeds))
          for i, lr in extend.items()])
      for i, extra in zip(extend, more):
        picked[i] = self._merge(picked[i], extra)
    return picked

  def _merge(self, a: Picked, b: Picked) -> Picked:
    """One population's candidates, trained in two parts, picked as one."""
    cat = lambda *xs: np.concatenate(xs, 0)
    ra, rb = a.result, b.result
    epochs = max(ra.epochs_run, rb.epochs_run)
    pad = lambda h: np.pad(h, [(0, epochs - h.shape[0]), (0, 0)],
                           constant_values=np.nan)
    result = dataclasses.replace(
        ra, best_params=jax.tree.map(cat, ra.best_params, rb.best_params),
        best_rest=jax.tree.map(cat, ra.best_rest, rb.best_rest),
        best_val=cat(ra.best_val, rb.best_val),
        best_epoch=cat(ra.best_epoch, rb.best_epoch),
        final_train_loss=cat(ra.final_train_loss, rb.final_train_loss),
        diverged=cat(ra.diverged, rb.diverged), epochs_run=epochs,
        history={k: np.concatenate([pad(ra.history[k]), pad(rb.history[k])],
                                   1) for k in ra.history})
    lrs = a.learning_rates + b.learning_rates
    return self._picked(
        a.name, a.info, result, a.evaluator, lrs,
        f'picked over the grid extended to {min(lrs):g}..{max(lrs):g}',
        a.logdirs + b.logdirs)

  def _train_batch(self, populations: Sequence[Population]) -> list[Picked]:
    if self._test_read:
      raise RuntimeError('training after test was read: every population '
                         'must train before Run.read_test.')
    plan = self._plan(populations)
    mine = [q for q in plan
            if q.saved is None and self.execution.mine(int(q.key))]
    picked = {}
    self._saved = []
    # Left in reverse: the compiler first (cancelling what has not begun),
    # so that a start waiting on a program returns.
    with (concurrent.futures.ThreadPoolExecutor(
              1, thread_name_prefix='start') as starter,
          self._sessions,
          self._compiler as compiler):
      futures = {q.key: compiler.submit(q.program_key, self._compile,
                                        q.population) for q in mine}
      ahead = None
      for i, q in enumerate(mine):
        program, evaluator = futures[q.key].result()
        started = ahead.result() if ahead is not None else None
        ahead = None
        # The next population's members are initialised (op by op: small
        # programs to compile, on this thread they would leave the devices
        # idle) while this one trains.
        if i + 1 < len(mine) and self._starts_ahead:
          nxt = mine[i + 1]
          ahead = starter.submit(self._start_members, nxt, futures[nxt.key])
        picked[q.key] = self._train(q, program, evaluator, started)
    for q in plan:
      if q.key not in picked and q.saved is not None:
        picked[q.key] = self._restore(q)
      if q.key in picked:
        self._done.append(q.key)
    if len(picked) < len(plan):   # Another task's, not saved yet.
      raise store_lib.TaskDone()
    return [picked[q.key] for q in plan]

  def _plan(self, populations: Sequence[Population]) -> list['Planned']:
    """Each population's place in the run, fingerprint and saved result: a
    saved one (an earlier, cut-off run; another array task) is loaded, not
    trained."""
    plan = []
    for p in populations:
      settings = p.settings or self.settings
      seeds, lrs = p.seeds_and_lrs(self)
      program_key = p.program_key(settings, len(seeds))
      key = f'{self._seq:04d}'
      fp = store_lib.fingerprint(p.name, program_key, seeds, lrs,
                                 json.dumps(p.info, sort_keys=True,
                                            default=str),
                                 self._data_hash(p.dataset),
                                 *_arrays_hash(p.initial),
                                 *([] if p.member_info is None else [
                                     json.dumps(list(p.member_info),
                                                sort_keys=True, default=str)]))
      plan.append(Planned(p, settings, seeds, lrs, program_key, key, fp,
                          self.store.load(key, fp)))
      self._seq += 1
    if jax.process_count() > 1:   # Each process looked on its own.
      from jax.experimental import multihost_utils
      multihost_utils.assert_equal(
          np.asarray([q.saved is None for q in plan]),
          'processes see different saved populations: the workdir must be '
          'on a filesystem every process shares')
    return plan

  def _data_hash(self, dataset: data_lib.Dataset) -> str:
    """What the data is, not just its shape: a changed dataset, split or
    generator (or a retrained teacher's logits) changes the fingerprint."""
    key = id(dataset.train.inputs), id(dataset.validation.targets)
    if key not in self._data_hashes:
      h = hashlib.sha256(dataset.name.encode())
      for a in (dataset.train.inputs, dataset.train.targets,
                dataset.validation.inputs, dataset.validation.targets):
        h.update(np.ascontiguousarray(a).tobytes())
      self._data_hashes[key] = h.hexdigest()[:16]
    return self._data_hashes[key]

  def _compile(self, population: Population):
    """(training program, evaluation program), both compiled."""
    settings = population.settings or self.settings
    seeds, lrs = population.seeds_and_lrs(self)
    program = train.make_program(population.model_fn, population.dataset,
                                 settings, population.task)
    train.compile_program(program, population.dataset, seeds, lrs)
    evaluator = train.EvalProgram(program.step_def, settings)
    if population.evaluate_pick:
      _, params, rest = nnx.split(_abstract(population.model_fn), nnx.Param,
                                  ...)
      # The picked candidate's replicates: members sharing a learning rate.
      replicates = max(collections.Counter(lrs).values())
      picked = lambda tree: jax.tree.map(
          lambda x: jax.ShapeDtypeStruct((replicates, *x.shape), x.dtype),
          tree)
      split = population.dataset.train
      evaluator.compile(picked(params), picked(rest), split.inputs.shape[1:],
                        split.inputs.dtype, split.targets.shape[1:],
                        split.targets.dtype)
    return program, evaluator

  @property
  def _starts_ahead(self) -> bool:
    """Whether the next population's members are initialised while one
    trains: not with checkpoints (one may hold its start), nor across
    processes (keeping every process's calls in one order)."""
    return not self.config.checkpoint_every and jax.process_count() == 1

  def _start_members(self, q: 'Planned',
                     compiling: concurrent.futures.Future):
    """`q`'s members initialised and placed (`train.start_run`), once its
    program exists."""
    program, _ = compiling.result()
    return train.start_run(program, q.population.dataset, q.seeds, q.lrs,
                           initial=q.population.initial)

  def _train(self, q: 'Planned', program: train.PopulationProgram,
             evaluator: train.EvalProgram,
             started: tuple[Any, tuple] | None = None) -> Picked:
    t0 = time.time()
    population, seeds, lrs = q.population, q.seeds, q.lrs
    info = _trial_info(population, program)
    every = self.config.checkpoint_every
    # The device count sets how the population is padded, hence the saved
    # shapes: another count starts afresh.
    devices = jax.device_count() if q.settings.shard else 1
    checkpoint = checkpoints.Checkpoint(os.path.join(
        self.workdir, 'checkpoints', f'{q.key}.{q.fp}.d{devices}'),
        every) if every else None
    try:
      result = train.run_program(
          program, population.dataset, seeds, lrs, checkpoint=checkpoint,
          desc=f'{population.name} ({info["param_count"]:,} params)',
          initial=population.initial, started=started)
    finally:
      if checkpoint is not None:
        checkpoint.close()
    infos = population.infos(info, len(seeds))
    records = self._records(population.name, infos, result, seeds, lrs)
    # The previous population's sessions are written (an error there, a
    # full disk say, ends the run before this population is saved).
    self._sessions.wait()
    # Whole or absent (written, then renamed): a kill leaves no half of it.
    self.store.save(q.key, q.fp, store_lib.encode_population(result, records))
    self._saved.append(q.key)
    self.store.write_trials(self._done + self._saved)
    if self.lead:   # After the save: a full disk here loses no training.
      # Written while the next population trains.
      self._sessions.submit(self._write_sessions, q, infos, result)
    if checkpoint is not None and self.lead:
      checkpoints.remove(os.path.join(self.workdir, 'checkpoints'), q.key)
    how = f'{time.time() - t0:.1f}s'
    if result.resumed_from:
      how += f', resumed at epoch {result.resumed_from} from its checkpoint'
    return self._picked(population.name, info, result, evaluator, lrs, how,
                        self._logdirs(q))

  def _records(self, name: str, infos: Sequence[dict],
               result: train.PopulationResult, seeds, lrs) -> list[dict]:
    """One trial record per member: its info, config, status and
    metrics."""
    metric = result.step_def.task.select_on
    return [{
        'trial': f'{name}/lr={lr:g}/seed={seed}', 'name': name, **infos[m],
        'learning_rate': lr, 'seed': seed,
        'status': 'diverged' if result.diverged[m] else 'done',
        'config': self.config.to_dict(),
        'metrics': {
            f'best_val_{metric}': _finite_or_none(result.best_val[m]),
            'best_epoch': int(result.best_epoch[m]),
            'final_train_loss': _finite_or_none(result.final_train_loss[m]),
            'epochs_run': result.epochs_run}}
            for m, (seed, lr) in enumerate(zip(seeds, lrs))]

  def _write_sessions(self, q: 'Planned', infos, result) -> None:
    """`q`'s TensorBoard sessions (tensorboard/<key>), in place of any it
    had (a population trained again, a changed config, leaves none of its
    earlier training behind). Whole or absent: written into a folder of
    their own, then renamed, so that a kill or an error part way leaves
    none, and a rerun writes them again (`_restore`)."""
    board = os.path.join(self.workdir, 'tensorboard')
    final, partial = (os.path.join(board, name)
                      for name in (q.key, f'.{q.key}.partial'))
    shutil.rmtree(partial, ignore_errors=True)
    try:
      write_tensorboard(tuple(os.path.join(partial, os.path.basename(d))
                              for d in self._logdirs(q)),
                        q.population.name, infos, result, q.seeds, q.lrs,
                        result.step_def.task.select_on)
      shutil.rmtree(final, ignore_errors=True)
      os.replace(partial, final)
    except BaseException:
      shutil.rmtree(partial, ignore_errors=True)
      raise

  def _restore(self, q: 'Planned') -> Picked:
    """A population trained before (this workdir, or another array task)."""
    population = q.population
    program = train.make_program(population.model_fn, population.dataset,
                                 q.settings, population.task)
    result = store_lib.decode_population(
        q.saved, program.step_def, _abstract(population.model_fn))
    info = _trial_info(population, program)
    if self.lead and not os.path.isdir(
        os.path.join(self.workdir, 'tensorboard', q.key)):
      # Saved, but killed before its sessions were written.
      self._write_sessions(q, population.infos(info, len(q.seeds)), result)
    return self._picked(population.name, info, result,
                        train.EvalProgram(program.step_def, q.settings),
                        q.lrs, 'resumed from disk', self._logdirs(q))

  def _logdirs(self, q: 'Planned') -> tuple[str, ...]:
    """Each member's TensorBoard run: tensorboard/<key>/lr=..,seed=.."""
    return tuple(os.path.join(self.workdir, 'tensorboard', q.key,
                              member_run(lr, seed))
                 for seed, lr in zip(q.seeds, q.lrs))

  def _picked(self, name: str, info, result, evaluator, lrs,
              how: str, logdirs: tuple[str, ...] = ()) -> Picked:
    param_count = info['param_count']
    metric = result.step_def.task.select_on
    pick = selection.pick_by_validation(lrs, result.best_val,
                                        result.diverged)
    kept = (None, None)
    if pick is not None:
      idx = np.asarray(pick.members)
      kept = tuple(jax.tree.map(lambda a: a[idx], tree)
                   for tree in (result.best_params, result.best_rest))
    best = 'all diverged' if pick is None else (
        f'val {metric} {pick.val_errors.mean():.4g} at lr={pick.candidate:g}')
    self.log(f'  {name} ({param_count:,} params): {best} '
             f'({result.epochs_run} epochs, {result.diverged.sum()} diverged, '
             f'{how})')
    return Picked(name, info, pick, *kept, result, evaluator,
                  tuple(float(lr) for lr in lrs), tuple(logdirs))

  def read_test(self, dataset: data_lib.Dataset) -> data_lib.Split:
    """The test split, read after all training; no population trains after."""
    self._test_read = True
    return dataset.test()

  def scores(self, picked: Picked, test_split, *,
             keep_examples: bool = False) -> 'Scores':
    """The picked candidate's validation and test scores, per seed, and per
    test example (kept when 0/1, such as errors, or with `keep_examples`)."""
    if picked.pick is None:
      return Scores(status='diverged', metric=picked.task.select_on,
                    num_candidates=len(set(picked.learning_rates)),
                    num_diverged=len(picked.learning_rates))
    metric = picked.task.select_on
    test, per_example = picked.evaluate(test_split, per_example=True)
    per_example = per_example[metric]
    # Into each picked member's HParams session, once however often scored.
    new = [(picked.logdirs[m], test[metric][i])
           for i, m in enumerate(picked.pick.members)
           if picked.logdirs and picked.logdirs[m] not in self._tested]
    if self.lead and new:
      write_test_metric(*zip(*new), metric)
      self._tested.update(logdir for logdir, _ in new)
    binary = np.isin(per_example, (0, 1)).all()
    return Scores(status='done', metric=metric,
                  num_candidates=picked.pick.num_candidates,
                  num_diverged=picked.pick.num_diverged,
                  learning_rate=picked.pick.candidate,
                  val_per_seed=tuple(float(v) for v in picked.pick.val_errors),
                  test_per_seed=tuple(float(e) for e in test[metric]),
                  test_examples=(encode_examples(per_example)
                                 if binary or keep_examples else ''),
                  grid=picked.grid, on_edge=picked.on_edge)

  def finish(self, results: dict, *, render: Callable[[dict], str],
             figures: dict[str, Callable[[dict, str], None]] | None = None,
             console: Callable[[dict], str] | None = None) -> dict:
    """Writes results.json, results.md and the figures; returns the summary.

    `render(summary)` gives the markdown and `console(summary)` what is
    printed; `figures` maps a file name to `plot(summary, path)`.
    """
    # Every population of this run, whichever process trained it.
    self.store.write_trials(self._done)
    now = runtime.compile_stats()
    # The report renders exactly what results.json holds (typed rows as
    # dicts), so it can be rendered again from the file alone.
    summary = to_json({
        'study': self.study,
        'config': self.config.to_dict(),
        **results,
        'runtime_s': round(time.time() - self.t0, 1),
        'compile': {
            'count': now['count'] - self.compiles0['count'],
            'training': runtime.programs_named(train.TRAINING_PROGRAM)
                        - self.trainings0,
            'cached': now['cached'] - self.compiles0['cached'],
            'seconds': round(now['seconds'] - self.compiles0['seconds'], 2)},
        'platform': platform_info(self.settings.matmul_precision),
    })
    if not self.lead:
      return summary
    # An earlier run's results.json goes first: a crash while rendering or
    # plotting leaves none (the lecture runs the study again), not an old
    # one beside new figures.
    with contextlib.suppress(FileNotFoundError):
      os.remove(os.path.join(self.workdir, 'results.json'))
    report.atomic_write(os.path.join(self.workdir, 'results.md'),
                        render(summary))
    for file_name, plot in (figures or {}).items():
      plot(summary, os.path.join(self.workdir, file_name))
    # Last: a results.json says the study finished, report and figures
    # included (the lecture keeps a study that has one).
    report.write_json(os.path.join(self.workdir, 'results.json'), summary)
    if console is not None:
      self.log('\n' + console(summary) + '\n')
    written = ['trials.jsonl', 'results.json', 'results.md', *(figures or {})]
    self.log(f'Wrote {", ".join(written)} in {self.workdir} '
             f'({summary["runtime_s"]:.0f}s, of which '
             f'{summary["compile"]["seconds"]:.0f}s compiling).')
    return summary


def member_run(lr: float, seed: int) -> str:
  """A member's TensorBoard run, under tensorboard/<population key>/."""
  return f'lr={lr:g},seed={seed}'


def hparams_of(name: str, info: dict, lr: float, seed: int) -> dict:
  """A member's hyperparameters for TensorBoard's HParams view: its
  population, learning rate and seed, and the population's info (parameter
  count, architecture, depth, width, ... whatever the study records);
  lists as text."""
  hp = {'population': name, 'learning_rate': float(lr), 'seed': int(seed)}
  for key, value in info.items():
    if isinstance(value, (bool, int, float, str)):
      hp[key] = value
    elif isinstance(value, (list, tuple)):
      hp[key] = 'x'.join(map(str, value))
  widths = info.get('hidden_widths')
  if isinstance(widths, (list, tuple)) and all(
      isinstance(w, int) for w in widths):   # An MLP's depth and width.
    hp.setdefault('depth', len(widths))
    hp.setdefault('width', max(widths, default=0))
  return hp


def hparams_metrics(metric: str) -> tuple[str, str]:
  """The HParams view's two metrics: best validation, and test (written
  once test is read, for the picked members)."""
  return f'hparams/best_validation_{metric}', f'hparams/test_{metric}'


def write_tensorboard(logdirs, name: str, infos: Sequence[dict],
                      result: train.PopulationResult, seeds, lrs,
                      metric: str) -> None:
  """Each member's per-epoch training loss and validation metric, and its
  HParams session (hyperparameters from its info, best validation metric),
  as TensorBoard event files (tensorboardX: no TensorFlow), one run per
  member: `tensorboard --logdir <workdir>/tensorboard`. A member repeated
  to pad a population (the same run) is written once."""
  try:
    _write_tensorboard(logdirs, name, infos, result, seeds, lrs, metric)
  except OSError as e:
    report.raise_if_full(e, os.path.dirname(logdirs[0]))
    raise


@contextlib.contextmanager
def _events(logdir: str, suffix: str = ''):
  """`logdir`'s new event file, as a function that writes a tensorboardX
  `Summary` (at a step, or none) into it, here and now. tensorboardX's
  SummaryWriter hands every event to a thread of its own through a
  process queue: about 5 times the cost of a member's session
  (BUILD_NOTES.md), and the lecture writes some 6,000 of them. The file is
  the one that writer makes (its name, its first event, its records)."""
  from tensorboardX.event_file_writer import EventsWriter
  from tensorboardX.proto import event_pb2
  os.makedirs(logdir, exist_ok=True)
  writer = EventsWriter(os.path.join(logdir, 'events'), suffix)

  def write(summary, step: int | None = None) -> None:
    event = event_pb2.Event(summary=summary, wall_time=time.time())
    if step is not None:
      event.step = int(step)
    writer.write_event(event)

  try:
    yield write
  finally:
    writer.close()


def _write_tensorboard(logdirs, name, infos, result, seeds, lrs,
                       metric) -> None:
  from tensorboardX import summary
  best_tag, test_tag = hparams_metrics(metric)
  written = {}
  for m, (logdir, seed, lr) in enumerate(zip(logdirs, seeds, lrs)):
    if logdir in written:   # A member repeated to pad the population.
      if infos[written[logdir]] != infos[m]:
        raise ValueError(f'{name}: two members share {logdir} (their seed '
                         'and learning rate) but not their info.')
      continue
    written[logdir] = m
    with _events(logdir) as write:
      write(summary.text('population', name), 0)
      for epoch in range(result.history['train_loss'].shape[0]):
        for tag, values in (('train/loss', result.history['train_loss']),
                            (f'validation/{metric}', result.history['val'])):
          value = float(values[epoch, m])
          if np.isfinite(value):
            write(summary.scalar(tag, value), epoch + 1)
      # The session (start and end), not an experiment summary: TensorBoard
      # keeps the first experiment summary it finds for the whole logdir,
      # so populations with other hyperparameters (a baseline, a mimic)
      # would lose their columns; without one it builds the experiment
      # from every session's hyperparameters and metric scalars.
      _, start, end = summary.hparams(hparams_of(name, infos[m], lr, seed),
                                      {best_tag: 0.0, test_tag: 0.0})
      write(start)
      write(end)
      if not result.diverged[m]:
        write(summary.scalar(best_tag, float(result.best_val[m])),
              int(result.best_epoch[m]) + 1)


def write_test_metric(logdirs, values, metric: str) -> None:
  """Each picked member's test metric into its HParams session."""
  from tensorboardX import summary
  tag = hparams_metrics(metric)[1]
  try:
    for logdir, value in zip(logdirs, values):
      with _events(logdir, '.test') as write:
        write(summary.scalar(tag, float(value)), 0)
  except OSError as e:
    report.raise_if_full(e, os.path.dirname(logdirs[0]))
    raise


def _make_workdir(path: str) -> str | None:
  """Creates `path`; returns the topmost directory it created (None if it
  existed). Any failure is one usage line."""
  top = path
  while not os.path.exists(os.path.dirname(top)) and os.path.dirname(
      top) != top:
    top = os.path.dirname(top)
  if os.path.exists(path) and not os.path.isdir(path):
    raise UsageError(f'workdir {path} is a file; pass --workdir=<a '
                     'directory>.')
  existed = os.path.isdir(path)
  try:
    os.makedirs(path, exist_ok=True)
    if not os.access(path, os.W_OK | os.X_OK):
      raise PermissionError(f'{path} is not writable by this user')
  except OSError as e:
    reason = e.strerror or str(e)
    raise UsageError(f'workdir {path} cannot be created or written '
                     f'({reason}); pass a writable --workdir.') from None
  return None if existed else top
