"""The lab's constructions against their closed forms, and the piece and
region counters against brute force."""

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from deepvsshallow import lab, models, params, regions
from deepvsshallow.errors import UsageError


def _count(model) -> int:
  return params.count_params(nnx.state(model, nnx.Param))


def _run32(model, x):
  return np.asarray(model(jnp.asarray(x, jnp.float32)))[:, 0].astype(
      np.float64)


def test_hard_sigmoid_is_two_relus():
  net = lab.hard_sigmoid_net()
  x = np.linspace(-2, 3, 501)
  np.testing.assert_array_equal(_run32(net, x[:, None]),
                                np.clip(x, 0, 1).astype(np.float32))
  assert lab.hidden_units(net) == 2


@pytest.mark.parametrize('k', range(1, 11))
def test_sawtooth_has_2_to_the_k_pieces_and_6k_plus_1_params(k):
  net = lab.sawtooth_net(k)
  assert regions.count_linear_pieces(net, 0.0, 1.0) == 2 ** k
  assert _count(net) == 6 * k + 1
  assert [d.kernel.shape[1] for d in net.hidden] == [2] * k
  # The tent map composed k times, checked on a dyadic grid finer than its
  # pieces, in float32 (exact: every weight and grid point is dyadic).
  x = np.linspace(0, 1, 2 ** (k + 3) + 1)
  expected = x.copy()
  for _ in range(k):                    # T(x) = min(2x, 2 - 2x) on [0, 1].
    expected = np.minimum(2 * expected, 2 - 2 * expected)
  np.testing.assert_array_equal(_run32(net, x[:, None]), expected)


@pytest.mark.parametrize('m', range(1, 11))
def test_square_net_error_is_2_to_the_minus_2m_minus_2(m):
  net = lab.square_net(m)
  # The sup of |f_m - x^2| is attained at the midpoints of the dyadic
  # intervals of width 2^-m; a grid of step 2^-(m+3) holds them.
  x = np.linspace(0, 1, 2 ** (m + 3) + 1)
  error = np.abs(regions.forward(net, x[:, None])[:, 0] - x ** 2)
  assert error.max() == pytest.approx(2.0 ** (-2 * m - 2), rel=1e-14, abs=0)
  # Random points never exceed it (beyond float64 rounding of O(1) terms).
  fine = np.random.default_rng(m).uniform(0, 1, 100_000)
  assert np.abs(regions.forward(net, fine[:, None])[:, 0] - fine ** 2
                ).max() <= 2.0 ** (-2 * m - 2) + 1e-14
  # The float32 module computes the same function, and the net is
  # Yarotsky's f_m = x - sum_s T^s(x) / 4^s written out in numpy.
  np.testing.assert_allclose(_run32(net, x[:, None]),
                             regions.forward(net, x[:, None])[:, 0],
                             atol=1e-6)
  np.testing.assert_allclose(regions.forward(net, fine[:, None])[:, 0],
                             lab.yarotsky(fine, m), rtol=0, atol=1e-14)
  assert _count(net) == (7 if m == 1 else 12 * m - 7)


@pytest.mark.parametrize('n', range(2, 17))
def test_parity_nets_are_exact_on_every_input(n):
  bits = np.array([[int(b) for b in np.binary_repr(i, n)]
                   for i in range(2 ** n)], np.float32)
  even = (bits.sum(1) % 2 == 0).astype(np.float32)
  tree = lab.parity_net(n)
  np.testing.assert_array_equal(np.asarray(tree(jnp.asarray(bits)))[:, 0],
                                even)
  assert lab.depth(tree) == int(np.ceil(np.log2(n)))
  count = lab.bitcount_parity_net(n)
  np.testing.assert_array_equal(np.asarray(count(jnp.asarray(bits)))[:, 0],
                                even)
  assert lab.depth(count) == 1 and lab.hidden_units(count) == n


def test_all_bit_strings_and_even_parity():
  bits = lab.all_bit_strings(3)
  assert bits.tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 0], [0, 1, 1],
                           [1, 0, 0], [1, 0, 1], [1, 1, 0], [1, 1, 1]]
  assert lab.even_parity(bits).tolist() == [1, 0, 0, 1, 0, 1, 1, 0]


