"""The runner's parts: a model described the same in every process, the
saved-population codec, and the one way to evaluate a population."""

import functools
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from flax import nnx

from conftest import ROOT
from deepvsshallow import models, runner, store, train
from deepvsshallow.errors import UsageError

MLP = functools.partial(models.MLP, 64, (16,), 10, activation='relu')
# Described, never built: a named function as an argument.
DESCRIBED = functools.partial(models.MLP, 64, (16,), 10, act=jax.nn.relu)


def test_a_model_is_described_the_same_in_another_process():
  code = ('import functools, jax; from deepvsshallow import models, runner; '
          'print(runner.describe_model_fn(functools.partial(models.MLP, 64, '
          '(16,), 10, act=jax.nn.relu)))')
  out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                       text=True, timeout=120, cwd=ROOT)
  assert out.stdout.strip() == runner.describe_model_fn(DESCRIBED)
  assert 'models.MLP' in out.stdout and '0x' not in out.stdout


@pytest.mark.parametrize('fn', [
    lambda rngs: models.MLP(64, (16,), 10, rngs=rngs),
    functools.partial(models.MLP, 64, (16,), 10, activation=object()),
])
def test_a_model_that_cannot_be_found_again_is_a_usage_error(fn):
  with pytest.raises(UsageError):
    runner.describe_model_fn(fn)


def test_the_codec_reads_back_what_it_wrote_and_evaluation_is_one_program(
    digits, tmp_path):
  settings = train.TrainSettings(num_epochs=1, batch_size=64, progress=False)
  result = train.train_population(MLP, digits, [0, 1, 2], [1e-3, 1e-3, 3e-3],
                                  settings)
  records = [{'trial': i} for i in range(3)]
  saved = store.Store(str(tmp_path))
  saved.save('0000', 'fp', store.encode_population(result, records))
  loaded = saved.load('0000', 'fp')
  assert saved.load('0000', 'other') is None
  back = store.decode_population(
      loaded, result.step_def, nnx.eval_shape(lambda: MLP(rngs=nnx.Rngs(0))))
  for a, b in zip(jax.tree.leaves((result.best_params, result.best_rest)),
                  jax.tree.leaves((back.best_params, back.best_rest))):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  for name in ('best_val', 'best_epoch', 'final_train_loss', 'diverged'):
    np.testing.assert_array_equal(getattr(result, name), getattr(back, name))
  assert back.epochs_run == result.epochs_run
  # Every member evaluated by one program: its validation error is the
  # best validation error training recorded.
  evaluator = train.EvalProgram(result.step_def, settings)
  errors = evaluator(back.best_params, back.best_rest,
                     digits.validation)['error']
  np.testing.assert_allclose(errors, result.best_val, atol=1e-6)


def test_a_record_is_rebuilt_from_its_json_by_its_type_hints():
  import dataclasses

  @dataclasses.dataclass(frozen=True)
  class Inner(runner.Record):
    values: tuple[float, ...]

  @dataclasses.dataclass(frozen=True)
  class Outer(runner.Record):
    name: str
    scores: runner.Scores
    inner: tuple[Inner, ...]
    maybe: Inner | None = None
    table: dict[str, Inner] | None = None

  row = Outer('x', runner.Scores('done', 'error', 3, 0, 1e-2, (0.1, 0.2),
                                 (0.3, 0.4)), (Inner((1.0,)), Inner(())),
              None, {'a': Inner((2.0, 3.0))})
  assert Outer.from_json(runner.to_json(row)) == row
  assert Outer.from_json(runner.to_json(row)).scores.test_mean == (
      pytest.approx(0.35))


