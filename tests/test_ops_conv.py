"""Tests for deepvsshallow.ops.conv: against plain numpy loops, float64 finite
differences, and flax's own layers with the same parameters."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from deepvsshallow import models
from deepvsshallow.ops import conv


def ref_conv_same(x, kernel, bias, strides):
  """SAME cross-correlation written out: zero-pad per TensorFlow's rule
  (the odd zero after), then sum kernel * window at every strided origin."""
  window = kernel.shape[:-2]
  spatial = x.shape[1:-1]
  outs, pads = [], []
  for n, k, s in zip(spatial, window, strides):
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    outs.append(out)
    pads.append((total // 2, total - total // 2))
  xp = np.pad(x, [(0, 0), *pads, (0, 0)])
  y = np.zeros((x.shape[0], *outs, kernel.shape[-1]))
  for b in range(x.shape[0]):
    for o in itertools.product(*(range(n) for n in outs)):
      for w in itertools.product(*(range(k) for k in window)):
        at = tuple(oi * s + wi for oi, s, wi in zip(o, strides, w))
        y[(b, *o)] += xp[(b, *at)] @ kernel[w]
  return y + bias


def ref_max_pool(x, window):
  spatial = x.shape[1:-1]
  outs = [-(-n // window) for n in spatial]
  y = np.zeros((x.shape[0], *outs, x.shape[-1]))
  for b in range(x.shape[0]):
    for o in itertools.product(*(range(n) for n in outs)):
      sl = tuple(slice(oi * window, oi * window + window) for oi in o)
      y[(b, *o)] = x[(b, *sl)].reshape(-1, x.shape[-1]).max(axis=0)
  return y


CASES = [  # input shape, kernel window, strides
    ((2, 12, 12, 1), (3, 3), (1, 1)),
    ((2, 7, 9, 3), (3, 3), (2, 2)),
    ((1, 6, 5, 2), (2, 4), (1, 3)),
    ((2, 40, 1), (5,), (2,)),
    ((3, 19, 4), (3,), (2,)),
    ((2, 7, 2), (4,), (3,)),
    ((2, 7, 3), (2,), (4,)),          # stride > kernel: no padding at all
    ((1, 2, 3, 2), (1, 5), (1, 1)),   # a 1-wide kernel; a side < the kernel
]


@pytest.mark.parametrize('shape,window,strides', CASES)
def test_conv_matches_numpy_loops(shape, window, strides):
  rng = np.random.default_rng(0)
  x = rng.normal(size=shape).astype(np.float32)
  kernel = rng.normal(size=(*window, shape[-1], 5)).astype(np.float32)
  bias = rng.normal(size=5).astype(np.float32)
  got = conv.conv_same(jnp.asarray(x), jnp.asarray(kernel), jnp.asarray(bias),
                       strides)
  np.testing.assert_allclose(got, ref_conv_same(x, kernel, bias, strides),
                             rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('shape', [(2, 8, 8, 3), (1, 7, 9, 2), (2, 11, 1)])
def test_max_pool_matches_numpy_loops(shape):
  x = np.random.default_rng(1).normal(size=shape).astype(np.float32)
  np.testing.assert_array_equal(conv.max_pool_same(jnp.asarray(x), 2),
                                ref_max_pool(x, 2))


@pytest.mark.parametrize('shape,window,strides', [CASES[1], CASES[4]])
def test_conv_gradients_match_central_differences(x64, shape, window,
                                                  strides):
  rng = np.random.default_rng(2)
  x = jnp.asarray(rng.normal(size=shape))
  kernel = jnp.asarray(rng.normal(size=(*window, shape[-1], 3)))
  bias = jnp.asarray(rng.normal(size=3))
  out_shape = conv.conv_same(x, kernel, bias, strides).shape
  cot = jnp.asarray(rng.normal(size=out_shape))

  def loss(x, kernel, bias):
    return jnp.sum(jnp.tanh(conv.conv_same(x, kernel, bias, strides)) * cot)

  grads = jax.grad(loss, argnums=(0, 1, 2))(x, kernel, bias)
  assert all(g.dtype == jnp.float64 for g in grads)
  eps = 1e-6
  for arg, grad in enumerate(grads):
    args = [x, kernel, bias]
    flat = np.asarray(args[arg]).ravel()
    for i in rng.choice(flat.size, size=min(12, flat.size), replace=False):
      plus, minus = flat.copy(), flat.copy()
      plus[i] += eps
      minus[i] -= eps
      up = list(args)
      up[arg] = jnp.asarray(plus.reshape(args[arg].shape))
      down = list(args)
      down[arg] = jnp.asarray(minus.reshape(args[arg].shape))
      numeric = (loss(*up) - loss(*down)) / (2 * eps)
      np.testing.assert_allclose(np.asarray(grad).ravel()[i], numeric,
                                 rtol=1e-6, atol=1e-8)


def test_max_pool_gradient_goes_to_the_max(x64):
  x = jnp.asarray(np.random.default_rng(3).normal(size=(1, 5, 4, 2)))
  grad = jax.grad(lambda x: jnp.sum(conv.max_pool_same(x, 2) * 3.0))(x)
  # Distinct values: each window's max gets the whole cotangent, others 0.
  expected = np.zeros(x.shape)
  xn = np.asarray(x)
  for i in range(0, 5, 2):
    for j in range(0, 4, 2):
      for c in range(2):
        win = xn[0, i:i + 2, j:j + 2, c]
        a, b = np.unravel_index(np.argmax(win), win.shape)
        expected[0, i + a, j + b, c] = 3.0
  np.testing.assert_array_equal(grad, expected)


@pytest.mark.parametrize('shape,window,strides', CASES)
def test_model_conv_is_flax_conv_with_the_same_parameters(shape, window,
                                                          strides):
  ours = models.Conv(shape[-1], 4, window, strides=strides, rngs=nnx.Rngs(0))
  flax_conv = nnx.Conv(shape[-1], 4, window, strides=strides,
                       padding='SAME', rngs=nnx.Rngs(0))
  np.testing.assert_array_equal(ours.kernel[...], flax_conv.kernel[...])
  x = jax.random.normal(jax.random.key(1), shape)
  np.testing.assert_allclose(ours(x), flax_conv(x), rtol=1e-5, atol=1e-5)


def test_model_conv_refuses_what_it_does_not_compute():
  for kwargs in ({'padding': 'VALID'}, {'kernel_dilation': 2},
                 {'input_dilation': 2}, {'feature_group_count': 2},
                 {'mask': jnp.ones((3, 3, 2, 4))}, {'dtype': jnp.bfloat16},
                 {'precision': 'highest'}):
    with pytest.raises(ValueError, match='models.Conv supports'):
      models.Conv(2, 4, (3, 3), rngs=nnx.Rngs(0), **kwargs)


@pytest.mark.parametrize('backend,xla_conv', [('cpu', False), ('gpu', True),
                                              ('tpu', True)])
def test_model_conv_uses_patches_on_cpu_only(monkeypatch, backend, xla_conv):
  layer = models.Conv(2, 4, (3, 3), rngs=nnx.Rngs(0))
  monkeypatch.setattr(jax, 'default_backend', lambda: backend)
  jaxpr = str(jax.make_jaxpr(layer)(jnp.zeros((1, 6, 6, 2))))
  assert ('conv_general_dilated' in jaxpr) == xla_conv