@pytest.mark.parametrize('seed', range(4))
def test_interpolant_equals_np_interp(seed):
  rng = np.random.default_rng(seed)
  kx = np.sort(rng.uniform(-3, 3, 9))
  ky = rng.normal(size=9)
  net = lab.interpolant_net(kx, ky)
  assert len(net.hidden) == 1 and lab.hidden_units(net) <= len(kx) - 1
  x = np.linspace(kx[0], kx[-1], 10_001)
  np.testing.assert_allclose(regions.forward(net, x[:, None])[:, 0],
                             np.interp(x, kx, ky), atol=1e-5)
  np.testing.assert_allclose(_run32(net, x[:, None]), np.interp(x, kx, ky),
                             atol=1e-4)


def test_hard_sigmoid_pieces_sum_to_the_interpolant():
  kx = np.array([0.0, 0.2, 0.5, 1.0])
  ky = np.array([1.0, -1.0, 0.5, 0.25])
  x = np.linspace(-0.5, 1.5, 401)
  total = ky[0] + lab.hard_sigmoid_pieces(kx, ky, x).sum(0)
  inside = (x >= 0) & (x <= 1)
  np.testing.assert_allclose(total[inside], np.interp(x[inside], kx, ky),
                             atol=1e-12)
  np.testing.assert_allclose(total[x < 0], ky[0])    # Flat outside.
  np.testing.assert_allclose(total[x > 1], ky[-1])


@pytest.mark.parametrize('call,value', [
    (lambda: lab.sawtooth_net(0), '0'),
    (lambda: lab.square_net(-2), '-2'),
    (lambda: lab.parity_net(1), '1'),
    (lambda: lab.parity_net(17), '17'),
    (lambda: lab.interpolant_net([0, 2, 1], [0, 1, 2]), 'unsorted'),
    (lambda: lab.interpolant_net([0, 1, 1], [0, 1, 2]), 'duplicate'),
])
def test_bad_constructions_are_clear_errors(call, value):
  with pytest.raises(UsageError, match=value):
    call()


# ----------------------------------------------------------------- counters


def _brute_force_pieces(model, lo, hi, cells=2 ** 20):
  """Slopes on a float64 grid: runs of equal slope are pieces; a cell that
  holds a kink has a slope of its own (a run of length 1) and is dropped."""
  x = np.linspace(lo, hi, cells + 1)
  y = regions.forward(model, x[:, None])[:, 0]
  s = np.diff(y) / np.diff(x)
  tol = 1e-6 * max(1.0, np.abs(s).max())
  starts = np.concatenate([[0], np.flatnonzero(np.abs(np.diff(s)) > tol) + 1])
  lengths = np.diff(np.concatenate([starts, [len(s)]]))
  run_slopes = s[starts[lengths >= 2]]
  # Neighbouring runs with the same slope are one piece.
  return 1 + int(np.sum(np.abs(np.diff(run_slopes)) > tol))


@pytest.mark.parametrize('widths,activation,seed', [
    ((5,), 'relu', 0), ((3, 4), 'relu', 1), ((2, 3, 2), 'relu', 2),
    ((6, 6), 'relu', 3), ((4, 4, 4), 'relu', 4), ((3, 5), 'hard_sigmoid', 5),
    ((4,), 'hard_sigmoid', 6), ((3, 3, 3), 'hard_sigmoid', 7)])
def test_piece_count_matches_brute_force_on_random_nets(widths, activation,
                                                        seed):
  net = models.MLP(1, widths, 1, activation=activation, rngs=nnx.Rngs(seed))
  exact = regions.count_linear_pieces(net, -2.0, 2.0)
  assert exact == _brute_force_pieces(net, -2.0, 2.0)
  assert 1 <= exact <= regions.max_pieces_1d(widths) * (
      2 if activation == 'hard_sigmoid' else 1) ** len(widths)


