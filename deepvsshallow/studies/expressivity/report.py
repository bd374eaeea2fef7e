"""Expressivity's report: the six sections' tables and prose, the verdicts
on what training found, the figures and the headline, all from a summary.

Sections 1-5 are closed forms checked against hand-built networks, one
typed row per line of each table (`Sections`); section 6's rows are the
trained nets (`Trained`, with the pick's `runner.Scores`). `sections_of`
and `trained_of` rebuild them from results.json."""

from __future__ import annotations

import collections
import dataclasses

import numpy as np

from deepvsshallow import lab, regions, report, runner, stats
from deepvsshallow.studies.expressivity.config import SUP_GRID, TARGETS


# ------------------------------------------------------ constructions' rows


@dataclasses.dataclass(frozen=True)
class Interpolant(runner.Record):
  """Section 1: the one-hidden-layer interpolant of a target with n equal
  pieces, its measured sup error and the closed form."""
  target: str                      # A key of config.TARGETS.
  pieces: int
  units: int
  params: int
  max_error: float                 # Measured, float64, on SUP_GRID points.
  closed_form: float
  closed_form_kind: str            # 'exact' (x^2) or 'bound'
  counted_pieces: int              # regions.count_linear_pieces.


@dataclasses.dataclass(frozen=True)
class Sawtooth(runner.Record):
  """Section 2: the k-fold tent map, deep (k layers of 2 ReLUs) and as a
  one-hidden-layer interpolant."""
  k: int
  pieces: int                      # Counted on the deep net.
  closed_form_pieces: int          # 2^k
  deep_params: int
  deep_units: int
  max_error_deep: float
  shallow_units_lower_bound: int   # 2^k - 1
  shallow_units: int
  shallow_params: int
  shallow_pieces: int
  max_error_shallow: float


@dataclasses.dataclass(frozen=True)
class Square(runner.Record):
  """Section 3: Yarotsky's f_m against the interpolant with 2^m pieces."""
  m: int
  closed_form_error: float         # 2^(-2m-2)
  deep_error: float
  deep_params: int
  deep_layers: int
  deep_pieces: int
  shallow_units: int
  shallow_params: int
  shallow_error: float


@dataclasses.dataclass(frozen=True)
class ParityNet(runner.Record):
  """A parity network of section 4, checked on every input."""
  layers: int
  units: int
  params: int
  exact: bool


@dataclasses.dataclass(frozen=True)
class Parity(runner.Record):
  """Section 4: parity of n bits as circuits and as networks."""
  n: int
  and_or_terms: int
  xnor_gates: int
  xnor_depth: int
  inputs_checked: int
  tree: ParityNet                  # lab.parity_net: the XNOR tree.
  bitcount: ParityNet              # lab.bitcount_parity_net.


@dataclasses.dataclass(frozen=True)
class RegionCount(runner.Record):
  """Section 5: linear regions of one architecture at initialisation under
  one bias std, one count per seed (equal widths: `widths`)."""
  widths: tuple[int, ...]
  bias_std: float
  params: int
  neurons: int
  regions_per_seed: tuple[int, ...]   # Exact (count_regions_2d_exact).

  @property
  def one_layer_max(self) -> int:
    """1 + n + C(n, 2): the most regions n lines cut from the plane, which
    one hidden layer of n units in general position reaches."""
    n = self.neurons
    return 1 + n + n * (n - 1) // 2

  @property
  def depth(self) -> int:
    return len(self.widths)

  @property
  def regions_mean(self) -> float:
    return float(np.mean(self.regions_per_seed))

  @property
  def regions_std(self) -> float:   # ddof=0, as the table prints it.
    return float(np.std(self.regions_per_seed))


@dataclasses.dataclass(frozen=True)
class RegionsAtInit(runner.Record):
  """Section 5: every (bias std, neuron count, depth) counted."""
  square: tuple[float, float]      # The input square [lo, hi]^2.
  nets: tuple[RegionCount, ...]

  def at(self, bias_std: float, neurons: int) -> list[RegionCount]:
    """The depths of one neuron count under one bias std, shallowest first."""
    return sorted((n for n in self.nets if n.bias_std == bias_std
                   and n.neurons == neurons), key=lambda n: n.depth)

  @property
  def bias_stds(self) -> list[float]:
    return sorted({n.bias_std for n in self.nets})

  @property
  def neuron_counts(self) -> list[int]:
    return sorted({n.neurons for n in self.nets})

  def deepest_vs_shallowest(self, bias_std: float, neurons: int
                            ) -> stats.Comparison:
    """The yardstick on "the deepest net makes more regions than the
    shallowest of the same neuron count", on log counts (the question is
    one of ratios; seeds are independent draws): exp of the difference and
    of its ends is the ratio of geometric means and its interval."""
    nets = self.at(bias_std, neurons)
    return stats.compare_or_no_interval(
        np.log(np.asarray(nets[-1].regions_per_seed, float)),
        np.log(np.asarray(nets[0].regions_per_seed, float)),
        higher_is_better=True)


