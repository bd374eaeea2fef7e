"""The runner's parts: a model described the same in every process, the
saved-population codec, and the one way to evaluate a population."""

import functools
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
  second and third are initialised on the 'start' thread while the one
  before trains, and every saved array equals the run that initialises
  each population on the main thread just before it trains (the engine's
  order before); every member's TensorBoard session is written (on the
  'sessions' thread) before the batch returns."""
  import threading
  from conftest import tensorboard_logdir
  from deepvsshallow import config as config_lib
  schema = config_lib.schema(config_lib.one_dataset('digits'), {})
  c = schema.config(learning_rates=(1e-2,), num_seeds=2, num_epochs=1,
                    batch_size=64, grid_extensions=0, progress=False)
  populations = [runner.Population(f'mlp{i}', MLP, digits,
                                   members=([2 * i, 2 * i + 1], [1e-2] * 2))
                 for i in range(3)]
  threads = []
  start_run = train.start_run
  monkeypatch.setattr(train, 'start_run', lambda program, dataset, seeds,
                      *a, **k: threads.append(
                          (threading.current_thread().name[:5], seeds))
                      or start_run(program, dataset, seeds, *a, **k))

  def train_all(workdir):
    with runner.Run('t', c, str(workdir), schema=schema) as run:
      picked = run.train_all(populations)
      sessions = tensorboard_logdir(workdir / 'tensorboard')[1]
    return [p.result for p in picked], sessions

  ahead, sessions = train_all(tmp_path / 'ahead')
  assert threads == [('start', [2, 3]), ('start', [4, 5])]
  assert len(sessions) == 6
  monkeypatch.setattr(runner.Run, '_starts_ahead', property(lambda _: False))
  inline, _ = train_all(tmp_path / 'inline')
  assert len(threads) == 2
  for a, b in zip(ahead, inline, strict=True):
    jax.tree.map(np.testing.assert_array_equal,
                 (a.best_params, a.best_val, a.history),
                 (b.best_params, b.best_val, b.history))
  first = lambda result: jax.tree.leaves(result.best_params)[0]
  assert not np.array_equal(first(ahead[1]), first(ahead[2]))