def test_each_examples_score_averages_to_the_metric(digits):
  """The per-example errors the paired comparison reads: 0/1, one row per
  member, and their mean is the split's error."""
  settings = train.TrainSettings(num_epochs=1, batch_size=64, progress=False)
  result = train.train_population(MLP, digits, [0, 1], [1e-3, 3e-3], settings)
  metrics, per_example = train.EvalProgram(result.step_def, settings)(
      result.best_params, result.best_rest, digits.validation,
      per_example=True)
  errors = per_example['error']
  assert errors.shape == (2, len(digits.validation))
  assert set(np.unique(errors)) <= {0.0, 1.0}
  for name in ('error', 'loss'):
    np.testing.assert_allclose(per_example[name].mean(1), metrics[name],
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('values', [
    np.array([[0, 1, 1, 0, 1], [1, 1, 0, 0, 0]], float),
    np.array([[0.25, 1.5, 3.0]]),
])
def test_per_example_scores_survive_json(values):
  text = runner.encode_examples(values)
  assert text.startswith('bits:' if values.max() == 1 else 'f32:')
  np.testing.assert_array_equal(runner.decode_examples(text), values)


@pytest.mark.parametrize('grid,candidate,expected', [
    ((1e-3, 3e-3, 1e-2), 1e-2, 1e-2 * 1e-2 / 3e-3),   # Top end: one up.
    ((1e-3, 3e-3, 1e-2), 1e-3, 1e-3 * 1e-3 / 3e-3),   # Bottom end: one down.
    ((1e-3, 3e-3, 1e-2), 3e-3, None),                 # Inside: bracketed.
    ((1e-2,), 1e-2, None),                            # One rate: no spacing.
])
def test_the_next_rate_keeps_the_grids_log_spacing(grid, candidate, expected):
  import types
  picked = types.SimpleNamespace(learning_rates=grid + grid,
                                 pick=types.SimpleNamespace(candidate=candidate))
  got = runner.next_rate(picked)
  assert got == (None if expected is None else pytest.approx(expected))


def test_a_pick_on_the_end_of_its_grid_extends_it_and_equals_one_population(
    digits, tmp_path):
  """Learning rates too small for two epochs: the pick sits on the top of
  (1e-3, 2e-3), the run adds 4e-3 then 8e-3, and the merged candidates hold
  exactly what one population of all four rates learns (members are
  independent), picked over all of them."""
  from deepvsshallow import config as config_lib
  schema = config_lib.schema(config_lib.one_dataset('digits'), {})
  c = schema.config(learning_rates=(1e-3, 2e-3), num_seeds=2, num_epochs=2,
                    batch_size=64, grid_extensions=2, progress=False)
  with runner.Run('t', c, str(tmp_path), schema=schema) as run:
    picked = run.train('mlp', MLP, digits, info={})
    test = run.read_test(digits)
    scores = run.scores(picked, test)
  assert picked.learning_rates == (1e-3,) * 2 + (2e-3,) * 2 + (
      4e-3,) * 2 + (8e-3,) * 2
  assert scores.grid == pytest.approx((1e-3, 2e-3, 4e-3, 8e-3))
  assert scores.learning_rate == pytest.approx(8e-3) and scores.on_edge
  settings = train.TrainSettings.from_config(c)
  whole = train.train_population(MLP, digits, [0, 1] * 4,
                                 list(picked.learning_rates), settings)
  np.testing.assert_allclose(picked.result.best_val, whole.best_val,
                             atol=1e-6)
  assert runner.edge_note(shallow=scores) == (
      ' (not bracketed: shallow picked lr=0.008, an end of its grid '
      "0.001..0.008)")
  assert scores.test_per_example.shape == (2, len(test))


def test_a_population_with_its_own_seed_count_keeps_it_when_extended(
    digits, tmp_path):
  """`Population.num_seeds`: 3 seeds per rate where the run has 2, in the
  first grid and in each extension of it."""
  from deepvsshallow import config as config_lib
  schema = config_lib.schema(config_lib.one_dataset('digits'), {})
  c = schema.config(learning_rates=(1e-3, 2e-3), num_seeds=2, num_epochs=2,
                    batch_size=64, grid_extensions=1, progress=False)
  with runner.Run('t', c, str(tmp_path), schema=schema) as run:
    picked, = run.train_all([runner.Population('mlp', MLP, digits,
                                               num_seeds=3)])
  assert picked.learning_rates == (1e-3,) * 3 + (2e-3,) * 3 + (4e-3,) * 3
  assert len(picked.pick.members) == 3


def test_results_json_comes_last_and_a_restore_writes_lost_sessions(
    digits, tmp_path):
  """A plot that fails after an earlier run finished leaves no results.json
  (the lecture then runs the study again), not the old one beside new
  files; a saved population whose TensorBoard sessions were lost (a kill
  between saving and writing them) gets them back when it is restored."""
  import shutil
  from conftest import tensorboard_logdir
  from deepvsshallow import config as config_lib
  schema = config_lib.schema(config_lib.one_dataset('digits'), {})
  c = schema.config(learning_rates=(1e-3,), num_seeds=2, num_epochs=1,
                    batch_size=64, grid_extensions=0, progress=False)

  def finish(plot):
    with runner.Run('t', c, str(tmp_path), schema=schema) as run:
      run.train('mlp', MLP, digits, info={})
      run.finish({}, render=lambda summary: '# t\n', figures={'f.png': plot})

  finish(lambda summary, path: open(path, 'wb').write(b'png'))
  assert (tmp_path / 'results.json').exists()
  shutil.rmtree(tmp_path / 'tensorboard')

  def broken(summary, path):
    raise RuntimeError('the plot failed')

  with pytest.raises(RuntimeError, match='the plot failed'):
    finish(broken)
  assert not (tmp_path / 'results.json').exists()
  (hparams, _), runs = tensorboard_logdir(tmp_path / 'tensorboard')
  assert sorted(runs) == ['0000/lr=0.001,seed=0', '0000/lr=0.001,seed=1']
  assert {'population', 'learning_rate', 'seed'} <= hparams


def test_member_info_needs_one_entry_per_explicit_member(digits):
  with pytest.raises(ValueError, match='member_info'):
    runner.Population('p', MLP, digits, member_info=[{}])
  with pytest.raises(ValueError, match='member_info'):
    runner.Population('p', MLP, digits, members=([0, 1], [1e-3, 1e-3]),
                      member_info=[{'a': 1}])
  p = runner.Population('p', MLP, digits, members=([0, 1], [1e-3, 1e-3]),
                        member_info=[{'a': 1}, {'a': 2}])
  assert p.infos({'a': 0, 'b': 3}, 2) == [{'a': 1, 'b': 3}, {'a': 2, 'b': 3}]


def test_the_next_population_starts_while_one_trains_and_learns_the_same(
    digits, tmp_path, monkeypatch):
  """Three populations of one shape, told apart only by their seeds: the
  main thread initialises only the first; the second and third are
  initialised on the 'start' thread while the one before trains, and every
  result array equals the run that initialises each population on the main
  thread just before it trains (the engine's order before); every member's
  TensorBoard session is written on the 'sessions' thread and read back by
  TensorBoard. A population trained from another's start would differ
  (their seeds do), and one initialised again would show on the main
  thread."""
  import threading
  from conftest import tensorboard_logdir
  from deepvsshallow import config as config_lib
  schema = config_lib.schema(config_lib.one_dataset('digits'), {})
  c = schema.config(learning_rates=(1e-2,), num_seeds=2, num_epochs=1,
                    batch_size=64, grid_extensions=0, progress=False)
  populations = [runner.Population(f'mlp{i}', MLP, digits,
                                   members=([2 * i, 2 * i + 1], [1e-2] * 2))
                 for i in range(3)]
  where = []
  thread = lambda: threading.current_thread().name.split('_')[0]
  run_inputs, sessions = train._run_inputs, runner._write_tensorboard

  def recorded_run_inputs(program, dataset, seeds, *args, start=True, **kw):
    if start:
      where.append((thread(), list(seeds)))
    return run_inputs(program, dataset, seeds, *args, start=start, **kw)

  def recorded_sessions(logdirs, name, *args):
    where.append((thread(), name))
    return sessions(logdirs, name, *args)

  monkeypatch.setattr(train, '_run_inputs', recorded_run_inputs)
  monkeypatch.setattr(runner, '_write_tensorboard', recorded_sessions)

  def train_all(workdir):
    with runner.Run('t', c, str(workdir), schema=schema) as run:
      results = [p.result for p in run.train_all(populations)]
    return results, tensorboard_logdir(workdir / 'tensorboard')[1]

  ahead, runs = train_all(tmp_path / 'ahead')
  assert sorted(w for w in where if w[0] != 'sessions') == [
      ('MainThread', [0, 1]), ('start', [2, 3]), ('start', [4, 5])]
  assert sorted(w for w in where if w[0] == 'sessions') == [
      ('sessions', 'mlp0'), ('sessions', 'mlp1'), ('sessions', 'mlp2')]
  assert len(runs) == 6 and not any(
      name.startswith('.') for name in os.listdir(tmp_path / 'ahead' /
                                                  'tensorboard'))
  where.clear()
  monkeypatch.setattr(runner.Run, '_starts_ahead', property(lambda _: False))
  inline, _ = train_all(tmp_path / 'inline')
  assert [w for w in where if w[0] != 'sessions'] == [
      ('MainThread', [0, 1]), ('MainThread', [2, 3]), ('MainThread', [4, 5])]
  for a, b in zip(ahead, inline, strict=True):
    jax.tree.map(np.testing.assert_array_equal,
                 (a.best_params, a.best_val, a.history),
                 (b.best_params, b.best_val, b.history))
  first = lambda result: jax.tree.leaves(result.best_params)[0]
  assert not np.array_equal(first(ahead[1]), first(ahead[2]))


def test_an_error_while_the_next_population_starts_ends_the_run_at_once(
    digits, tmp_path, monkeypatch):
  """The third population's program fails to compile while the second
  trains and the start thread waits on it: that error ends the run (no
  hang), after the first two populations were saved."""
  from deepvsshallow import config as config_lib
  schema = config_lib.schema(config_lib.one_dataset('digits'), {})
  c = schema.config(learning_rates=(1e-2,), num_seeds=2, num_epochs=1,
                    batch_size=64, grid_extensions=0, progress=False)
  compile_ = runner.Run._compile

  def failing(self, population):
    if population.name == 'mlp2':
      raise RuntimeError('mlp2 does not compile')
    return compile_(self, population)

  monkeypatch.setattr(runner.Run, '_compile', failing)
  with pytest.raises(RuntimeError, match='mlp2 does not compile'):
    with runner.Run('t', c, str(tmp_path), schema=schema) as run:
      run.train_all([runner.Population(
          f'mlp{i}', functools.partial(models.MLP, 64, (8 + i,), 10), digits)
          for i in range(3)])
  assert sorted(os.listdir(tmp_path / 'populations')) == ['0000.npz',
                                                          '0001.npz']


def test_behind_runs_one_task_at_a_time_and_raises_its_error():
  """A task's error comes out of the next `submit`, or `wait`, or the way
  out of the block; leaving on another error notes it there."""
  import threading
  order, release = [], threading.Event()

  def slow():
    release.wait(5)
    order.append('slow')

  def boom():
    raise OSError(28, 'No space left on device')

  with runner.Behind('t') as behind:
    behind.submit(slow)
    release.set()
    behind.submit(lambda: order.append('next'))   # After slow, not beside.
    behind.wait()
    assert order == ['slow', 'next']
    behind.submit(boom)
    with pytest.raises(OSError, match='No space'):
      behind.submit(lambda: order.append('never'))
  assert order == ['slow', 'next']
  with pytest.raises(OSError, match='No space'):
    with runner.Behind('t') as behind:
      behind.submit(boom)
  with pytest.raises(KeyError) as e:
    with runner.Behind('sessions') as behind:
      behind.submit(boom)
      raise KeyError('first')
  if sys.version_info >= (3, 11):   # Exceptions take notes from 3.11.
    assert any('sessions also failed' in n for n in e.value.__notes__)


def test_event_files_hold_what_tensorboardx_writes(tmp_path):
  """`runner._events` writes the records tensorboardX's own SummaryWriter
  writes for the same summaries and steps (wall times aside)."""
  import glob
  from tensorboard.backend.event_processing.event_file_loader import (
      EventFileLoader)
  from tensorboardX import SummaryWriter, summary
  calls = [(summary.text('population', 'p'), 0),
           (summary.scalar('train/loss', 0.25), 1),
           (summary.scalar('validation/error', 0.5), 2),
           *[(s, None) for s in summary.hparams({'lr': 0.01, 'seed': 3},
                                                {'hparams/x': 0.0})[1:]],
           (summary.scalar('hparams/x', 0.125), 2)]

  def records(logdir):
    path, = glob.glob(os.path.join(logdir, 'events.out.tfevents.*'))
    out = []
    for event in EventFileLoader(path).Load():
      event.wall_time = 0
      out.append(event.SerializeToString())
    return out

  ours, theirs = str(tmp_path / 'ours'), str(tmp_path / 'theirs')
  with runner._events(ours) as write:
    for s, step in calls:
      write(s, step)
  with SummaryWriter(theirs) as writer:
    for s, step in calls:
      writer.file_writer.add_summary(s, step)
  assert len(records(ours)) == len(calls) + 1   # The file's version first.
  assert records(ours) == records(theirs)