@dataclasses.dataclass(frozen=True)
class Sections(runner.Record):
  """Sections 1-5: every construction's table."""
  hidden_layer: tuple[Interpolant, ...]
  sawtooth: tuple[Sawtooth, ...]
  square: tuple[Square, ...]
  parity: tuple[Parity, ...]
  regions_at_init: RegionsAtInit


# ------------------------------------------------------------ trained rows


@dataclasses.dataclass(frozen=True)
class Metrics(runner.Record):
  """A trained net's metrics on one split, one value per seed: error
  (parity), or mse and max_error (regression); None: not the problem's."""
  error: tuple[float, ...] | None = None
  mse: tuple[float, ...] | None = None
  max_error: tuple[float, ...] | None = None


@dataclasses.dataclass(frozen=True)
class Trained(runner.Record):
  """Section 6: one trained net (the construction's deep architecture, or
  its matched one-hidden-layer net) on one problem. `scores` is the pick on
  validation (and the task's metric, error or mse, on test); `train` and
  `test` hold every metric of the problem per seed. All but `scores` are
  empty or None when every candidate diverged."""
  problem: str
  kind: str                        # 'deep' or 'shallow'
  hidden_widths: tuple[int, ...]
  param_count: int
  construction_widths: tuple[int, ...]   # The deep net's (the construction's).
  scores: runner.Scores
  construction_params: int | None = None
  train: Metrics = Metrics()
  test: Metrics = Metrics()
  # The construction's own test metrics (one value: it is not trained).
  construction_test_error: float | None = None
  construction_test_mse: float | None = None
  construction_test_max_error: float | None = None
  constant_test_mse: float | None = None  # Regression: the training mean's.
  pieces: tuple[int, ...] | None = None   # 1-D: each seed's, on [0, 1].
  max_pieces: int | None = None           # 1-D: the architecture's maximum.
  target_pieces: int | None = None        # 1-D: the target's, if piecewise.

  @property
  def done(self) -> bool:
    return self.scores.done

  @property
  def regression(self) -> bool:
    return self.scores.metric == 'mse'

  @property
  def judged_on(self) -> str:
    """What deep vs shallow is judged on: test error (parity) or test max
    error (regression)."""
    return 'max_error' if self.regression else 'error'

  @property
  def test_judged(self) -> tuple[float, ...]:
    """Each seed's test value of `judged_on`."""
    return self.test.max_error if self.regression else self.test.error

  @property
  def construction_judged(self) -> float:
    """The construction's test value of `judged_on`."""
    return (self.construction_test_max_error if self.regression
            else self.construction_test_error)

  @property
  def net(self) -> str:
    return f'{self.kind} {"-".join(map(str, self.hidden_widths))}'


@dataclasses.dataclass(frozen=True)
class Retried(runner.Record):
  """Section 7: a deep net of the construction's depth at one width,
  trained on centred inputs from PyTorch's initialisation. `pieces` (on the
  inputs' [-1, 1]) and `test_max_error` are each picked seed's."""
  problem: str
  hidden_widths: tuple[int, ...]
  param_count: int
  scores: runner.Scores
  target_pieces: int | None = None          # Tent maps: 2^k.
  construction_max_error: float | None = None   # x^2: 2^(-2m-2).
  pieces: tuple[int, ...] | None = None
  test_max_error: tuple[float, ...] | None = None
  near_exact: tuple[bool, ...] = ()          # `near_exact`, per seed.
  # Section 6's deep net on the same problem, by the same rule.
  section6_near_exact: tuple[bool, ...] = ()


def near_exact(pieces, max_errors, *, target_pieces: int | None,
               construction_max_error: float | None, tent_tol: float,
               square_factor: float) -> tuple[bool, ...]:
  """Per seed: a tent fit with the target's pieces and a test max error
  below `tent_tol`; an x^2 fit (no target pieces) with a test max error
  below `square_factor` times the construction's."""
  if target_pieces is not None:
    return tuple(bool(n == target_pieces and e < tent_tol)
                 for n, e in zip(pieces, max_errors))
  return tuple(bool(e < square_factor * construction_max_error)
               for e in max_errors)


