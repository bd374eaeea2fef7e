"""The why-deep lab, part 1: expressivity by construction, and what training
actually finds.

`train_and_evaluate(config, workdir)` writes one report section per claim:

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
import math
from typing import Callable

import jax.numpy as jnp
import numpy as np
from flax import nnx

from deepvsshallow import config as config_lib
from deepvsshallow import data as data_lib
from deepvsshallow import lab, models, params, regions, report, runner

# Points of the float64 grid on which sup errors of the interpolants are
# measured (dyadic, so every dyadic knot and midpoint up to 2^-16 is on it).
SUP_GRID = 2 ** 16 + 1
TARGETS = {
    # name: (function, its max |f''| on [0, 1] for the h^2/8 bound)
    'x^2': (lambda x: x ** 2, 2.0),
    'sin(2 pi x)': (lambda x: np.sin(2 * np.pi * x), (2 * np.pi) ** 2),
}


# ------------------------------------------------------------ constructions


def _param_count(model) -> int:
  return params.count_params(nnx.state(model, nnx.Param))


def _sup_error(net, x, target) -> float:
  """max |net(x) - target| over the float64 grid x (the net in float64)."""
  return float(np.abs(regions.forward(net, x[:, None])[:, 0] - target).max())


def hidden_layer_section(config) -> list[dict]:
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
      rows.append({'target': name, 'pieces': n,
                   'units': lab.hidden_units(net),
                   'params': _param_count(net), 'max_error': error,
                   'closed_form': closed,
                   'closed_form_kind': 'exact' if name == 'x^2' else 'bound',
                   'counted_pieces': regions.count_linear_pieces(net, 0, 1)})
  return rows


def sawtooth_section(config) -> list[dict]:
  rows = []
  for k in range(1, config.sawtooth_max_k + 1):
    net = lab.sawtooth_net(k)
    knots = np.linspace(0.0, 1.0, 2 ** k + 1)
    shallow = lab.interpolant_net(knots, lab.tent(knots, k))
    x = np.linspace(0.0, 1.0, 2 ** (k + 4) + 1)
    rows.append({
        'k': k, 'pieces': regions.count_linear_pieces(net, 0, 1),
        'closed_form_pieces': 2 ** k,
        'deep_params': _param_count(net), 'deep_units': 2 * k,
        'max_error_deep': _sup_error(net, x, lab.tent(x, k)),
        'shallow_units_lower_bound': 2 ** k - 1,
        'shallow_units': lab.hidden_units(shallow),
        'shallow_params': _param_count(shallow),
        'shallow_pieces': regions.count_linear_pieces(shallow, 0, 1),
        'max_error_shallow': _sup_error(shallow, x, lab.tent(x, k))})
  return rows


def square_section(config) -> list[dict]:
  rows = []
  for m in range(1, config.square_max_m + 1):
    deep = lab.square_net(m)
    knots = np.linspace(0.0, 1.0, 2 ** m + 1)
    shallow = lab.interpolant_net(knots, knots ** 2)
    # The sup is attained at the midpoints (2j + 1) / 2^(m+1): a grid of
    # step 2^-(m+4) holds them and is exact in float64.
    x = np.linspace(0.0, 1.0, 2 ** (m + 4) + 1)
    error = lambda net: _sup_error(net, x, x ** 2)
    rows.append({'m': m, 'closed_form_error': 2.0 ** (-2 * m - 2),
                 'deep_error': error(deep), 'deep_params': _param_count(deep),
                 'deep_layers': lab.depth(deep),
                 'deep_pieces': regions.count_linear_pieces(deep, 0, 1),
                 'shallow_units': lab.hidden_units(shallow),
                 'shallow_params': _param_count(shallow),
                 'shallow_error': error(shallow)})
  return rows


def parity_section(config) -> list[dict]:
  rows = []
  for n in range(2, config.parity_max_n + 1):
    bits = lab.all_bit_strings(n)
    truth = lab.even_parity(bits)
    row = {'n': n, 'and_or_terms': lab.and_or_terms(n),
           'xnor_gates': lab.xnor_tree_gates(n),
           'xnor_depth': lab.ceil_log2(n), 'inputs_checked': len(bits)}
    for key, build in (('tree', lab.parity_net),
                       ('bitcount', lab.bitcount_parity_net)):
      net = build(n)
      out = np.asarray(net(jnp.asarray(bits, jnp.float32)))[:, 0]
      row.update({f'{key}_layers': lab.depth(net),
                  f'{key}_units': lab.hidden_units(net),
                  f'{key}_params': _param_count(net),
                  f'{key}_exact': bool(np.array_equal(out, truth))})
    rows.append(row)
  return rows


def _binomial_sum(n: int, d: int) -> int:
  return sum(math.comb(n, j) for j in range(d + 1))


def regions_at_init(config) -> dict:
  """Linear regions on [-1, 1]^2 at initialisation (the engine's init, seeds
  0..region_seeds-1), deep vs the parameter-matched one-hidden-layer net."""
  deep = tuple(config.region_deep)
  shallow = params.shallow_match(2, deep, 1).width
  out = {'deep_widths': list(deep), 'shallow_width': shallow,
         'resolution': config.region_resolution, 'square': [-1.0, 1.0]}
  for key, widths in (('deep', deep), ('shallow', (shallow,))):
    counts = []
    for seed in range(config.region_seeds):
      net = models.MLP(2, widths, 1, activation='relu',
                       rngs=nnx.Rngs(seed))
      counts.append(regions.count_regions_2d(
          net, -1.0, 1.0, config.region_resolution))
    n, depth = widths[0], len(widths)
    out[key] = {
        'params': params.mlp_param_count(2, list(widths), 1),
        'neurons': int(sum(widths)), 'regions_per_seed': counts,
        'regions_mean': float(np.mean(counts)),
        'regions_std': float(np.std(counts)),
        # One hidden layer: at most sum_{j<=2} C(n, j) regions (exact max).
        # Deep: Montufar et al. 2014's construction reaches at least this.
        'max_regions': (_binomial_sum(n, 2) if depth == 1 else
                        (n // 2) ** (2 * (depth - 1)) * _binomial_sum(n, 2)),
        'max_kind': 'exact maximum' if depth == 1 else (
            'lower bound on the maximum (Montufar et al. 2014)')}
  return out


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


def _regression_data(name, f, config, seed_offset: int):
  rng = np.random.default_rng([config.data_seed, seed_offset])
  x = rng.uniform(0.0, 1.0, (config.regression_train_size, 1))
  x_test = np.linspace(0.0, 1.0, config.regression_test_size)[:, None]
  split = lambda x: data_lib.Split(x.astype(np.float32),
                                   f(x).astype(np.float32))
  return data_lib.in_memory(
      name, split(x), split(x_test), val_fraction=config.val_fraction,
      split_seed=config.split_seed, input_convention='float',
      task='regression')


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


def _metrics_of(picked: runner.Picked, split) -> dict[str, list[float]]:
  values = picked.evaluator(picked.params, picked.rest, split)
  return {k: [float(x) for x in np.asarray(v)] for k, v in values.items()}


def _construction_metrics(problem: Problem, split) -> dict[str, float]:
  out = regions.forward(problem.construction, np.asarray(split.inputs,
                                                         np.float64))[:, 0]
  if problem.dataset.task == 'binary':   # The construction outputs 1 / 0.
    return {'error': float(np.mean((out > 0.5) != (split.targets > 0)))}
  err = out - split.targets[:, 0]
  return {'mse': float(np.mean(err ** 2)),
          'max_error': float(np.abs(err).max())}


def _stats(values) -> dict:
  return {'mean': float(np.mean(values)), 'std': float(np.std(values)),
          'per_seed': [float(v) for v in values]}


def check_config(config, problems_: config_lib.Problems) -> None:
  p = problems_
  config_lib.int_list(p, 'interp_pieces', config.interp_pieces)
  for name, limit in (('sawtooth_max_k', lab.MAX_SAWTOOTH_DEPTH),
                      ('square_max_m', lab.MAX_SQUARE_DEPTH),
                      ('parity_max_n', lab.MAX_PARITY_BITS),
                      ('train_square_m', lab.MAX_SQUARE_DEPTH)):
    value = config[name]
    if not config_lib.is_int(value, at_least=1) or value > limit:
      p.add(f'config.{name} must be an integer in [1, {limit}], got '
            f'{value!r}.')
  if config_lib.is_int(config.parity_max_n, at_least=0) and (
      config.parity_max_n < 2):
    p.add(f'config.parity_max_n must be at least 2, got '
          f'{config.parity_max_n}.')
  ks = config_lib.int_list(p, 'train_tent_k', config.train_tent_k,
                           allow_empty=True)
  if any(config_lib.is_int(k, at_least=1) and k > lab.MAX_SAWTOOTH_DEPTH
         for k in ks):
    p.add(f'config.train_tent_k must be in [1, {lab.MAX_SAWTOOTH_DEPTH}], '
          f'got {ks}.')
  config_lib.int_list(p, 'tent_widths', config.tent_widths)
  ns = config_lib.int_list(p, 'train_parity_n', config.train_parity_n,
                           at_least=2, allow_empty=True)
  if any(config_lib.is_int(n, at_least=2) and n > lab.MAX_PARITY_BITS
         for n in ns):
    p.add(f'config.train_parity_n must be in [2, {lab.MAX_PARITY_BITS}] '
          f'(every input is enumerated), got {ns}.')
  config_lib.int_list(p, 'region_deep', config.region_deep)
  config_lib.int_field(p, config, 'region_seeds', at_least=1)
  config_lib.int_field(p, config, 'region_resolution', at_least=2)
  config_lib.int_field(p, config, 'regression_train_size', at_least=2)
  config_lib.int_field(p, config, 'regression_test_size', at_least=2)
  config_lib.int_field(p, config, 'data_seed', at_least=0)
  if p or not 0 < config.val_fraction < 1:
    return
  # The smallest training set must hold a batch.
  sizes = [config.regression_train_size] + [2 ** n // 2 for n in ns]
  smallest = min(s - data_lib.num_validation(s, config.val_fraction)
                 for s in sizes)
  if config.batch_size > smallest:
    p.add(f'config.batch_size={config.batch_size} is larger than the smallest '
          f'training set ({smallest} examples); lower it.')


def train_and_evaluate(config, workdir: str) -> dict:
  """Builds every construction, trains the section-6 populations, and
  writes the report; returns the summary written to results.json."""
  with runner.Run('expressivity', config, workdir, check=check_config) as run:
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
    picked = run.train_all(populations)

    sections = {'hidden_layer': hidden_layer_section(config),
                'sawtooth': sawtooth_section(config),
                'square': square_section(config),
                'parity': parity_section(config),
                'regions_at_init': regions_at_init(config)}

    # Test is read once, after all training.
    tests = {prob.dataset.name: run.read_test(prob.dataset) for prob in todo}
    rows, fits = [], {}
    by_problem = {prob.name: prob for prob in todo}
    grid = np.linspace(0.0, 1.0, 1025)[:, None].astype(np.float32)
    for pop, p in zip(populations, picked):
      prob = by_problem[pop.info['problem']]
      row = {**p.info, 'deep_widths_of_construction': list(prob.deep_widths)}
      if p.pick is None:
        rows.append({**row, 'status': 'diverged'})
        continue
      train_m = _metrics_of(p, prob.dataset.train)
      test_m = _metrics_of(p, tests[prob.dataset.name])
      metric_names = ('error',) if prob.dataset.task == 'binary' else (
          'mse', 'max_error')
      row.update({'status': 'done', 'learning_rate': p.pick.candidate,
                  'num_diverged': p.pick.num_diverged,
                  'construction_params': _param_count(prob.construction)})
      if prob.dataset.task == 'regression':
        # The best constant (the training mean): the floor to beat.
        y_train = prob.dataset.train.targets[:, 0].astype(np.float64)
        y_test = tests[prob.dataset.name].targets[:, 0].astype(np.float64)
        row['constant_test_mse'] = float(np.mean(
            (y_test - y_train.mean()) ** 2))
      for m in metric_names:
        row[f'train_{m}'] = _stats(train_m[m])
        row[f'test_{m}'] = _stats(test_m[m])
        row[f'construction_test_{m}'] = _construction_metrics(
            prob, tests[prob.dataset.name])[m]
      if prob.dataset.input_dim == 1:
        members = [p.member(i) for i in range(config.num_seeds)]
        row['pieces'] = _stats([regions.count_linear_pieces(mem, 0, 1)
                                for mem in members])
        row['max_pieces'] = regions.max_pieces_1d(pop.info['hidden_widths'])
        row['target_pieces'] = prob.target_pieces
        fit = fits.setdefault(prob.name, {'target': prob.target(grid[:, 0])})
        fit[pop.info['kind']] = np.asarray(members[0](jnp.asarray(grid)))[:, 0]
      rows.append(row)
    results = {'sections': sections, 'training': rows}
    return run.finish(
        results, render=render_markdown,
        figures={'hidden_layer.png': plot_hidden_layer,
                 'sawtooth.png': plot_sawtooth,
                 'square.png': plot_square,
                 'regions.png': functools.partial(plot_regions, config),
                 'training.png': functools.partial(
                     plot_training, fits, grid[:, 0], config)},
        console=console_summary)


# ------------------------------------------------------------------ report


def _fmt(x: float) -> str:
  return f'{x:.3g}'


def _ms(stats: dict, scale: float = 1.0, digits: int = 3) -> str:
  return (f'{stats["mean"] * scale:.{digits}g} ± '
          f'{stats["std"] * scale:.{digits}g}')


def render_hidden_layer(rows) -> str:
  table = report.markdown_table(
      ['target', 'pieces n', 'hidden units', 'params', 'max error (measured)',
       'closed form'],
      [(r['target'], r['pieces'], r['units'], r['params'],
        _fmt(r['max_error']),
        f'{_fmt(r["closed_form"])} ({r["closed_form_kind"]})') for r in rows])
  sq = [r for r in rows if r['target'] == 'x^2']
  worst = max(abs(r['max_error'] / r['closed_form'] - 1) for r in sq)
  return '\n'.join([
      '## 1. Why a hidden layer', '',
      'A hard sigmoid is two ReLUs, hs(x) = relu(x) - relu(x - 1), and any '
      'piecewise-linear function is a sum of shifted, scaled hard sigmoids '
      '(hidden_layer.png). With ReLUs one unit per kink is enough: '
      '`lab.interpolant_net` is one hidden layer whose output *equals* the '
      'interpolant through the knots. Max error over [0, 1] against the '
      'number of equal pieces n (float64, on a dyadic grid of '
      f'{SUP_GRID:,} points). For x² the closed form is 1/(4n²), exact; for '
      'sin(2πx) it is the bound h² max|f\'\'|/8.', '', table, '',
      ('For x² measured and closed form agree exactly. ' if worst == 0 else
       f'For x² measured and closed form agree to a relative {worst:.1e}. ')
      + 
      'The error falls as 1/n²: each halving of the error costs about 1.4x '
      'the units, and the units grow without bound as the error goes to 0.'])


def render_sawtooth(rows) -> str:
  table = report.markdown_table(
      ['k', 'pieces (exact count)', '2^k', 'deep: units', 'deep: params',
       'shallow: units (lower bound)', 'shallow: units (built)',
       'shallow: params', 'max error deep / shallow'],
      [(r['k'], f'{r["pieces"]:,}', f'{r["closed_form_pieces"]:,}',
        r['deep_units'], r['deep_params'],
        f'{r["shallow_units_lower_bound"]:,}', f'{r["shallow_units"]:,}',
        f'{r["shallow_params"]:,}',
        f'{_fmt(r["max_error_deep"])} / {_fmt(r["max_error_shallow"])}')
       for r in rows])
  ok = all(r['pieces'] == r['closed_form_pieces'] for r in rows)
  return '\n'.join([
      '## 2. Depth folds space', '',
      'The tent map T(x) = 2 relu(x) - 4 relu(x - 1/2) folds [0, 1] onto '
      'itself; composed k times (`lab.sawtooth_net(k)`: k hidden layers of 2 '
      'ReLUs, 6k + 1 parameters) it has 2^k linear pieces. A one-hidden-layer '
      'net with u units has at most u + 1 pieces, so it needs at least '
      '2^k - 1 units. The interpolant that is built uses 2^k: with 2^k - 1 '
      'units every kink is a unit, and the slope of the first piece, '
      '+2^k, would have to be a sum of the slope changes, which are all '
      '±2^(k+1); it cannot be. Pieces are counted by '
      '`regions.count_linear_pieces` (exact breakpoint tracing), not '
      'sampled.', '', table, '',
      f'Every count equals 2^k: {"yes" if ok else "NO"}. Parameters grow '
      'linearly with depth and exponentially with one hidden layer. '
      'sawtooth.png shows a_1 ... a_k, the tent after each layer.'])


def render_square(rows) -> str:
  table = report.markdown_table(
      ['m', 'closed form 2^(-2m-2)', 'deep f_m: error', 'deep: layers',
       'deep: params', 'shallow: units', 'shallow: params',
       'shallow: error'],
      [(r['m'], _fmt(r['closed_form_error']), _fmt(r['deep_error']),
        r['deep_layers'], r['deep_params'], f'{r["shallow_units"]:,}',
        f'{r["shallow_params"]:,}', _fmt(r['shallow_error'])) for r in rows])
  exact = all(r['deep_error'] == r['closed_form_error'] for r in rows)
  return '\n'.join([
      '## 3. x²', '',
      "Yarotsky 2017: f_m(x) = x - Σ_{s≤m} T^s(x)/4^s (`lab.square_net(m)`, a "
      'plain MLP of width 3) reaches sup error 2^(-2m-2) on [0, 1] with '
      '12m - 7 parameters (7 for m = 1). The one-hidden-layer interpolant '
      'at the same error needs 2^m pieces, 2^m units, 3·2^m + 1 '
      'parameters. Both errors measured in float64 on a dyadic grid that '
      'holds the points where the sup is attained.', '', table, '',
      f'Deep error equals the closed form exactly at every m: '
      f'{"yes" if exact else "NO"}. f_m *is* the 2^m-piece interpolant, '
      'built deep (its piece count is 2^m too), so the two columns of errors '
      'agree; only the parameter counts differ: linear in m against '
      'exponential (square.png).'])


def render_parity(rows) -> str:
  table = report.markdown_table(
      ['n', 'AND/OR terms', 'XNOR gates (depth)', 'XNOR net: layers',
       'units', 'params', 'bit-count net: units', 'params', 'inputs checked',
       'both exact'],
      [(r['n'], f'{r["and_or_terms"]:,}',
        f'{r["xnor_gates"]} ({r["xnor_depth"]})', r['tree_layers'],
        r['tree_units'], r['tree_params'], r['bitcount_units'],
        r['bitcount_params'], f'{r["inputs_checked"]:,}',
        'yes' if r['tree_exact'] and r['bitcount_exact'] else 'NO')
       for r in rows])
  return '\n'.join([
      '## 4. Parity, honestly', '',
      'Circuits: a depth-2 AND/OR circuit needs 2^(n-1) terms, a balanced '
      'XNOR tree n - 1 gates in ⌈log2 n⌉ levels. Networks: `lab.parity_net` '
      'builds the lecture\'s XNOR tree from 2-ReLU gates (XNOR(a, b) = '
      '1 - relu(a - b) - relu(b - a) on even-parity indicators). But neural '
      'units are stronger than AND/OR gates: parity depends only on the bit '
      'count, and `lab.bitcount_parity_net` represents it exactly with one '
      'hidden layer of n ReLUs on that count. Parameters count every dense '
      'weight (the first layer is n x units in both).', '', table, '',
      'So the exponential gap is between circuits of AND/OR gates, not '
      'between deep and shallow ReLU nets: the shallow bit-count net has '
      'fewer units than the XNOR tree, and about as many parameters. The '
      'honest question for networks is which one gradient descent finds '
      '(section 6).'])


def render_regions(reg: dict, rows) -> str:
  d, s = reg['deep'], reg['shallow']
  deep_name = 'x'.join(map(str, reg['deep_widths']))
  lines = [
      '## 5. Counting pieces and regions', '',
      '`regions.count_linear_pieces(model, lo, hi)` traces breakpoints layer '
      'by layer in float64 and merges neighbours whose output slopes agree; '
      'it reproduces 2^k for every sawtooth and 2^m for every f_m above. '
      '`regions.count_regions_2d` counts distinct activation patterns on a '
      'grid: a lower bound, since a grid can miss a small region.', '',
      f'**At initialisation**, on [-1, 1]² ({reg["resolution"]}² grid, '
      f'{len(d["regions_per_seed"])} seeds, the engine\'s initialisation):',
      '',
      report.markdown_table(
          ['net', 'params', 'neurons', 'regions (mean ± std)',
           'theoretical max'],
          [(f'deep {deep_name}', d['params'], d['neurons'],
            f'{d["regions_mean"]:.0f} ± {d["regions_std"]:.0f}',
            f'{d["max_regions"]:,} ({d["max_kind"]})'),
           (f'shallow 1x{reg["shallow_width"]}', s['params'], s['neurons'],
            f'{s["regions_mean"]:.0f} ± {s["regions_std"]:.0f}',
            f'{s["max_regions"]:,} ({s["max_kind"]})')]), '',
      'Hanin & Rolnick 2019 found that at initialisation the number of '
      'regions scales with the number of neurons, not with depth, and is far '
      'below the theoretical maximum. Here the deep net has '
      f'{d["regions_mean"] / max(d["max_regions"], 1):.1e} of Montufar\'s '
      f'lower bound on its maximum and the shallow one '
      f'{s["regions_mean"] / max(s["max_regions"], 1):.2f} of its maximum '
      f'(regions.png).']
  trained = [r for r in rows if r.get('status') == 'done' and 'pieces' in r]
  if trained:
    lines += ['', '**Trained nets** (section 6; pieces on [0, 1], exact, '
              'one count per seed):', '',
              report.markdown_table(
                  ['problem', 'net', 'params', 'pieces (mean ± std)',
                   'max for this architecture', 'target'],
                  [(r['problem'], f'{r["kind"]} '
                    f'{"-".join(map(str, r["hidden_widths"]))}',
                    r['param_count'], _ms(r['pieces']),
                    f'{r["max_pieces"]:,}',
                    '-' if r['target_pieces'] is None
                    else f'{r["target_pieces"]:,}') for r in trained])]
  return '\n'.join(lines)


def _training_verdict(rows) -> str:
  done = {(r['problem'], r['kind']): r for r in rows if r['status'] == 'done'}
  said = []
  for problem in dict.fromkeys(r['problem'] for r in rows):
    d, s = done.get((problem, 'deep')), done.get((problem, 'shallow'))
    if not d or not s:
      said.append(f'{problem}: a population diverged entirely.')
      continue
    if 'constant_test_mse' in d:
      const = d['constant_test_mse']
      dm, sm = d['test_mse']['mean'], s['test_mse']['mean']
      if min(dm, sm) > 0.9 * const:
        said.append(f'{problem}: neither net does better than a constant '
                    f'(test MSE deep {dm:.3g}, shallow {sm:.3g}, the '
                    f'training mean {const:.3g}); the construction is exact '
                    f'to {d["construction_test_max_error"]:.3g}.')
        continue
    key = 'test_error' if 'test_error' in d else 'test_max_error'
    dv, sv = d[key]['mean'], s[key]['mean']
    spread = d[key]['std'] + s[key]['std']
    better = 'deep' if dv < sv else 'shallow'
    clear = abs(dv - sv) > spread
    what = key.replace('test_', 'test ').replace('_', ' ')
    solved = d[f'construction_{key}']
    said.append(f'{problem}: {what} deep {dv:.3g} vs shallow {sv:.3g} '
                f'({better} lower{"" if clear else ", within the seeds spread"}'
                f'); the construction gets {solved:.3g}.')
  return '\n'.join(f'- {line}' for line in said)


def render_training(rows, cfg) -> str:
  reg = [r for r in rows if r['status'] == 'done' and 'test_mse' in r]
  bits = [r for r in rows if r['status'] == 'done' and 'test_error' in r]
  net = lambda r: f'{r["kind"]} {"-".join(map(str, r["hidden_widths"]))}'
  lines = [
      '## 6. What training finds', '',
      'Deep nets with the construction\'s architecture and one-hidden-layer '
      'nets with the nearest parameter count, trained from random '
      f'initialisation with {cfg["optimizer"]} ({cfg["num_epochs"]} epochs, '
      f'batch {cfg["batch_size"]}), the learning rate picked on validation '
      f'from {tuple(cfg["learning_rates"])}, {cfg["num_seeds"]} seeds as '
      f'replicates (mean ± std). Regression: {cfg["regression_train_size"]} '
      'uniform training points on [0, 1] (validation carved from them), '
      f'test on {cfg["regression_test_size"]:,} evenly spaced points. Parity: '
      'a random half of all 2^n inputs to train on (validation carved from '
      'it), the other half to test on; chance is 50%.', '']
  if reg:
    lines += [report.markdown_table(
        ['problem', 'net', 'params', 'lr', 'train max error', 'test max error',
         'test MSE', 'constant: test MSE', 'construction: test max error'],
        [(r['problem'], net(r), r['param_count'], f'{r["learning_rate"]:g}',
          _ms(r['train_max_error']), _ms(r['test_max_error']),
          _ms(r['test_mse']), _fmt(r['constant_test_mse']),
          _fmt(r['construction_test_max_error'])) for r in reg]), '',
        'The constant column is the test MSE of predicting the training '
        'mean everywhere: a net near it has learned nothing of the shape.',
        '']
  if bits:
    lines += [report.markdown_table(
        ['problem', 'net', 'params', 'lr', 'train error %', 'test error %',
         'construction: test error %'],
        [(r['problem'], net(r), r['param_count'], f'{r["learning_rate"]:g}',
          report.pct(r['train_error']['mean'], r['train_error']['std']),
          report.pct(r['test_error']['mean'], r['test_error']['std']),
          report.pct(r['construction_test_error']))
         for r in bits]), '']
  lines += [
      'In short:', '', _training_verdict(rows), '',
      'Known results to set beside these: narrow deep nets rarely find the '
      'sawtooth from random initialisation (a width-2 ReLU layer dies or '
      'collapses easily), and parity is hard for gradient methods '
      '(Shalev-Shwartz et al. 2017). Representability is not learnability: '
      'the constructions above prove what the architectures can express, '
      'not what training will find (training.png).']
  return '\n'.join(lines)


def render_markdown(summary) -> str:
  s, rows, cfg = summary['sections'], summary['training'], summary['config']
  return '\n\n'.join([
      '# Why deep? Expressivity by construction, and what training finds',
      'Every construction is an ordinary Flax NNX MLP from `deepvsshallow.lab` '
      '(weights set, not trained); every count of pieces is exact. Closed '
      'forms: deepvsshallow/reference/theory.md.',
      render_hidden_layer(s['hidden_layer']),
      render_sawtooth(s['sawtooth']),
      render_square(s['square']),
      render_parity(s['parity']),
      render_regions(s['regions_at_init'], rows),
      render_training(rows, cfg),
      report.run_footer(summary), ''])


def console_summary(summary) -> str:
  return _training_verdict(summary['training'])


# ----------------------------------------------------------------- figures


def plot_hidden_layer(summary, path: str) -> None:
  plt = report.pyplot()
  fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
  x = np.linspace(-0.1, 1.1, 1201)
  for ax, (name, (f, _)), n in zip(axes[:2], TARGETS.items(), (4, 6)):
    knots = np.linspace(0.0, 1.0, n + 1)
    pieces = lab.hard_sigmoid_pieces(knots, f(knots), x)
    for i, piece in enumerate(pieces):
      ax.plot(x, piece, lw=1, alpha=0.7, label='hard sigmoids' if i == 0
              else None, color='tab:gray')
    ax.plot(x, f(x), 'k--', lw=1, label=name)
    ax.plot(x, f(knots[0]) + pieces.sum(0), color='tab:red', lw=2,
            label=f'sum: {n} pieces')
    ax.plot(knots, f(knots), 'o', color='tab:red', ms=4)
    ax.set_title(f'{name}: {n} hard sigmoids, 2 ReLUs each', fontsize=10)
    ax.legend(fontsize=8)
  rows = summary['sections']['hidden_layer']
  ax = axes[2]
  for name in TARGETS:
    r = [row for row in rows if row['target'] == name]
    ax.loglog([row['units'] for row in r], [row['max_error'] for row in r],
              'o-', label=f'{name}: measured')
    ax.loglog([row['units'] for row in r], [row['closed_form'] for row in r],
              'k:', lw=1)
  ax.set_xlabel('hidden units (one layer)')
  ax.set_ylabel('max error on [0, 1]')
  ax.set_title('max error; dotted: closed form', fontsize=10)
  ax.legend(fontsize=8)
  fig.tight_layout()
  report.save_figure(fig, path)
  plt.close(fig)


def plot_sawtooth(summary, path: str) -> None:
  plt = report.pyplot()
  k = min(4, summary['config']['sawtooth_max_k'])
  x = np.linspace(0.0, 1.0, 2049)
  fig, axes = plt.subplots(1, k + 1, figsize=(3.2 * (k + 1), 3))
  for j, ax in enumerate(axes[:k]):
    net = lab.sawtooth_net(j + 1)
    ax.plot(x, regions.forward(net, x[:, None])[:, 0])
    ax.set_title(f'a_{j + 1}: {regions.count_linear_pieces(net, 0, 1)} pieces',
                 fontsize=10)
    ax.set_xlabel('x')
  rows = summary['sections']['sawtooth']
  ax = axes[k]
  ax.semilogy([r['k'] for r in rows], [r['deep_params'] for r in rows], 'o-',
              label='deep: k layers of 2 ReLUs')
  ax.semilogy([r['k'] for r in rows], [r['shallow_params'] for r in rows],
              's-', label='one hidden layer')
  ax.set_xlabel('k')
  ax.set_ylabel('parameters for T^k')
  ax.legend(fontsize=8)
  fig.tight_layout()
  report.save_figure(fig, path)
  plt.close(fig)


def plot_square(summary, path: str) -> None:
  plt = report.pyplot()
  rows = summary['sections']['square']
  fig, ax = plt.subplots(figsize=(5, 3.8))
  ax.loglog([r['deep_params'] for r in rows], [r['deep_error'] for r in rows],
            'o-', label='deep: Yarotsky f_m')
  ax.loglog([r['shallow_params'] for r in rows],
            [r['shallow_error'] for r in rows], 's-',
            label='one hidden layer: interpolant')
  ax.set_xlabel('parameters')
  ax.set_ylabel('sup |f - x²| on [0, 1]')
  ax.set_title('x²: error against parameters')
  ax.legend(fontsize=8)
  report.save_figure(fig, path)
  plt.close(fig)


def plot_regions(config, summary, path: str) -> None:
  """Activation regions on [-1, 1]^2 at initialisation (seed 0), each region
  one colour."""
  plt = report.pyplot()
  reg = summary['sections']['regions_at_init']
  res = min(config.region_resolution, 400)
  g = np.linspace(-1.0, 1.0, res)
  xx, yy = np.meshgrid(g, g)
  pts = np.c_[xx.ravel(), yy.ravel()]
  fig, axes = plt.subplots(1, 2, figsize=(9, 4.4))
  for ax, key, widths in ((axes[0], 'deep', reg['deep_widths']),
                          (axes[1], 'shallow', [reg['shallow_width']])):
    net = models.MLP(2, tuple(widths), 1, activation='relu',
                     rngs=nnx.Rngs(0))
    keys = regions.pattern_keys(regions.activation_patterns(net, pts))
    _, ids = np.unique(keys, return_inverse=True)
    perm = np.random.default_rng(0).permutation(ids.max() + 1)
    ax.imshow(perm[ids.reshape(res, res)], cmap='tab20', origin='lower',
              extent=(-1, 1, -1, 1), interpolation='nearest')
    ax.set_title(f'{key} {"x".join(map(str, widths))}: '
                 f'{reg[key]["params"]} params, '
                 f'{reg[key]["regions_per_seed"][0]} regions')
  report.save_figure(fig, path)
  plt.close(fig)


def plot_training(fits, x, config, summary, path: str) -> None:
  plt = report.pyplot()
  if not fits:
    fig, ax = plt.subplots(figsize=(4, 2))
    ax.text(0.5, 0.5, 'no 1-D problem trained', ha='center')
    ax.axis('off')
    report.save_figure(fig, path)
    plt.close(fig)
    return
  fig, axes = plt.subplots(1, len(fits), figsize=(3.6 * len(fits), 3.2),
                           squeeze=False)
  for ax, (problem, curves) in zip(axes[0], fits.items()):
    ax.plot(x, curves['target'], 'k--', lw=1, label='target')
    for kind, y in curves.items():
      if kind != 'target':
        ax.plot(x, y, lw=1.5, label=f'{kind} (seed 0)')
    ax.set_title(problem)
    ax.legend(fontsize=7)
  report.save_figure(fig, path)
  plt.close(fig)


def headline(summary) -> str:
  """The claim's verdict in one line (the lecture report's)."""
  rows = [r for r in summary['training'] if r['status'] == 'done']
  problems = list(dict.fromkeys(r['problem'] for r in rows))
  clear = 0
  for problem in problems:
    d = next((r for r in rows if r['problem'] == problem
              and r['kind'] == 'deep'), None)
    s = next((r for r in rows if r['problem'] == problem
              and r['kind'] == 'shallow'), None)
    if d and s:
      key = 'test_error' if 'test_error' in d else 'test_max_error'
      clear += (s[key]['mean'] - d[key]['mean']
                > d[key]['std'] + s[key]['std'])
  s = summary['sections']
  checks = {
      'k layers of 2 ReLUs make 2^k pieces': all(
          r['pieces'] == r['closed_form_pieces'] for r in s['sawtooth']),
      'Yarotsky\'s x² error is 2^(-2m-2)': all(
          r['deep_error'] == r['closed_form_error'] for r in s['square']),
      'parity is right on every input': all(
          r['tree_exact'] and r['bitcount_exact'] for r in s['parity'])}
  held = [k for k, ok in checks.items() if ok]
  failed = [k for k, ok in checks.items() if not ok]
  said = ('The constructions hold (' + '; '.join(held) + ')' if held else '')
  if failed:
    said += ('; ' if said else '') + 'FAILED: ' + '; '.join(failed)
  return (f'{said}. Trained from random starts, the deep net beats its '
          f'matched shallow net beyond the spread on {clear} of '
          f'{len(problems)} problems.')
