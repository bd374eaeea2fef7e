"""Flax NNX models and the registry that builds them by name.

Every model maps prepared inputs (N, ...) to outputs (N, K): logits for
classification, values for regression. Its shape is fixed by keyword
arguments, so a population of same-shape models shares one `nnx.GraphDef`
and differs only in its variables' arrays.

Only `nnx.Param` variables train; anything else a model holds (BatchNorm
statistics, `Frozen` features) is carried through training as it is.
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from deepvsshallow.errors import UsageError
from deepvsshallow.ops import conv as conv_ops


def hard_sigmoid(x):
  """The lecture's hard sigmoid from two ReLUs: 0 below 0, x on [0, 1], 1 above."""
  return jax.nn.relu(x) - jax.nn.relu(x - 1.0)


ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    'relu': jax.nn.relu,
    'sigmoid': jax.nn.sigmoid,
    'hard_sigmoid': hard_sigmoid,
}

# He-style scale for ReLU, Glorot-style fan-in scale for the saturating ones:
# standard practice, the same rule at every depth and width.
_INIT_SCALE = {'relu': 2.0, 'sigmoid': 1.0, 'hard_sigmoid': 1.0}


class Frozen(nnx.Variable):
  """A variable the optimizer never touches: frozen features under a probe."""


def get_activation(name: str):
  if name not in ACTIVATIONS:
    raise UsageError(f'unknown activation {name!r}; known: '
                     f'{", ".join(sorted(ACTIVATIONS))}.')
  return ACTIVATIONS[name]


def _torch_uniform(fan_in: int):
  """PyTorch's default nn.Linear initialisation, for weights and biases
  alike: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with a=sqrt(5)
  gives this bound for the weights)."""
  bound = 1.0 / np.sqrt(fan_in)
  return lambda key, shape, dtype=jnp.float32: jax.random.uniform(
      key, shape, dtype, -bound, bound)


# How an MLP's layers start (`MLP(init=...)`):
#   zero_bias  Flax's convention: zero biases; weights truncated normal with
#              variance scale/fan_in (He for ReLU, `_INIT_SCALE`), the head
#              Flax's LeCun normal. The default everywhere.
#   torch      PyTorch's nn.Linear default: weights and biases uniform in
#              +-1/sqrt(fan_in), so biases start non-zero.
MLP_INITS = ('zero_bias', 'torch')


class MLP(nnx.Module):
  """Dense net: flatten, hidden layers of `hidden_widths` units, linear head."""

  def __init__(self, input_dim: int, hidden_widths: Sequence[int],
               num_classes: int, *, activation: str = 'relu',
               init: str = 'zero_bias', rngs: nnx.Rngs):
    get_activation(activation)
    if len(hidden_widths) < 1 or any(w < 1 for w in hidden_widths):
      raise UsageError(f'an MLP needs depth >= 1 and widths >= 1, got hidden '
                       f'widths {list(hidden_widths)}.')
    if init not in MLP_INITS:
      raise UsageError(f'unknown init {init!r}; known: {", ".join(MLP_INITS)}.')
    dims = [input_dim, *hidden_widths, num_classes]

    def linear(a, b, last):
      if init == 'torch':
        return nnx.Linear(a, b, kernel_init=_torch_uniform(a),
                          bias_init=_torch_uniform(a), rngs=rngs)
      return nnx.Linear(a, b, rngs=rngs) if last else nnx.Linear(
          a, b, kernel_init=nnx.initializers.variance_scaling(
              _INIT_SCALE[activation], 'fan_in', 'truncated_normal'),
          rngs=rngs)
    self.hidden = nnx.List([linear(a, b, False)
                            for a, b in zip(dims[:-2], dims[1:-1])])
    self.head = linear(dims[-2], num_classes, True)
    self.activation = activation

  def features(self, images_NHWC: jax.Array) -> list[jax.Array]:
    """[the flattened input, each hidden layer's activations]: what a
    probe reads, from layer 0 (the input) to the last hidden layer."""
    x_ND = images_NHWC.reshape(images_NHWC.shape[0], -1)
    act = ACTIVATIONS[self.activation]
    out = [x_ND]
    for layer in self.hidden:
      out.append(act(layer(out[-1])))
    return out

  def __call__(self, images_NHWC: jax.Array) -> jax.Array:
    return self.head(self.features(images_NHWC)[-1])


class Linear(nnx.Module):
  """Flatten, then one dense layer: logistic or linear regression."""

  def __init__(self, input_dim: int, num_outputs: int, *, rngs: nnx.Rngs):
    self.dense = nnx.Linear(input_dim, num_outputs, rngs=rngs)

  def __call__(self, x_N___):
    return self.dense(x_N___.reshape(x_N___.shape[0], -1))


