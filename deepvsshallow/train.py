"""The training engine: one pure step, vmapped over a population of models.

A *population* is a set of models of one shape (one `nnx.GraphDef`) that differ
in their hyperparameters: a seed (initialisation and batch order) and a
learning rate. The whole population trains as one compiled program:

  train_step(graphdef, tx_fn, state, images, labels, learning_rate)
      -> (state, loss)                               one member, one batch
  epoch:  lax.scan of train_step over the shuffled batches of one epoch
  population epoch: jit(vmap(epoch)), sharded over local devices

Everything lives on device, the dataset included (stored as uint8), so an
epoch is one call. The host loop evaluates on validation after each epoch,
keeps each member's best-validation parameters (early stopping), and marks a
member "diverged" the first time its loss is not finite; from then on its
updates are skipped and the rest of the population goes on.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx, struct
from jax.sharding import NamedSharding, PartitionSpec as P
from tqdm import auto as tqdm

from deepvsshallow.errors import UsageError

POP_AXIS = 'pop'


# ----------------------------------------------------------------- optimizers

def make_optimizer(name: str, learning_rate, *, schedule: str = 'cosine',
                   total_steps: int = 1, weight_decay: float = 0.0,
                   momentum: float = 0.9) -> optax.GradientTransformation:
  """An optax optimizer. `learning_rate` may be a traced (per-member) value:

  the optimizer's state has the same structure for every learning rate, so a
  population with different rates shares one state layout and one program.
  """
  if schedule == 'constant':
    lr = learning_rate
  elif schedule == 'cosine':
    lr = optax.cosine_decay_schedule(learning_rate, max(total_steps, 1))
  elif schedule == 'warmup_cosine':
    lr = optax.warmup_cosine_decay_schedule(
        0.0, learning_rate, max(total_steps // 20, 1), max(total_steps, 2))
  else:
    raise UsageError(f'unknown schedule {schedule!r}; known: constant, cosine,'
                     ' warmup_cosine.')
  if name == 'sgd':
    return optax.sgd(lr)
  if name == 'momentum':
    return optax.sgd(lr, momentum=momentum, nesterov=True)
  if name == 'adam':
    return optax.adam(lr)
  if name == 'adamw':
    return optax.adamw(lr, weight_decay=weight_decay)
  raise UsageError(f'unknown optimizer {name!r}; known: sgd, momentum, adam, '
                   'adamw.')


# ----------------------------------------------------------------- the step

@struct.dataclass
class MemberState:
  params: Any          # nnx.State of the model's nnx.Param variables
  opt_state: Any
  diverged: jax.Array  # bool: a non-finite loss was seen; updates stop


def images_to_float(images_NHWC: jax.Array) -> jax.Array:
  """uint8 pixels to float32 in [0, 1]: the one input convention."""
  return images_NHWC.astype(jnp.float32) / 255.0


def loss_and_logits(graphdef, params, images_NHWC, labels_N):
  logits_NK = nnx.merge(graphdef, params)(images_to_float(images_NHWC))
  loss = optax.softmax_cross_entropy_with_integer_labels(logits_NK, labels_N)
  return loss.mean(), logits_NK


def train_step(graphdef, tx_fn, state: MemberState, images_NHWC, labels_N,
               learning_rate) -> tuple[MemberState, jax.Array]:
  """One optimizer step for one member. Pure: vmap it for a population."""
  tx = tx_fn(learning_rate)
  (loss, _), grads = jax.value_and_grad(
      functools.partial(loss_and_logits, graphdef), has_aux=True)(
          state.params, images_NHWC, labels_N)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  # A finite loss can still come with non-finite gradients (an overflow in
  # the backward pass): check the parameters the step would write, too.
  finite = jnp.isfinite(loss) & jnp.all(jnp.stack(
      [jnp.all(jnp.isfinite(p)) for p in jax.tree.leaves(params)]))
  diverged = state.diverged | ~finite
  # A diverged member keeps its last finite parameters, so its
  # best-validation snapshot stays meaningful and NaNs never spread.
  keep = lambda new, old: jnp.where(diverged, old, new)
  return MemberState(jax.tree.map(keep, params, state.params),
                     jax.tree.map(keep, opt_state, state.opt_state),
                     diverged), loss


def init_member(model_fn, tx_fn, seed, learning_rate) -> MemberState:
  params = nnx.state(model_fn(rngs=nnx.Rngs(params=member_key(seed, 0))),
                     nnx.Param)
  return MemberState(params, tx_fn(learning_rate).init(params),
                     jnp.zeros((), bool))


def member_key(seed, stream: int):
  """Seeds are replicates: stream 0 initialises, stream 1 shuffles batches."""
  return jax.random.fold_in(jax.random.key(seed), stream)


def train_epoch(graphdef, tx_fn, batch_size: int, state: MemberState,
                seed, learning_rate, epoch, images_NHWC, labels_N):
  """One pass over the training set in a seeded order (remainder dropped)."""
  n = labels_N.shape[0]
  steps = n // batch_size
  key = jax.random.fold_in(member_key(seed, 1), epoch)
  order_SxB = jax.random.permutation(key, n)[:steps * batch_size].reshape(
      steps, batch_size)

  def body(state, idx_B):
    return train_step(graphdef, tx_fn, state, images_NHWC[idx_B],
                      labels_N[idx_B], learning_rate)

  state, losses_S = jax.lax.scan(body, state, order_SxB)
  return state, jnp.mean(losses_S)


def evaluate(graphdef, params, images_NHWC, labels_N, chunk: int):
  """(error rate, mean loss) of one member, in fixed-size chunks."""
  n = labels_N.shape[0]
  chunk = min(chunk, n)
  pad = -n % chunk
  images = jnp.pad(images_NHWC, [(0, pad)] + [(0, 0)] * 3)
  labels = jnp.pad(labels_N, (0, pad))
  mask = jnp.arange(n + pad) < n

  model = nnx.merge(graphdef, params)

  def body(carry, xs):
    x, y, m = xs
    logits = model(images_to_float(x))
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, y)
    errors = (jnp.argmax(logits, -1) != y) & m
    return (carry[0] + errors.sum(), carry[1] + jnp.where(m, ce, 0).sum()), None

  shape = lambda a: a.reshape(-1, chunk, *a.shape[1:])
  (errors, loss), _ = jax.lax.scan(
      body, (jnp.zeros((), jnp.int32), jnp.zeros((), jnp.float32)),
      (shape(images), shape(labels), shape(mask)))
  return errors / n, loss / n


# ----------------------------------------------------------------- populations

@dataclasses.dataclass(frozen=True)
class TrainSettings:
  """Everything about training that is the same for every member."""
  optimizer: str = 'adam'
  schedule: str = 'cosine'
  weight_decay: float = 0.0
  batch_size: int = 64
  num_epochs: int = 50
  patience: int = 0         # Stop when no member improved for this many epochs; 0: never.
  eval_batch_size: int = 1024
  shard: bool = True        # Shard the population axis over local devices.
  # How members share a device: 'vmap' (batched), 'map' (one after another
  # inside the same compiled program), or 'auto': 'map' for convolutional
  # models on CPU, where vmapped convolutions with per-member weights become
  # grouped convolutions that ran 2.4x slower than members in turn
  # (BUILD_NOTES.md), else 'vmap'.
  members: str = 'auto'
  progress: bool = True


@dataclasses.dataclass
class PopulationResult:
  """Per-member outcome. Arrays have the population's length."""
  graphdef: Any
  best_params: Any                 # Device pytree, leading population axis.
  best_val_error: np.ndarray
  best_epoch: np.ndarray
  final_train_loss: np.ndarray
  diverged: np.ndarray
  epochs_run: int
  history: dict[str, np.ndarray]   # (epochs, P) train loss and val error.