def sections_of(summary) -> Sections:
  return Sections.from_json(summary['sections'])


def trained_of(summary) -> list[Trained]:
  return [Trained.from_json(r) for r in summary['training']]


def retried_of(summary) -> list[Retried]:
  return [Retried.from_json(r) for r in summary.get('retried', [])]


def render_retried(retried: list[Retried], cfg) -> str:
  if not retried:
    return ''
  table = []
  for r in retried:
    if not r.scores.done:
      table.append((r.problem, '-'.join(map(str, r.hidden_widths)),
                    r.param_count, 'all diverged', '', '', '', ''))
      continue
    ok, first = r.near_exact, r.section6_near_exact
    table.append((
        r.problem, '-'.join(map(str, r.hidden_widths)), r.param_count,
        f'{r.scores.learning_rate:g}' + (' (edge)' if r.scores.on_edge
                                         else ''),
        f'{sum(ok)}/{len(ok)}',
        f'{np.mean(r.pieces):.1f} ± {np.std(r.pieces):.1f}'
        + (f' (target {r.target_pieces})' if r.target_pieces else ''),
        f'{np.median(r.test_max_error):.3g}',
        f'{sum(first)}/{len(first)}' if first else '-'))
  return '\n'.join([
      '## 7. What training finds, without the dead units', '',
      'Section 6 trains on inputs in [0, 1] from zero biases: a unit whose '
      'incoming weight is negative is then off on the whole domain from the '
      'first step, and stays dead. Here the same targets are fitted again '
      'with the inputs centred (2x − 1, in [−1, 1]), from PyTorch\'s '
      'initialisation (weights and biases uniform in ±1/√fan-in), by deep '
      'nets of the construction\'s depth at several widths, '
      f'{cfg["retry_seeds"]} seeds per rate, the rate picked on validation '
      'as in section 6. A seed is near-exact on a tent map when it has the '
      f'target\'s 2^k pieces and a test max error below '
      f'{cfg["near_exact_tent"]:g}, and on x² when its test max error is '
      f'below {cfg["near_exact_square"]:g} times the construction\'s. The '
      'last column applies the same rule to section 6\'s deep net (width 2, '
      'inputs in [0, 1], zero biases).', '',
      report.markdown_table(
          ['problem', 'deep net', 'params', 'lr', 'near-exact seeds',
           'pieces (mean ± std)', 'test max error (median)',
           'section 6: near-exact'], table)])




def anchor() -> str:
  """Theorems with closed forms (reference/theory.md), checked in 2-4."""
  return ('Telgarsky 2016: k tent-map layers of 2 ReLUs make 2^k pieces, '
          'where one hidden layer needs 2^k - 1 units; Yarotsky 2017: '
          f'sup |f_m - x²| = 2^(-2m-2) ({2.0 ** -4} at m = 1); parity: n - 1 '
          'XNOR gates against 2^(n-1) AND/OR terms.')


def _fmt(x: float) -> str:
  return f'{x:.3g}'


def _mean(per_seed) -> float:
  return float(np.mean(per_seed))


def _std(per_seed) -> float:
  """The seeds' spread as section 6's tables print it: the population
  std (ddof=0, unlike the other chapters' ddof=1; the prose says so); the
  verdicts read the values themselves through stats.compare."""
  return float(np.std(per_seed))


def _ms(per_seed, digits: int = 3) -> str:
  return f'{_mean(per_seed):.{digits}g} ± {_std(per_seed):.{digits}g}'


def render_hidden_layer(rows: tuple[Interpolant, ...]) -> str:
  table = report.markdown_table(
      ['target', 'pieces n', 'hidden units', 'params', 'max error (measured)',
       'closed form'],
      [(r.target, r.pieces, r.units, r.params, _fmt(r.max_error),
        f'{_fmt(r.closed_form)} ({r.closed_form_kind})') for r in rows])
  sq = [r for r in rows if r.target == 'x^2']
  worst = max(abs(r.max_error / r.closed_form - 1) for r in sq)
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