def test_piece_count_of_the_constructions_matches_brute_force():
  for net, expected in ((lab.sawtooth_net(6), 64), (lab.square_net(5), 32)):
    assert regions.count_linear_pieces(net, 0, 1) == expected
    assert _brute_force_pieces(net, 0, 1) == expected
  # Outside [0, 1] the tent net is flat on the left, so [-1, 1] adds one.
  assert regions.count_linear_pieces(lab.sawtooth_net(3), -1, 1) == 9


def test_piece_count_merges_kinks_that_do_not_bend_the_output():
  # Two units with the same kink whose slopes cancel: a straight line.
  net = lab.mlp_from_layers([(np.array([[1.0, 1.0, 1.0]]),
                              np.array([0.0, 0.0, -0.5])),
                             (np.array([[1.0], [-1.0], [0.0]]),
                              np.array([0.0]))])
  assert regions.count_linear_pieces(net, -1, 1) == 1


def test_counters_refuse_what_they_cannot_count():
  two_d = models.MLP(2, (3,), 1, rngs=nnx.Rngs(0))
  with pytest.raises(UsageError, match='input dimension 2'):
    regions.count_linear_pieces(two_d, 0, 1)
  smooth = models.MLP(1, (3,), 1, activation='sigmoid', rngs=nnx.Rngs(0))
  with pytest.raises(UsageError, match="'sigmoid'"):
    regions.count_linear_pieces(smooth, 0, 1)
  with pytest.raises(UsageError, match='input dimension 1'):
    regions.count_regions_2d(lab.sawtooth_net(2), -1, 1)
  with pytest.raises(UsageError, match='input dimension 1'):
    regions.count_regions_2d_exact(lab.sawtooth_net(2), -1, 1)
  hard = models.MLP(2, (3,), 1, activation='hard_sigmoid', rngs=nnx.Rngs(0))
  with pytest.raises(UsageError, match='ReLU'):
    regions.count_regions_2d_exact(hard, -1, 1)
  with pytest.raises(UsageError, match='lo < hi'):
    regions.count_regions_2d_exact(two_d, 1, -1)


def test_regions_2d_counts_a_grid_of_lines():
  # Units relu(x - a) for 3 vertical lines and relu(y - b) for 2 horizontal
  # ones cut the square into 4 x 3 = 12 rectangles.
  w = np.array([[1.0, 1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, 1.0]])
  b = -np.array([-0.5, 0.0, 0.5, -0.3, 0.4])
  net = lab.mlp_from_layers([(w, b), (np.ones((5, 1)), np.zeros(1))])
  assert regions.count_regions_2d(net, -1, 1, resolution=256) == 12


@pytest.mark.parametrize('widths,seed', [
    ((5,), 0), ((3, 4), 1), ((2, 3, 2), 2), ((6, 6), 3), ((4, 4, 4), 4),
    ((8, 8), 5)])
def test_piece_count_matches_brute_force_with_random_biases(widths, seed):
  """Zero biases leave a 1-D ReLU net at most 2 pieces (it is positively
  homogeneous); with biases drawn (Hanin & Rolnick's initialisation, a
  bias std on the inputs' scale) the breakpoints spread over [-2, 2]."""
  net = lab.he_normal_mlp(1, widths, seed, bias_std=0.5)
  exact = regions.count_linear_pieces(net, -2.0, 2.0)
  assert exact > 2
  assert exact == _brute_force_pieces(net, -2.0, 2.0)


def _line_arrangement_regions(w_2n, b_n, lo, hi) -> int:
  """Regions cut from the open square (lo, hi)^2 by the lines w.x + b = 0 in
  general position: 1 + (lines crossing it) + (crossings inside it)."""
  corners = np.array([[lo, lo], [lo, hi], [hi, lo], [hi, hi]])
  signs = np.sign(corners @ w_2n + b_n)
  crossing = (signs.min(0) < 0) & (signs.max(0) > 0)
  inside = 0
  for i in range(len(b_n)):
    for j in range(i + 1, len(b_n)):
      p = np.linalg.solve(np.stack([w_2n[:, i], w_2n[:, j]]),
                          -np.array([b_n[i], b_n[j]]))
      inside += bool(np.all((p > lo) & (p < hi)))
  return 1 + int(crossing.sum()) + inside


