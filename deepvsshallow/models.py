"""Flax NNX models and the registry that builds them by name.

Every model maps images (N, H, W, C) to logits (N, num_classes). Its shape is
fixed by keyword arguments, so a population of same-shape models shares one
`nnx.GraphDef` and differs only in its parameter arrays.
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from deepvsshallow.errors import UsageError


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


def get_activation(name: str):
  if name not in ACTIVATIONS:
    raise UsageError(f'unknown activation {name!r}; known: '
                     f'{", ".join(sorted(ACTIVATIONS))}.')
  return ACTIVATIONS[name]


class MLP(nnx.Module):
  """Dense net: flatten, hidden layers of `hidden_widths` units, linear head."""

  def __init__(self, input_dim: int, hidden_widths: Sequence[int],
               num_classes: int, *, activation: str = 'relu', rngs: nnx.Rngs):
    get_activation(activation)
    if len(hidden_widths) < 1 or any(w < 1 for w in hidden_widths):
      raise UsageError(f'an MLP needs depth >= 1 and widths >= 1, got hidden '
                       f'widths {list(hidden_widths)}.')
    init = nnx.initializers.variance_scaling(
        _INIT_SCALE[activation], 'fan_in', 'truncated_normal')
    dims = [input_dim, *hidden_widths]
    self.hidden = nnx.List([
        nnx.Linear(a, b, kernel_init=init, rngs=rngs)
        for a, b in zip(dims[:-1], dims[1:])])
    self.head = nnx.Linear(dims[-1], num_classes, rngs=rngs)
    self.activation = activation

  def __call__(self, images_NHWC: jax.Array) -> jax.Array:
    x_ND = images_NHWC.reshape(images_NHWC.shape[0], -1)
    act = ACTIVATIONS[self.activation]
    for layer in self.hidden:
      x_ND = act(layer(x_ND))
    return self.head(x_ND)


MODELS: dict[str, Callable[..., nnx.Module]] = {
    'mlp': MLP,
}


def get_model_cls(name: str):
  if name not in MODELS:
    raise UsageError(f'unknown model {name!r}; known models: '
                     f'{", ".join(sorted(MODELS))}.')
  return MODELS[name]


def build_model(name: str, *, rngs: nnx.Rngs, **kwargs) -> nnx.Module:
  return get_model_cls(name)(rngs=rngs, **kwargs)