class PopulationProgram:
  """The compiled programs for one model shape: init, epoch, eval, keep-best.

  Each is jitted once; the same program trains every population of this shape
  (any seeds, any learning rates, the same population size).
  """

  def __init__(self, model_fn: Callable[[nnx.Rngs], nnx.Module],
               settings: TrainSettings, num_train: int):
    if settings.batch_size < 1 or settings.batch_size > num_train:
      raise UsageError(f'batch_size must be in [1, {num_train}] (the training '
                       f'set size), got {settings.batch_size}.')
    steps = num_train // settings.batch_size * settings.num_epochs
    self.tx_fn = functools.partial(
        make_optimizer, settings.optimizer, schedule=settings.schedule,
        total_steps=steps, weight_decay=settings.weight_decay)
    self.tx_fn(1.0)  # Fail now, with a usage error, on a bad name.
    abstract = nnx.eval_shape(lambda: model_fn(rngs=nnx.Rngs(0)))
    self.graphdef, _ = nnx.split(abstract)
    self.settings = settings
    self.members = _members_mode(settings.members, abstract)
    self.init = jax.jit(jax.vmap(
        functools.partial(init_member, model_fn, self.tx_fn)))
    shards = jax.local_device_count() if settings.shard else 1
    self.epoch = jax.jit(over_members(
        functools.partial(train_epoch, self.graphdef, self.tx_fn,
                          settings.batch_size), 3, self.members, shards),
                         donate_argnums=0)
    self.eval = jax.jit(over_members(
        functools.partial(evaluate, self.graphdef,
                          chunk=settings.eval_batch_size), 1, self.members,
        shards))
    self.keep_best = jax.jit(_keep_best, donate_argnums=0)