def render_sawtooth(rows: tuple[Sawtooth, ...]) -> str:
  table = report.markdown_table(
      ['k', 'pieces (exact count)', '2^k', 'deep: units', 'deep: params',
       'shallow: units (lower bound)', 'shallow: units (built)',
       'shallow: params', 'max error deep / shallow'],
      [(r.k, f'{r.pieces:,}', f'{r.closed_form_pieces:,}', r.deep_units,
        r.deep_params, f'{r.shallow_units_lower_bound:,}',
        f'{r.shallow_units:,}', f'{r.shallow_params:,}',
        f'{_fmt(r.max_error_deep)} / {_fmt(r.max_error_shallow)}')
       for r in rows])
  ok = all(r.pieces == r.closed_form_pieces for r in rows)
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


def render_square(rows: tuple[Square, ...]) -> str:
  table = report.markdown_table(
      ['m', 'closed form 2^(-2m-2)', 'deep f_m: error', 'deep: layers',
       'deep: params', 'shallow: units', 'shallow: params',
       'shallow: error'],
      [(r.m, _fmt(r.closed_form_error), _fmt(r.deep_error), r.deep_layers,
        r.deep_params, f'{r.shallow_units:,}', f'{r.shallow_params:,}',
        _fmt(r.shallow_error)) for r in rows])
  exact = all(r.deep_error == r.closed_form_error for r in rows)
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