@pytest.mark.parametrize('units,seed', [(3, 0), (5, 1), (6, 2), (8, 3),
                                        (4, 4)])
def test_regions_2d_match_the_line_arrangement_with_random_biases(units,
                                                                  seed):
  """One hidden layer with biases drawn: its regions are the faces of an
  arrangement of lines, counted in closed form."""
  net = lab.he_normal_mlp(2, (units,), seed, bias_std=0.3)
  w = np.asarray(net.hidden[0].kernel[...], np.float64)
  b = np.asarray(net.hidden[0].bias[...], np.float64)
  expected = _line_arrangement_regions(w, b, -1.0, 1.0)
  assert expected > units   # The biases moved the lines off the origin.
  assert regions.count_regions_2d_exact(net, -1, 1) == expected
  # A grid is a lower bound: a region thinner than its spacing is missed
  # (seed 2's smallest needs the finer grid).
  assert regions.count_regions_2d(net, -1, 1, resolution=256) <= expected
  assert regions.count_regions_2d(net, -1, 1, resolution=2048) == expected


@pytest.mark.parametrize('units,seed', [(16, 0), (40, 1)])
def test_exact_regions_see_what_a_grid_cannot(units, seed):
  """Biases of std 1e-3 (Hanin & Rolnick's) pack nearly every crossing
  of the lines around the origin: the exact count is the closed form, near
  the whole arrangement's 1 + n + C(n, 2) (two nearly parallel lines may
  cross outside the square), and a 512-point grid finds under half."""
  net = lab.he_normal_mlp(2, (units,), seed, bias_std=1e-3)
  w = np.asarray(net.hidden[0].kernel[...], np.float64)
  b = np.asarray(net.hidden[0].bias[...], np.float64)
  whole = 1 + units + units * (units - 1) // 2
  expected = _line_arrangement_regions(w, b, -1.0, 1.0)
  assert 0.95 * whole <= expected <= whole
  assert regions.count_regions_2d_exact(net, -1, 1) == expected
  assert regions.count_regions_2d(net, -1, 1, resolution=512) < whole // 2


@pytest.mark.parametrize('widths,seed', [((6, 6), 0), ((5, 5, 5), 1),
                                         ((8, 6), 2), ((4, 4, 4, 4), 3)])
def test_exact_regions_of_deep_nets_match_a_fine_grid(widths, seed):
  """Deep nets, biases on the inputs' scale: distinct activation patterns
  on a 2048^2 grid (brute force, a lower bound; it finds every region at
  1024^2 already) against the exact count."""
  net = lab.he_normal_mlp(2, widths, seed, bias_std=0.5)
  exact = regions.count_regions_2d_exact(net, -1, 1)
  assert exact > 30   # Far more than the zero-bias cones.
  assert regions.count_regions_2d(net, -1, 1, resolution=2048) == exact


def test_regions_2d_zero_biases_make_2n_cones():
  """All biases zero: n lines through the origin cut the square into 2n
  sectors, whatever the weights (the artefact Hanin & Rolnick's biases
  avoid)."""
  for units, seed in ((5, 0), (9, 1)):
    net = lab.he_normal_mlp(2, (units,), seed, bias_std=0.0)
    assert regions.count_regions_2d(net, -1, 1, resolution=512) == 2 * units
    assert regions.count_regions_2d_exact(net, -1, 1) == 2 * units


def test_he_normal_mlp_draws_their_distribution():
  """Weights N(0, 2/fan-in), biases N(0, std^2): moments over a wide layer."""
  net = lab.he_normal_mlp(50, (4000,), 0, bias_std=0.25)
  w = np.asarray(net.hidden[0].kernel[...], np.float64)
  b = np.asarray(net.hidden[0].bias[...], np.float64)
  assert abs(w.var() - 2 / 50) < 0.02 * (2 / 50)
  assert abs(b.std() - 0.25) < 0.02 * 0.25
  assert abs(w.mean()) < 0.01 and abs(b.mean()) < 0.02
