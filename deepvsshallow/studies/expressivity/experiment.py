"""The why-deep lab, part 1: expressivity by construction, and what training
actually finds.

`run(run)` writes one report section per claim (`report.py`):

  1. why a hidden layer: one-hidden-layer ReLU interpolants of x^2 and
     sin(2 pi x), their max error against the closed form;
  2. depth folds space: the k-fold tent map, 2^k pieces from k layers of 2
     ReLUs, against the one-hidden-layer units it needs;
  3. x^2: Yarotsky's f_m against the shallow interpolant at equal error;
  4. parity: AND/OR and XNOR circuits, the XNOR-tree net and the bit-count
     net, each verified on every input;
  5. pieces and regions: the exact piece counter on the constructions and on
     trained nets, and linear regions of deep and shallow nets at
     initialisation on a 2-D input;
  6. what training finds: deep and shallow nets at matched parameter counts,
     trained from random initialisation (learning rate picked on validation,
     seeds as replicates) on the tent maps, x^2 and parity.

The constructions are `deepvsshallow.lab`; the counters `deepvsshallow.regions`.
Files: trials.jsonl, results.json, results.md, and the figures
hidden_layer.png, sawtooth.png, square.png, regions.png, training.png.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import jax.numpy as jnp
import numpy as np
from flax import nnx

from deepvsshallow import data as data_lib
from deepvsshallow import lab, models, params, regions, runner
from deepvsshallow.studies.expressivity import report
from deepvsshallow.studies.expressivity.config import SUP_GRID, TARGETS


# ------------------------------------------------------------ constructions


def _param_count(model) -> int:
  return params.count_params(nnx.state(model, nnx.Param))


def _sup_error(net, x, target) -> float:
  """max |net(x) - target| over the float64 grid x (the net in float64)."""
  return float(np.abs(regions.forward(net, x[:, None])[:, 0] - target).max())


def hidden_layer_section(config) -> list[report.Interpolant]:
  """Interpolants with n equal pieces: units, parameters, measured sup error
  (float64, fine dyadic grid) and the closed form."""
  x = np.linspace(0.0, 1.0, SUP_GRID)
  rows = []
  for name, (f, curvature) in TARGETS.items():
    for n in config.interp_pieces:
      knots = np.linspace(0.0, 1.0, n + 1)
      net = lab.interpolant_net(knots, f(knots))
      error = _sup_error(net, x, f(x))
      closed = (lab.interpolation_error_square(n) if name == 'x^2'
                else curvature / (8.0 * n ** 2))
      rows.append(report.Interpolant(
          target=name, pieces=n, units=lab.hidden_units(net),
          params=_param_count(net), max_error=error, closed_form=closed,
          closed_form_kind='exact' if name == 'x^2' else 'bound',
          counted_pieces=regions.count_linear_pieces(net, 0, 1)))
  return rows


def sawtooth_section(config) -> list[report.Sawtooth]:
  rows = []
  for k in range(1, config.sawtooth_max_k + 1):
    net = lab.sawtooth_net(k)
    knots = np.linspace(0.0, 1.0, 2 ** k + 1)
    shallow = lab.interpolant_net(knots, lab.tent(knots, k))
    x = np.linspace(0.0, 1.0, 2 ** (k + 4) + 1)
    rows.append(report.Sawtooth(
        k=k, pieces=regions.count_linear_pieces(net, 0, 1),
        closed_form_pieces=2 ** k,
        deep_params=_param_count(net), deep_units=2 * k,
        max_error_deep=_sup_error(net, x, lab.tent(x, k)),
        shallow_units_lower_bound=2 ** k - 1,
        shallow_units=lab.hidden_units(shallow),
        shallow_params=_param_count(shallow),
        shallow_pieces=regions.count_linear_pieces(shallow, 0, 1),
        max_error_shallow=_sup_error(shallow, x, lab.tent(x, k))))
  return rows


def square_section(config) -> list[report.Square]:
  rows = []
  for m in range(1, config.square_max_m + 1):
    deep = lab.square_net(m)
    knots = np.linspace(0.0, 1.0, 2 ** m + 1)
    shallow = lab.interpolant_net(knots, knots ** 2)
    # The sup is attained at the midpoints (2j + 1) / 2^(m+1): a grid of
    # step 2^-(m+4) holds them and is exact in float64.
    x = np.linspace(0.0, 1.0, 2 ** (m + 4) + 1)
    error = lambda net: _sup_error(net, x, x ** 2)
    rows.append(report.Square(
        m=m, closed_form_error=lab.yarotsky_error(m), deep_error=error(deep),
        deep_params=_param_count(deep), deep_layers=lab.depth(deep),
        deep_pieces=regions.count_linear_pieces(deep, 0, 1),
        shallow_units=lab.hidden_units(shallow),
        shallow_params=_param_count(shallow), shallow_error=error(shallow)))
  return rows


def parity_section(config) -> list[report.Parity]:
  rows = []
  for n in range(2, config.parity_max_n + 1):
    bits = lab.all_bit_strings(n)
    truth = lab.even_parity(bits)

    def checked(net) -> report.ParityNet:
      out = np.asarray(net(jnp.asarray(bits, jnp.float32)))[:, 0]
      return report.ParityNet(layers=lab.depth(net),
                              units=lab.hidden_units(net),
                              params=_param_count(net),
                              exact=bool(np.array_equal(out, truth)))

    rows.append(report.Parity(
        n=n, and_or_terms=lab.and_or_terms(n),
        xnor_gates=lab.xnor_tree_gates(n), xnor_depth=lab.ceil_log2(n),
        inputs_checked=len(bits), tree=checked(lab.parity_net(n)),
        bitcount=checked(lab.bitcount_parity_net(n))))
  return rows


def regions_at_init(config) -> report.RegionsAtInit:
  """Linear regions on [-1, 1]^2 at initialisation, counted exactly
  (`regions.count_regions_2d_exact`): each neuron count split into each
  depth's equal layers, under each bias std, region_seeds draws each:
  Hanin & Rolnick 2019's initialisation (`lab.he_normal_mlp`)."""
  nets = []
  for bias_std in config.region_bias_stds:
    for neurons in config.region_neurons:
      for depth in config.region_depths:
        widths = (neurons // depth,) * depth
        counts = tuple(regions.count_regions_2d_exact(
            lab.he_normal_mlp(2, widths, seed, bias_std), -1.0, 1.0)
            for seed in range(config.region_seeds))
        nets.append(report.RegionCount(
            widths=widths, bias_std=float(bias_std),
            params=params.mlp_param_count(2, list(widths), 1),
            neurons=neurons, regions_per_seed=counts))
  return report.RegionsAtInit(square=(-1.0, 1.0), nets=tuple(nets))


# ----------------------------------------------------------------- training


@dataclasses.dataclass(frozen=True)
class Problem:
  """One learning problem of section 6 and the construction that solves it."""
  name: str
  dataset: data_lib.Dataset
  construction: models.MLP
  deep_widths: tuple[int, ...]
  target_pieces: int | None      # Pieces of the target on [0, 1] (1-D only).
  target: Callable | None = None  # The 1-D target, for the figure.


def _regression_data(name, f, config, seed_offset: int, *,
                     centred: bool = False):
  """f on uniform points of [0, 1] (test: evenly spaced); with `centred`,
  the same points and targets, the inputs mapped to 2x - 1 in [-1, 1]."""
  rng = np.random.default_rng([config.data_seed, seed_offset])
  x = rng.uniform(0.0, 1.0, (config.regression_train_size, 1))
  x_test = np.linspace(0.0, 1.0, config.regression_test_size)[:, None]
  shown = (lambda x: 2 * x - 1) if centred else (lambda x: x)
  split = lambda x: data_lib.Split(shown(x).astype(np.float32),
                                   f(x).astype(np.float32))
  return data_lib.in_memory(
      name + ('_centred' if centred else ''), split(x), split(x_test),
      val_fraction=config.val_fraction, split_seed=config.split_seed,
      input_convention='float', task='regression')


def _parity_data(n: int, config):
  """Half of all 2^n inputs (chosen by data_seed) to train on, the other
  half to test on."""
  bits = lab.all_bit_strings(n)
  order = np.random.default_rng([config.data_seed, 1000 + n]).permutation(
      len(bits))
  half = len(bits) // 2
  split = lambda idx: data_lib.Split(
      bits[np.sort(idx)], lab.even_parity(bits[np.sort(idx)]).astype(np.int32))
  return data_lib.in_memory(
      f'parity{n}', split(order[:half]), split(order[half:]),
      val_fraction=config.val_fraction, split_seed=config.split_seed,
      input_convention='bits', task='binary')


def problems(config) -> list[Problem]:
  out = []
  for k in config.train_tent_k:
    tent = functools.partial(lab.tent, k=k)
    ds = _regression_data(f'tent{k}', tent, config, k)
    for width in config.tent_widths:
      name = f'tent k={k}' + (f', width {width}'
                              if len(config.tent_widths) > 1 else '')
      out.append(Problem(name, ds, lab.sawtooth_net(k), (width,) * k, 2 ** k,
                         tent))
  m = config.train_square_m
  square = lab.square_net(m)
  out.append(Problem(f'x^2 (m={m})',
                     _regression_data('square', np.square, config, 100),
                     square, tuple(d.kernel.shape[1] for d in square.hidden),
                     None, np.square))
  for n in config.train_parity_n:
    tree = lab.parity_net(n)
    out.append(Problem(f'parity n={n}', _parity_data(n, config), tree,
                       tuple(d.kernel.shape[1] for d in tree.hidden), None))
  return out


@dataclasses.dataclass(frozen=True)
class Retry:
  """A 1-D problem of section 7: centred inputs, PyTorch's initialisation."""
  name: str
  dataset: data_lib.Dataset
  depth: int                         # The construction's.
  target_pieces: int | None          # Tent maps: 2^k.
  construction_max_error: float | None   # x^2: 2^(-2m-2).


def retry_problems(config) -> list[Retry]:
  out = [Retry(f'tent k={k}', _regression_data(
      f'tent{k}', functools.partial(lab.tent, k=k), config, k, centred=True),
               k, 2 ** k, None) for k in config.train_tent_k]
  m = config.train_square_m
  out.append(Retry(f'x^2 (m={m})', _regression_data(
      'square', np.square, config, 100, centred=True), m, None,
                   lab.yarotsky_error(m)))
  return out


def _metrics(values: dict[str, list[float]], task: str) -> report.Metrics:
  """The problem's metrics (error, or mse and max_error) of `values`."""
  names = ('error',) if task == 'binary' else ('mse', 'max_error')
  return report.Metrics(**{m: tuple(float(v) for v in values[m])
                           for m in names})


def _metrics_of(picked: runner.Picked, split) -> report.Metrics:
  """Each picked member's metrics on `split`."""
  return _metrics({k: np.asarray(v) for k, v in
                   picked.evaluate(split).items()}, picked.task.name)


def _construction_metrics(problem: Problem, split) -> dict[str, float]:
  """The construction's metrics on `split`: construction_test_<metric>."""
  out = regions.forward(problem.construction, np.asarray(split.inputs,
                                                         np.float64))[:, 0]
  if problem.dataset.task == 'binary':   # The construction outputs 1 / 0.
    return {'construction_test_error': float(
        np.mean((out > 0.5) != (split.targets > 0)))}
  err = out - split.targets[:, 0]
  return {'construction_test_mse': float(np.mean(err ** 2)),
          'construction_test_max_error': float(np.abs(err).max())}


def run(run: runner.Run) -> dict:
  """Builds every construction, trains the section-6 populations, and
  writes the report; returns the summary written to results.json."""
  config = run.config
  run.log(f'expressivity: constructions, then {len(config.learning_rates)} '
          f'learning rates x {config.num_seeds} seeds per population; '
          f'writing to {run.workdir}')
  todo = problems(config)
  populations = []
  for prob in todo:
    ds = prob.dataset
    shallow = params.shallow_match(ds.input_dim, prob.deep_widths, 1).width
    for kind, widths in (('deep', prob.deep_widths), ('shallow', (shallow,))):
      name = (f'{prob.name} {kind} '
              f'{"-".join(map(str, widths)) if kind == "deep" else widths[0]}')
      populations.append(runner.Population(
          name, functools.partial(models.MLP, ds.input_dim, widths, 1),
          ds, info={'problem': prob.name, 'kind': kind,
                    'hidden_widths': list(widths)}))
  retries = retry_problems(config) if config.retry_widths else []
  retry_pops = [runner.Population(
      f'{r.name} width {w} (centred, torch init)',
      functools.partial(models.MLP, 1, (w,) * r.depth, 1, init='torch'),
      r.dataset, info={'problem': r.name, 'kind': 'retry',
                       'hidden_widths': [w] * r.depth},
      num_seeds=config.retry_seeds)
      for r in retries for w in config.retry_widths]
  picked = run.train_all(populations + retry_pops)
  picked, retry_picked = picked[:len(populations)], picked[len(populations):]

  sections = report.Sections(
      hidden_layer=tuple(hidden_layer_section(config)),
      sawtooth=tuple(sawtooth_section(config)),
      square=tuple(square_section(config)),
      parity=tuple(parity_section(config)),
      regions_at_init=regions_at_init(config))

  # Test is read once, after all training.
  tests = {prob.dataset.name: run.read_test(prob.dataset) for prob in todo}
  tests.update({r.dataset.name: run.read_test(r.dataset) for r in retries})
  rows, fits = [], {}
  by_problem = {prob.name: prob for prob in todo}
  grid = np.linspace(0.0, 1.0, 1025)[:, None].astype(np.float32)
  for pop, p in zip(populations, picked):
    prob = by_problem[pop.info['problem']]
    test = tests[prob.dataset.name]
    row = report.Trained(
        problem=prob.name, kind=pop.info['kind'],
        hidden_widths=tuple(pop.info['hidden_widths']),
        param_count=p.info['param_count'],
        construction_widths=tuple(prob.deep_widths),
        scores=run.scores(p, test))
    if not row.done:
      rows.append(row)
      continue
    more = {}
    if prob.dataset.task == 'regression':
      # The best constant (the training mean): the floor to beat.
      y_train = prob.dataset.train.targets[:, 0].astype(np.float64)
      y_test = test.targets[:, 0].astype(np.float64)
      more['constant_test_mse'] = float(np.mean(
          (y_test - y_train.mean()) ** 2))
    if prob.dataset.input_dim == 1:
      members = [p.member(i) for i in range(config.num_seeds)]
      more.update(
          pieces=tuple(regions.count_linear_pieces(mem, 0, 1)
                       for mem in members),
          max_pieces=regions.max_pieces_1d(pop.info['hidden_widths']),
          target_pieces=prob.target_pieces)
      fit = fits.setdefault(prob.name, {'target': prob.target(grid[:, 0])})
      fit[pop.info['kind']] = np.asarray(members[0](jnp.asarray(grid)))[:, 0]
    rows.append(dataclasses.replace(
        row, construction_params=_param_count(prob.construction),
        train=_metrics_of(p, prob.dataset.train), test=_metrics_of(p, test),
        **_construction_metrics(prob, test), **more))
  by_retry = {r.name: r for r in retries}
  rule = functools.partial(report.near_exact, tent_tol=config.near_exact_tent,
                           square_factor=config.near_exact_square)
  # Section 6's deep nets, judged by the same rule (pieces on [0, 1]).
  section6 = {row.problem: rule(row.pieces, row.test.max_error,
                                target_pieces=row.target_pieces,
                                construction_max_error=(
                                    row.construction_test_max_error))
              for row in rows if row.kind == 'deep' and row.done
              and row.pieces is not None}
  retried = []
  for pop, p in zip(retry_pops, retry_picked):
    r = by_retry[pop.info['problem']]
    test = tests[r.dataset.name]
    row = report.Retried(
        problem=r.name, hidden_widths=tuple(pop.info['hidden_widths']),
        param_count=p.info['param_count'], scores=run.scores(p, test),
        target_pieces=r.target_pieces,
        construction_max_error=r.construction_max_error)
    if row.scores.done:
      members = [p.member(i) for i in range(len(p.pick.members))]
      pieces = tuple(regions.count_linear_pieces(mem, -1, 1)
                     for mem in members)
      errors = _metrics_of(p, test).max_error
      row = dataclasses.replace(
          row, pieces=pieces, test_max_error=errors,
          near_exact=rule(pieces, errors, target_pieces=r.target_pieces,
                          construction_max_error=r.construction_max_error),
          section6_near_exact=section6.get(r.name, ()))
    retried.append(row)
  return run.finish(
      {'sections': sections, 'training': rows, 'retried': retried},
      render=report.render_markdown,
      figures={'hidden_layer.png': report.plot_hidden_layer,
               'sawtooth.png': report.plot_sawtooth,
               'square.png': report.plot_square,
               'regions.png': report.plot_regions,
               'training.png': functools.partial(
                   report.plot_training, fits, grid[:, 0])},
      console=report.console_summary)