def _members_mode(mode: str, abstract_model) -> str:
  if mode not in ('auto', 'vmap', 'map'):
    raise UsageError(f"members must be 'auto', 'vmap' or 'map', got {mode!r}.")
  if mode != 'auto':
    return mode
  has_conv = any(isinstance(node, nnx.Conv)
                 for _, node in nnx.iter_graph(abstract_model))
  return 'map' if has_conv and jax.default_backend() == 'cpu' else 'vmap'


def over_members(member_fn, num_member_args: int, mode: str, shards: int):
  """`member_fn` over a population: its first `num_member_args` arguments
  carry a leading population axis, the rest are shared by every member.

  mode 'vmap' batches members. Mode 'map' runs them one after another
  (lax.map) inside the same program; with several devices, `shard_map` gives
  each device its own members, so nothing is batched across members and no
  grouped convolution appears anywhere.
  """
  k = num_member_args

  if mode == 'vmap':
    return lambda *args: jax.vmap(
        member_fn, in_axes=(0,) * k + (None,) * (len(args) - k))(*args)

  def in_turn(*args):
    shared = args[k:]
    return jax.lax.map(lambda m: member_fn(*m, *shared), args[:k])

  if shards == 1:
    return in_turn
  # check_vma=False: members never communicate, and scans inside start
  # from replicated constants (zeros) that become per-device.
  return lambda *args: jax.shard_map(
      in_turn, mesh=population_mesh(),
      in_specs=(P(POP_AXIS),) * k + (P(),) * (len(args) - k),
      out_specs=P(POP_AXIS), check_vma=False)(*args)


def _keep_best(best_params, params, improved_P):
  def pick(b, p):
    return jnp.where(improved_P.reshape(-1, *[1] * (p.ndim - 1)), p, b)
  return jax.tree.map(pick, best_params, params)


def population_mesh() -> jax.sharding.Mesh:
  # Auto axes: the compiler propagates the population sharding through the
  # vmapped program; members never talk to each other, so no collectives.
  return jax.make_mesh((jax.local_device_count(),), (POP_AXIS,),
                       axis_types=(jax.sharding.AxisType.Auto,))


def _pad_population(values: np.ndarray, multiple: int) -> np.ndarray:
  pad = -len(values) % multiple
  return np.concatenate([values, np.repeat(values[-1:], pad)]) if pad else values