class Conv(nnx.Conv):
  """`nnx.Conv` with its parameters and initialisation. On CPU it computes
  `ops.conv.conv_same` (patches times the kernel: 4-8x faster than XLA:CPU's
  convolution at these channel counts, bench/bench_conv.py); on GPU and TPU,
  flax's own (XLA's convolution, which cuDNN and the TPU compiler serve
  well). SAME padding, any strides; no dilation, feature groups or mask."""

  def __init__(self, *args, **kwargs):
    super().__init__(*args, **kwargs)
    plain = (self.padding == 'SAME' and self.mask is None
             and self.feature_group_count == 1
             and self.input_dilation in (None, 1)
             and self.kernel_dilation in (None, 1)
             and self.dtype in (None, jnp.float32) and self.precision is None)
    if not plain:
      raise ValueError('models.Conv supports SAME padding in float32 without '
                       'dilation, groups, mask or precision; use nnx.Conv for '
                       'the rest.')

  def __call__(self, x):
    if jax.default_backend() != 'cpu':
      return super().__call__(x)
    bias = None if self.bias is None else self.bias[...]
    return conv_ops.conv_same(x, self.kernel[...], bias, self.strides or 1)


class CNN(nnx.Module):
  """conv-relu-pool, conv-relu-pool, dense: three weight layers, as the
  classifiers of Jaderberg et al. 2015's Table 1."""

  def __init__(self, image_shape: Sequence[int], num_classes: int, *,
               channels: Sequence[int] = (16, 32), kernel: int = 3,
               rngs: nnx.Rngs):
    h, w, c = image_shape
    if len(channels) != 2 or min(channels) < 1 or kernel < 1:
      raise UsageError(f'CNN needs two channel counts >= 1 and kernel >= 1, '
                       f'got channels={tuple(channels)}, kernel={kernel}.')
    self.conv1 = Conv(c, channels[0], (kernel, kernel), rngs=rngs)
    self.conv2 = Conv(channels[0], channels[1], (kernel, kernel), rngs=rngs)
    # Two 2x2 max-pools with SAME padding: ceil(h / 4) x ceil(w / 4).
    flat = -(-h // 4) * -(-w // 4) * channels[1]
    self.head = nnx.Linear(flat, num_classes, rngs=rngs)

  def __call__(self, images_NHWC):
    x = images_NHWC
    for conv in (self.conv1, self.conv2):
      x = conv_ops.max_pool_same(jax.nn.relu(conv(x)), 2)
    return self.head(x.reshape(x.shape[0], -1))


IDENTITY_THETA = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
LOCALISATION_NETS = ('mlp', 'cnn')


class SpatialTransformer(nnx.Module):
  """Localisation net -> 6 affine parameters -> affine grid -> sampler.

  The localisation net (an MLP on a 2x-average-pooled image, or a small CNN)
  regresses theta (2x3, output-to-input, normalised coordinates, x first; see
  `deepvsshallow.ops`). The CNN variant's two conv layers have `channels`. Its last layer starts with zero weights and the
  identity as bias, so at initialisation the layer returns its input
  (resampled to `output_hw`). `sampler='nearest'` rounds instead of
  interpolating: the lecture's first attempt, whose gradient with respect to
  theta is zero, so the localisation net cannot learn.
  """

  def __init__(self, image_shape: Sequence[int], *,
               output_hw: Sequence[int] | None = None,
               localisation: str = 'mlp', hidden: int = 32,
               channels: Sequence[int] = (8, 8), sampler: str = 'bilinear',
               rngs: nnx.Rngs):
    h, w, c = image_shape
    if sampler not in ('bilinear', 'nearest'):
      raise UsageError(f'unknown sampler {sampler!r}; known: bilinear, '
                       'nearest.')
    if localisation == 'mlp':
      self.features = None
      loc_in = -(-h // 2) * -(-w // 2) * c
    elif localisation == 'cnn':
      self.features = CNN(image_shape, hidden, channels=channels, rngs=rngs)
      loc_in = hidden
    else:
      raise UsageError(f'unknown localisation net {localisation!r}; known: '
                       'mlp, cnn.')
    self.hidden = nnx.Linear(loc_in, hidden, rngs=rngs)
    self.theta = nnx.Linear(
        hidden, 6, kernel_init=nnx.initializers.zeros,
        bias_init=lambda *_: jnp.asarray(IDENTITY_THETA), rngs=rngs)
    self.output_hw = tuple(output_hw or (h, w))
    self.sampler = sampler

  def affine(self, images_NHWC) -> jax.Array:
    """theta (N, 2, 3) for each image."""
    if self.features is None:
      x = nnx.avg_pool(images_NHWC, (2, 2), (2, 2), padding='SAME')
      x = x.reshape(x.shape[0], -1)
    else:
      x = jax.nn.relu(self.features(images_NHWC))
    return self.theta(jax.nn.relu(self.hidden(x))).reshape(-1, 2, 3)

  def __call__(self, images_NHWC) -> jax.Array:
    from deepvsshallow import ops  # Keeps `ops` free of model imports.
    theta = self.affine(images_NHWC)
    n, _, _, c = images_NHWC.shape
    grid = ops.affine_grid(theta, (n, *self.output_hw, c))
    sample = (ops.bilinear_sample if self.sampler == 'bilinear'
              else ops.nearest_sample)
    return sample(images_NHWC, grid)


class STClassifier(nnx.Module):
  """A SpatialTransformer in front of any classifier, trained end to end."""

  def __init__(self, transformer: SpatialTransformer, classifier: nnx.Module):
    self.transformer = transformer
    self.classifier = classifier

  def __call__(self, images_NHWC):
    return self.classifier(self.transformer(images_NHWC))


def fcn(image_shape, num_classes, *, width: int, rngs: nnx.Rngs):
  """The paper's FCN: two hidden ReLU layers, three weight layers."""
  return MLP(int(np.prod(image_shape)), [width, width], num_classes,
             rngs=rngs)


def _with_transformer(classifier_fn, image_shape, *, output_hw,
                      localisation: str, loc_hidden: int, loc_channels,
                      sampler: str, rngs: nnx.Rngs) -> STClassifier:
  st = SpatialTransformer(image_shape, output_hw=output_hw,
                          localisation=localisation, hidden=loc_hidden,
                          channels=loc_channels, sampler=sampler, rngs=rngs)
  return STClassifier(st, classifier_fn((*output_hw, image_shape[2]), rngs))


def st_fcn(image_shape, num_classes, *, width: int, output_hw,
           localisation: str = 'mlp', loc_hidden: int = 32,
           loc_channels=(8, 8), sampler: str = 'bilinear', rngs: nnx.Rngs):
  """A SpatialTransformer, then the paper's FCN on its output."""
  return _with_transformer(
      lambda shape, rngs: fcn(shape, num_classes, width=width, rngs=rngs),
      image_shape, output_hw=output_hw, localisation=localisation,
      loc_hidden=loc_hidden, loc_channels=loc_channels, sampler=sampler,
      rngs=rngs)


def st_cnn(image_shape, num_classes, *, channels, output_hw,
           localisation: str = 'mlp', loc_hidden: int = 32,
           loc_channels=(8, 8), sampler: str = 'bilinear', rngs: nnx.Rngs):
  """A SpatialTransformer, then the CNN on its output."""
  return _with_transformer(
      lambda shape, rngs: CNN(shape, num_classes, channels=channels,
                              rngs=rngs),
      image_shape, output_hw=output_hw, localisation=localisation,
      loc_hidden=loc_hidden, loc_channels=loc_channels, sampler=sampler,
      rngs=rngs)


# ------------------------------------------------ 1-D signals (MNIST-1D)
# Inputs (N, L, ...) with L positions; whatever follows L is one position's
# features (MNIST-1D stores (N, 40, 1, 1): one value per position).


def _positions(x):
  return x.reshape(x.shape[0], x.shape[1], -1)   # (N, L, features)


class ResidualMLP(nnx.Module):
  """Greydanus 2020's MNIST-1D MLP: dense-relu, a residual dense-relu,
  linear head (40-100-100-10: 15,210 parameters)."""

  def __init__(self, input_dim: int, width: int, num_classes: int, *,
               rngs: nnx.Rngs):
    init = nnx.initializers.variance_scaling(2.0, 'fan_in', 'truncated_normal')
    self.dense1 = nnx.Linear(input_dim, width, kernel_init=init, rngs=rngs)
    self.dense2 = nnx.Linear(width, width, kernel_init=init, rngs=rngs)
    self.head = nnx.Linear(width, num_classes, rngs=rngs)

  def __call__(self, x):
    h = jax.nn.relu(self.dense1(x.reshape(x.shape[0], -1)))
    h = h + jax.nn.relu(self.dense2(h))
    return self.head(h)


class CNN1D(nnx.Module):
  """1-D convolutions with ReLU (SAME padding, so a stride-s layer maps L
  positions to ceil(L / s)), then a linear head on the flattened features.
  Greydanus 2020's MNIST-1D CNN: channels (25, 25, 25), kernels (5, 3, 3),
  strides (2, 2, 2): 5,210 parameters on length 40."""

  def __init__(self, length: int, num_classes: int, *,
               channels: Sequence[int] = (25, 25, 25),
               kernels: Sequence[int] = (5, 3, 3),
               strides: Sequence[int] = (2, 2, 2), input_channels: int = 1,
               rngs: nnx.Rngs):
    if not (len(channels) == len(kernels) == len(strides) >= 1) or min(
        (*channels, *kernels, *strides)) < 1:
      raise UsageError(f'CNN1D needs equally many channels, kernels and '
                       f'strides, all >= 1; got {tuple(channels)}, '
                       f'{tuple(kernels)}, {tuple(strides)}.')
    dims = [input_channels, *channels]
    self.convs = nnx.List([
        Conv(a, b, (k,), strides=(s,), rngs=rngs)
        for a, b, k, s in zip(dims[:-1], dims[1:], kernels, strides)])
    out_len = length
    for s in strides:
      out_len = -(-out_len // s)
    self.head = nnx.Linear(out_len * channels[-1], num_classes, rngs=rngs)

  def __call__(self, x):
    x = _positions(x)
    for conv in self.convs:
      x = jax.nn.relu(conv(x))
    return self.head(x.reshape(x.shape[0], -1))


class GRUCell(nnx.Module):
  """PyTorch's GRU cell parametrisation (two bias vectors), so counts match
  torch.nn.GRU: 3 * (hidden * input + hidden * hidden + 2 * hidden).

  r = sigmoid(x W_ir + b_ir + h W_hr + b_hr); z likewise;
  n = tanh(x W_in + b_in + r * (h W_hn + b_hn)); h' = (1 - z) n + z h.
  """

  def __init__(self, input_dim: int, hidden: int, *, rngs: nnx.Rngs):
    bound = 1.0 / np.sqrt(hidden)   # torch's uniform(-1/sqrt(h), 1/sqrt(h)).
    u = lambda shape: jax.random.uniform(rngs.params(), shape, jnp.float32,
                                         -bound, bound)
    self.w_i = nnx.Param(u((input_dim, 3 * hidden)))
    self.w_h = nnx.Param(u((hidden, 3 * hidden)))
    self.b_i = nnx.Param(u((3 * hidden,)))
    self.b_h = nnx.Param(u((3 * hidden,)))
    self.hidden = hidden

  def scan(self, x_NLF, reverse: bool = False):
    """Every state over the sequence, (N, L, hidden), from h_0 = 0."""
    w_i, w_h, b_i, b_h = (self.w_i[...], self.w_h[...], self.b_i[...],
                          self.b_h[...])
    gates_i = x_NLF @ w_i + b_i                   # (N, L, 3h), all at once.

    def step(h, gi):
      gh = h @ w_h + b_h
      ir, iz, i_n = jnp.split(gi, 3, axis=-1)
      hr, hz, h_n = jnp.split(gh, 3, axis=-1)
      r, z = jax.nn.sigmoid(ir + hr), jax.nn.sigmoid(iz + hz)
      h = (1 - z) * jnp.tanh(i_n + r * h_n) + z * h
      return h, h

    h0 = jnp.zeros((x_NLF.shape[0], self.hidden), x_NLF.dtype)
    _, states = jax.lax.scan(step, h0, jnp.swapaxes(gates_i, 0, 1),
                             reverse=reverse)
    return jnp.swapaxes(states, 0, 1)


class GRU(nnx.Module):
  """A (bidirectional) GRU over the positions; every state of both
  directions feeds a linear head. Greydanus 2020's MNIST-1D GRU: hidden 6,
  bidirectional: 5,134 parameters on length 40."""

  def __init__(self, length: int, num_classes: int, *, hidden: int = 6,
               bidirectional: bool = True, input_dim: int = 1,
               rngs: nnx.Rngs):
    if hidden < 1:
      raise UsageError(f'GRU needs hidden >= 1, got {hidden}.')
    self.cells = nnx.List([GRUCell(input_dim, hidden, rngs=rngs)
                           for _ in range(2 if bidirectional else 1)])
    self.head = nnx.Linear(length * len(self.cells) * hidden, num_classes,
                           rngs=rngs)

  def __call__(self, x):
    x = _positions(x)
    states = [cell.scan(x, reverse=(i == 1))
              for i, cell in enumerate(self.cells)]
    h = jnp.concatenate(states, axis=-1)
    return self.head(h.reshape(h.shape[0], -1))


MODELS: dict[str, Callable[..., nnx.Module]] = {
    'linear': Linear,
    'mlp': MLP,
    'fcn': fcn,
    'cnn': CNN,
    'st_fcn': st_fcn,
    'st_cnn': st_cnn,
    'residual_mlp': ResidualMLP,
    'cnn1d': CNN1D,
    'gru': GRU,
}


def get_model_cls(name: str):
  if name not in MODELS:
    raise UsageError(f'unknown model {name!r}; known models: '
                     f'{", ".join(sorted(MODELS))}.')
  return MODELS[name]