def render_parity(rows: tuple[Parity, ...]) -> str:
  table = report.markdown_table(
      ['n', 'AND/OR terms', 'XNOR gates (depth)', 'XNOR net: layers',
       'units', 'params', 'bit-count net: units', 'params', 'inputs checked',
       'both exact'],
      [(r.n, f'{r.and_or_terms:,}', f'{r.xnor_gates} ({r.xnor_depth})',
        r.tree.layers, r.tree.units, r.tree.params, r.bitcount.units,
        r.bitcount.params, f'{r.inputs_checked:,}',
        'yes' if r.tree.exact and r.bitcount.exact else 'NO')
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


def _std_name(bias_std: float) -> str:
  return '0 (all zero)' if bias_std == 0 else f'{bias_std:g}'


def _regions_verdict(reg: RegionsAtInit, verdicts) -> str:
  """What the table says about depth and about neurons, in words."""
  drawn = {k: c for k, c in verdicts.items() if k[0] > 0}
  if not drawn or len(reg.at(*next(iter(drawn)))) < 2:
    return ''
  tally = collections.Counter(c.verdict for c in drawn.values())
  depths = [n.depth for n in reg.at(*next(iter(drawn)))]
  top = max(drawn.values(), key=lambda c: c.high)
  lo, hi = reg.neuron_counts[0], reg.neuron_counts[-1]
  growth = ', '.join(
      f'σ = {std:g}: {reg.at(std, lo)[0].regions_mean:.0f} to '
      f'{reg.at(std, hi)[0].regions_mean:.0f}'
      for std in reg.bias_stds if std > 0)
  return (f'With biases drawn (σ > 0), the {depths[-1]}-layer net makes '
          f'more regions than the {depths[0]}-layer net of the same neurons '
          f'in {tally["supported"]} of {len(drawn)} cases, fewer in '
          f'{tally["contradicted"]}, and the yardstick cannot tell them '
          f'apart in {tally["inconclusive"]}; the highest ratio any interval '
          f'allows is {np.exp(top.high):.2f}, against maxima that grow '
          f'exponentially with depth. The one-layer count grows with the '
          f'neurons ({lo} to {hi}: {growth}).')


def _ratio(c: stats.Comparison) -> str:
  """A log-count comparison as a ratio with its interval."""
  if not np.isfinite(c.low):
    return f'x{np.exp(c.difference):.2f} (no interval): {c.verdict}'
  return (f'x{np.exp(c.difference):.2f} [{np.exp(c.low):.2f}, '
          f'{np.exp(c.high):.2f}]: {c.verdict}')


def render_regions(reg: RegionsAtInit, rows: list[Trained]) -> str:
  counts, stds = reg.neuron_counts, reg.bias_stds
  depths = [n.depth for n in reg.at(stds[0], counts[0])]
  seeds = len(reg.nets[0].regions_per_seed)
  table, verdicts = [], {}
  for std in stds:
    for neurons in counts:
      nets = reg.at(std, neurons)
      c = verdicts[std, neurons] = reg.deepest_vs_shallowest(std, neurons)
      table.append((_std_name(std), neurons, f'{nets[0].one_layer_max:,}',
                    *[f'{n.regions_mean:.0f} ± {n.regions_std:.0f}'
                      for n in nets], _ratio(c) if len(nets) > 1 else ''))
  lines = [
      '## 5. Counting pieces and regions', '',
      '`regions.count_linear_pieces(model, lo, hi)` traces breakpoints layer '
      'by layer in float64 and merges neighbours whose output slopes agree; '
      'it reproduces 2^k for every sawtooth and 2^m for every f_m above. '
      '`regions.count_regions_2d_exact(model, lo, hi)` splits a square layer '
      'by layer, each region by each unit\'s line, in float64: every '
      'activation region that meets the square, however small.', '',
      f'**At initialisation**, on [-1, 1]², {seeds} seeds: each neuron count '
      'split into equal layers at each depth, initialised as Hanin & Rolnick '
      '2019 did (weights i.i.d. N(0, 2/fan-in), biases i.i.d. N(0, σ²); '
      'theirs: σ² = 10⁻⁶; `lab.he_normal_mlp`). Regions are mean ± std of '
      'the seeds (ddof 0). The last column is the yardstick on "the '
      f'{depths[-1]}-layer net makes more regions than the {depths[0]}-layer '
      'net of the same neurons", on log counts, shown as the ratio of '
      'geometric means with its 95% interval (seeds are independent draws; '
      f'{len(verdicts)} comparisons, not corrected for multiplicity):', '',
      report.markdown_table(
          ['bias std σ', 'neurons', 'one layer: at most',
           *[f'depth {d}' for d in depths],
           f'depth {depths[-1]} / depth {depths[0]}'], table), '',
      'With every bias zero the net is positively homogeneous, so its '
      'regions are cones from the origin: one hidden layer of n units makes '
      'exactly 2n, which counts neurons by construction and says nothing of '
      'depth. A ReLU net is positively homogeneous in its input and biases '
      'together, so biases of std σ on [-1, 1]² cut the same regions as std '
      '1 on [-1/σ, 1/σ]²: at σ = 10⁻³ the square holds essentially the whole '
      'arrangement, packed around the origin, which an exact count sees and '
      'a grid does not. Hanin & Rolnick (NeurIPS 2019) bound the expected '
      'number of regions per unit area by a constant times the number of '
      'neurons squared, whatever the depth; the constant holds the bias '
      'density, which is why σ sets the scale. '
      + _regions_verdict(reg, verdicts) + ' Figure: regions.png.']
  trained = [r for r in rows if r.done and r.pieces is not None]
  if trained:
    lines += ['', '**Trained nets** (section 6; pieces on [0, 1], exact, '
              'one count per seed; ± is the population std of the seeds, '
              'ddof 0):', '',
              report.markdown_table(
                  ['problem', 'net', 'params', 'pieces (mean ± std)',
                   'max for this architecture', 'target'],
                  [(r.problem, r.net, r.param_count, _ms(r.pieces),
                    f'{r.max_pieces:,}',
                    '-' if r.target_pieces is None
                    else f'{r.target_pieces:,}') for r in trained])]
  return '\n'.join(lines)


def _describe(c: stats.Comparison, a: str, b: str, metric: str) -> str:
  """The comparison in points for an error rate, in three significant digits
  for an MSE or a max error."""
  if metric == 'error':
    return c.describe(a, b, scale=100, unit='points')
  return c.describe(a, b, fmt='+.3g')


def deep_beats_shallow(deep: Trained, shallow: Trained) -> stats.Comparison:
  """The claim "the deep net is better than its matched shallow net": on
  test error (parity), paired over the test inputs (`runner.compare`); on
  each seed's test max error (regression: a max over a fixed grid of x, so
  seeds only)."""
  if not deep.regression:
    return runner.compare(deep.scores, shallow.scores)
  return stats.compare_or_no_interval(deep.test.max_error,
                                      shallow.test.max_error,
                                      higher_is_better=False)


def beats_constant(row: Trained) -> stats.Comparison:
  """The claim "the net's test MSE is below the best constant's" (the
  training mean, the same for every seed: no variance of its own)."""
  mse = row.test.mse
  return stats.compare_or_no_interval(mse, [row.constant_test_mse] * len(mse),
                                      higher_is_better=False)


# What became of one problem of section 6 (`Outcome.kind`):
DIVERGED = 'diverged'            # A population diverged entirely.
NO_SHAPE = 'no better than a constant'   # Regression: neither net's test
                                 # MSE is shown below the training mean's.
COMPARED = 'compared'            # Deep vs shallow, by `deep_beats_shallow`.


@dataclasses.dataclass(frozen=True)
class Outcome:
  """One problem of section 6, decided once: the verdict lines and the
  headline are both rendered from it."""
  problem: str
  kind: str                        # DIVERGED, NO_SHAPE or COMPARED.
  deep: Trained | None = None
  shallow: Trained | None = None
  # Regression: each net against the constant (deep, shallow).
  deep_vs_constant: stats.Comparison | None = None
  shallow_vs_constant: stats.Comparison | None = None
  deep_vs_shallow: stats.Comparison | None = None   # COMPARED only.
  note: str = ''                   # runner.edge_note of the two picks.

  @property
  def verdict(self) -> str | None:
    """The deep-vs-shallow verdict; None when it was not compared."""
    return self.deep_vs_shallow.verdict if self.deep_vs_shallow else None

  def describe(self) -> str:
    return _describe(self.deep_vs_shallow, 'deep', 'shallow',
                     self.deep.judged_on) + self.note


def outcome(problem: str, rows: list[Trained]) -> Outcome:
  """The problem's outcome: diverged, neither net shown better than the
  constant (regression; then two nets that learned nothing of the shape
  are not told apart), or deep vs shallow compared."""
  done = {r.kind: r for r in rows if r.problem == problem and r.done}
  d, s = done.get('deep'), done.get('shallow')
  if not d or not s:
    return Outcome(problem, DIVERGED, d, s)
  cd = cs = None
  if d.constant_test_mse is not None:
    cd, cs = beats_constant(d), beats_constant(s)
    if 'supported' not in (cd.verdict, cs.verdict):
      return Outcome(problem, NO_SHAPE, d, s, cd, cs)
  return Outcome(problem, COMPARED, d, s, cd, cs, deep_beats_shallow(d, s),
                 runner.edge_note(deep=d.scores, shallow=s.scores))


def outcomes(rows: list[Trained]) -> list[Outcome]:
  """One outcome per problem of section 6, in the rows' order."""
  return [outcome(p, rows) for p in dict.fromkeys(r.problem for r in rows)]


def deciding(tally: list[Outcome]) -> Outcome | None:
  """The compared problem that decides "trained, the deep net is better on
  every problem compared": the first that contradicts it, else the first
  inconclusive one, else the weakest support (the interval's end nearest
  0). Its verdict is the claim's: contradicted if any problem contradicts
  it, supported only if all support it. None: no problem was compared."""
  compared = [o for o in tally if o.kind == COMPARED]
  i = stats.deciding(o.deep_vs_shallow for o in compared)
  return None if i is None else compared[i]


def _said(o: Outcome) -> str:
  d, s = o.deep, o.shallow
  if o.kind == DIVERGED:
    return f'{o.problem}: a population diverged entirely.'
  if o.kind == NO_SHAPE:
    return (f'{o.problem}: neither net\'s test MSE is shown below a '
            f'constant\'s (test MSE deep '
            f'{_mean(d.test.mse):.3g}, shallow {_mean(s.test.mse):.3g}, the '
            f'training mean {d.constant_test_mse:.3g}; '
            + _describe(o.deep_vs_constant, 'deep', 'constant', 'mse') + '; '
            + _describe(o.shallow_vs_constant, 'shallow', 'constant', 'mse')
            + '), so the two are not compared; the construction is exact to '
            f'{d.construction_test_max_error:.3g}.')
  what = 'test ' + d.judged_on.replace('_', ' ')
  return (f'{o.problem}: {what} deep {_mean(d.test_judged):.3g} vs shallow '
          f'{_mean(s.test_judged):.3g}; {o.describe()}; the construction '
          f'gets {d.construction_judged:.3g}.')


def training_verdict(rows: list[Trained]) -> str:
  """One line per problem of section 6."""
  return '\n'.join(f'- {_said(o)}' for o in outcomes(rows))


def render_training(rows: list[Trained], cfg) -> str:
  reg = [r for r in rows if r.done and r.regression]
  bits = [r for r in rows if r.done and not r.regression]
  lines = [
      '## 6. What training finds', '',
      'Deep nets with the construction\'s architecture and one-hidden-layer '
      'nets with the nearest parameter count, trained from random '
      f'initialisation with {cfg["optimizer"]} ({cfg["num_epochs"]} epochs, '
      f'batch {cfg["batch_size"]}), the learning rate picked on validation '
      f'from {tuple(cfg["learning_rates"])} (extended while a pick sat on '
      f'an end), {cfg["num_seeds"]} seeds as '
      'replicates (mean ± std; ± is the population std of the seeds, '
      f'ddof 0). Regression: {cfg["regression_train_size"]} '
      'uniform training points on [0, 1] (validation carved from them), '
      f'test on {cfg["regression_test_size"]:,} evenly spaced points. Parity: '
      'a random half of all 2^n inputs to train on (validation carved from '
      'it), the other half to test on; chance is 50%.', '']
  if reg:
    lines += [report.markdown_table(
        ['problem', 'net', 'params', 'lr', 'train max error', 'test max error',
         'test MSE', 'constant: test MSE', 'construction: test max error'],
        [(r.problem, r.net, r.param_count, f'{r.scores.learning_rate:g}',
          _ms(r.train.max_error), _ms(r.test.max_error),
          _ms(r.test.mse), _fmt(r.constant_test_mse),
          _fmt(r.construction_test_max_error)) for r in reg]), '',
        'The constant column is the test MSE of predicting the training '
        'mean everywhere: a net near it has learned nothing of the shape.',
        '']
  if bits:
    lines += [report.markdown_table(
        ['problem', 'net', 'params', 'lr', 'train error %', 'test error %',
         'construction: test error %'],
        [(r.problem, r.net, r.param_count, f'{r.scores.learning_rate:g}',
          report.pct(_mean(r.train.error), _std(r.train.error)),
          report.pct(_mean(r.test.error), _std(r.test.error)),
          report.pct(r.construction_test_error))
         for r in bits]), '']
  lines += [
      'In short (deep − shallow with its 95% interval, stats.compare: over '
      'seeds and test inputs, paired, for parity; over seeds for a max '
      'error; supported: the deep net is better, contradicted: the shallow '
      'one is, inconclusive: the interval holds 0; on every problem: '
      'supported only if all are, contradicted if any is):', '',
      training_verdict(rows), '',
      'Known results to set beside these: narrow deep nets rarely find the '
      'sawtooth from random initialisation (a width-2 ReLU layer dies or '
      'collapses easily), and parity is hard for gradient methods '
      '(Shalev-Shwartz et al. 2017). Representability is not learnability: '
      'the constructions above prove what the architectures can express, '
      'not what training will find (training.png).']
  return '\n'.join(lines)


def render_markdown(summary) -> str:
  s, rows, cfg = sections_of(summary), trained_of(summary), summary['config']
  return '\n\n'.join([
      '# Why deep? Expressivity by construction, and what training finds',
      'Every construction is an ordinary Flax NNX MLP from `deepvsshallow.lab` '
      '(weights set, not trained); every count of pieces is exact. Closed '
      'forms: deepvsshallow/reference/theory.md.',
      render_hidden_layer(s.hidden_layer),
      render_sawtooth(s.sawtooth),
      render_square(s.square),
      render_parity(s.parity),
      render_regions(s.regions_at_init, rows),
      render_training(rows, cfg),
      *[t for t in [render_retried(retried_of(summary), cfg)] if t],
      report.run_footer(summary), ''])


def console_summary(summary) -> str:
  return training_verdict(trained_of(summary))


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
  rows = sections_of(summary).hidden_layer
  ax = axes[2]
  for name in TARGETS:
    r = [row for row in rows if row.target == name]
    ax.loglog([row.units for row in r], [row.max_error for row in r],
              'o-', label=f'{name}: measured')
    ax.loglog([row.units for row in r], [row.closed_form for row in r],
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
  rows = sections_of(summary).sawtooth
  ax = axes[k]
  ax.semilogy([r.k for r in rows], [r.deep_params for r in rows], 'o-',
              label='deep: k layers of 2 ReLUs')
  ax.semilogy([r.k for r in rows], [r.shallow_params for r in rows],
              's-', label='one hidden layer')
  ax.set_xlabel('k')
  ax.set_ylabel('parameters for T^k')
  ax.legend(fontsize=8)
  fig.tight_layout()
  report.save_figure(fig, path)
  plt.close(fig)


def plot_square(summary, path: str) -> None:
  plt = report.pyplot()
  rows = sections_of(summary).square
  fig, ax = plt.subplots(figsize=(5, 3.8))
  ax.loglog([r.deep_params for r in rows], [r.deep_error for r in rows],
            'o-', label='deep: Yarotsky f_m')
  ax.loglog([r.shallow_params for r in rows],
            [r.shallow_error for r in rows], 's-',
            label='one hidden layer: interpolant')
  ax.set_xlabel('parameters')
  ax.set_ylabel('sup |f - x²| on [0, 1]')
  ax.set_title('x²: error against parameters')
  ax.legend(fontsize=8)
  report.save_figure(fig, path)
  plt.close(fig)


def plot_regions(summary, path: str) -> None:
  """Top: activation regions at initialisation (seed 0), each region one
  colour, for each depth at the middle neuron count and the bias std
  nearest 0.1, zoomed to 10 bias stds around the origin. Bottom: regions against neurons, one panel per
  bias std, one line per depth (mean and std over seeds)."""
  plt = report.pyplot()
  reg = sections_of(summary).regions_at_init
  stds, counts = reg.bias_stds, reg.neuron_counts
  shown_std = min(stds, key=lambda x: abs(np.log10(max(x, 1e-9)) + 1))
  shown = reg.at(shown_std, counts[len(counts) // 2])
  res = 400
  # The regions a bias std packs around the origin, zoomed to 10 std
  # (positive homogeneity: the picture at any larger scale is cones).
  half = min(reg.square[1], 10 * shown_std) if shown_std > 0 else (
      reg.square[1])
  g = np.linspace(-half, half, res)
  xx, yy = np.meshgrid(g, g)
  pts = np.c_[xx.ravel(), yy.ravel()]
  cols = max(len(shown), len(stds))
  fig, axes = plt.subplots(2, cols, figsize=(3.3 * cols, 6.8),
                           squeeze=False)
  for ax, count in zip(axes[0], shown):
    net = lab.he_normal_mlp(2, count.widths, 0, count.bias_std)
    keys = regions.pattern_keys(regions.activation_patterns(net, pts))
    _, ids = np.unique(keys, return_inverse=True)
    perm = np.random.default_rng(0).permutation(ids.max() + 1)
    ax.imshow(perm[ids.reshape(res, res)], cmap='tab20', origin='lower',
              extent=(-half, half, -half, half), interpolation='nearest')
    ax.set_title(f'{count.depth}x{count.widths[0]}, σ={count.bias_std:g}: '
                 f'{count.regions_per_seed[0]} regions in '
                 f'[{reg.square[0]:g}, {reg.square[1]:g}]²', fontsize=8)
    ax.set_xticks([-half, 0, half])
    ax.set_yticks([-half, 0, half])
  for ax, std in zip(axes[1], stds):
    for d in sorted({n.depth for n in reg.nets}):
      nets = [n for n in reg.nets if n.bias_std == std and n.depth == d]
      nets.sort(key=lambda n: n.neurons)
      ax.errorbar([n.neurons for n in nets], [n.regions_mean for n in nets],
                  yerr=[n.regions_std for n in nets], marker='o',
                  capsize=3, label=f'depth {d}')
    ax.set_xscale('log', base=2)
    ax.set_yscale('log')
    ax.set_xlabel('hidden neurons')
    ax.set_title(f'bias std σ = {_std_name(std)}', fontsize=9)
    ax.legend(fontsize=7)
  axes[1][0].set_ylabel('regions in [-1, 1]²')
  for ax in [*axes[0][len(shown):], *axes[1][len(stds):]]:
    ax.axis('off')
  fig.tight_layout()
  report.save_figure(fig, path)
  plt.close(fig)


def plot_training(fits, x, summary, path: str) -> None:
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
  """The claims' verdicts in one line (the lecture report's), from the same
  outcomes as section 6's verdict lines (`deciding`)."""
  tally = outcomes(trained_of(summary))
  s = sections_of(summary)
  checks = {
      'k layers of 2 ReLUs make 2^k pieces': all(
          r.pieces == r.closed_form_pieces for r in s.sawtooth),
      'Yarotsky\'s x² error is 2^(-2m-2)': all(
          r.deep_error == r.closed_form_error for r in s.square),
      'parity is right on every input': all(
          r.tree.exact and r.bitcount.exact for r in s.parity)}
  held = [k for k, ok in checks.items() if ok]
  failed = [k for k, ok in checks.items() if not ok]
  said = ('The constructions hold (' + '; '.join(held) + ')' if held else '')
  if failed:
    said += ('; ' if said else '') + 'FAILED: ' + '; '.join(failed)
  d = deciding(tally)
  said += '. Trained from random starts, ' + (
      f'the deep net is better than its matched shallow net on every '
      f'problem compared ({sum(o.kind == COMPARED for o in tally)}): '
      f'{d.verdict} ({d.problem}: {d.describe()})' if d else
      'no problem was compared')
  skipped = [f'{n} where {why}' for n, why in (
      (sum(o.kind == NO_SHAPE for o in tally),
       'neither net is shown better than a constant'),
      (sum(o.kind == DIVERGED for o in tally), 'a population diverged'))
             if n]
  if skipped:
    said += '; not compared: ' + ', '.join(skipped)
  return said + '.'