def train_population(model_fn: Callable[[nnx.Rngs], nnx.Module], dataset,
                     seeds: Sequence[int], learning_rates: Sequence[float],
                     settings: TrainSettings, *,
                     program: PopulationProgram | None = None,
                     desc: str = 'train') -> PopulationResult:
  """Trains len(seeds) same-shape models together; member i uses seeds[i]
  and learning_rates[i]. Returns each member's best-validation parameters.
  """
  if len(seeds) != len(learning_rates) or not len(seeds):
    raise UsageError('seeds and learning_rates must be non-empty and of equal '
                     f'length, got {len(seeds)} and {len(learning_rates)}.')
  program = program or PopulationProgram(model_fn, settings, len(dataset.train))
  size = len(seeds)
  mesh = population_mesh() if settings.shard else None
  multiple = mesh.size if mesh is not None else 1
  seeds_P = jnp.asarray(_pad_population(np.asarray(seeds, np.int32), multiple))
  lrs_P = jnp.asarray(_pad_population(np.asarray(learning_rates, np.float32),
                                      multiple))
  data = [jnp.asarray(a) for a in (dataset.train.images, dataset.train.labels,
                                   dataset.validation.images,
                                   dataset.validation.labels)]
  if mesh is not None:
    seeds_P, lrs_P = jax.device_put((seeds_P, lrs_P),
                                    NamedSharding(mesh, P(POP_AXIS)))
    data = jax.device_put(data, NamedSharding(mesh, P()))
  x_tr, y_tr, x_val, y_val = data

  state = program.init(seeds_P, lrs_P)
  best_params = jax.tree.map(jnp.copy, state.params)
  best_err = np.full(len(seeds_P), np.inf)
  best_epoch = np.full(len(seeds_P), -1)
  losses, val_errors = [], []
  bar = tqdm.trange(settings.num_epochs, desc=desc, leave=False,
                    disable=None if settings.progress else True)
  for epoch in bar:
    state, loss_P = program.epoch(state, seeds_P, lrs_P, epoch, x_tr, y_tr)
    err_P, _ = program.eval(state.params, x_val, y_val)
    err_P, loss_P = np.asarray(err_P), np.asarray(loss_P)
    diverged = np.asarray(state.diverged)
    improved = (err_P < best_err) & ~diverged
    best_params = program.keep_best(best_params, state.params,
                                    jnp.asarray(improved))
    best_err = np.where(improved, err_P, best_err)
    best_epoch = np.where(improved, epoch, best_epoch)
    losses.append(loss_P)
    val_errors.append(err_P)
    bar.set_postfix(best_val_err=f'{np.min(best_err[:size]):.4f}')
    stale = epoch - best_epoch >= settings.patience
    if settings.patience and np.all(stale[:size] | diverged[:size]):
      break
  bar.close()
  diverged = np.asarray(state.diverged)[:size]
  return PopulationResult(
      graphdef=program.graphdef,
      best_params=jax.tree.map(lambda a: a[:size], best_params),
      best_val_error=np.where(diverged & (best_epoch[:size] < 0), np.nan,
                              best_err[:size]),
      best_epoch=best_epoch[:size],
      final_train_loss=losses[-1][:size],
      diverged=diverged,
      epochs_run=len(losses),
      history={'train_loss': np.stack(losses)[:, :size],
               'val_error': np.stack(val_errors)[:, :size]},
  )


@functools.lru_cache(maxsize=64)
def _population_eval(graphdef, chunk: int):
  return jax.jit(jax.vmap(functools.partial(evaluate, graphdef, chunk=chunk),
                          in_axes=(0, None, None)))


def evaluate_population(graphdef, params, split, *, chunk: int = 1024):
  """(error rate, loss) per member on a `data.Split`, e.g. the test split."""
  err, loss = _population_eval(graphdef, chunk)(
      params, jnp.asarray(split.images), jnp.asarray(split.labels))
  return np.asarray(err), np.asarray(loss)
