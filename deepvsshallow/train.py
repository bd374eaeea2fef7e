"""The training engine: one pure step, vmapped over a population of models.

A *population* is a set of models of one shape (one `nnx.GraphDef`) that differ
in their hyperparameters: a seed (initialisation and batch order) and a
learning rate. The whole training run of a population is one compiled
program:

  train_step(step_def, state, inputs, targets, learning_rate)
      -> (state, loss)                          one member, one batch; pure
  train_epoch: lax.scan of train_step over one epoch's shuffled batches
  the run: a lax.while_loop over epochs of (population epoch, validation
      metrics, keep-best, patience check), members vmapped (or taken in
      turn) and sharded over every device of every process
      (`jax.distributed`)

The members are initialised before the run, outside its program, op by op:
jax.random's draws are jitted per shape and cached, so populations that
share layer shapes initialise without compiling again, and the training
program holds no initialisation: every initialisation scheme of a shape
shares it (BUILD_NOTES.md measures both). Compiling those small programs
would leave the devices idle, so the runner initialises the next
population's members (`start_run`) on another thread while one trains.

The host only starts the run and reads its results. To show progress it
calls the same program in chunks of epochs, passing the loop state back in;
no host callback sits inside, because JAX never caches a program that has
one on disk. Everything lives on device, the dataset too.

Model state is split by NNX filters: `nnx.Param` variables are what the
optimizer trains; every other variable (BatchNorm statistics, frozen
features, RNG counters) is carried in `MemberState.rest` and updated by the
forward pass, so any NNX model trains. A member whose training loss stops
being finite (checked every step), or whose state is not finite at the end
of an epoch, is marked diverged; it can no longer improve its best-validation
snapshot, which therefore holds its last finite, validated state, while the
rest go on. (Members never interact, so a diverged member's NaNs cannot
spread. The check is per step on the loss alone and per epoch on the
state: a per-step select over the state cost a second pass over parameters
and optimizer state, about 30% of an MNIST-1D step; BUILD_NOTES.md.)

What is scored is a `tasks.Task` (loss, metrics, the metric selected on);
how stored inputs become model inputs is the dataset's input convention
(`data.prepare_inputs`).

Importing the engine changes no JAX state; `deepvsshallow.runtime.setup()`
(which every launcher calls) lowers JAX's Threefry PRNG on CPU as
straight-line code: the same random bits, and population programs that
compile 1.3-1.8x faster.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import math
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx, struct
from jax.sharding import NamedSharding, PartitionSpec as P
from tqdm import auto as tqdm

from deepvsshallow import data as data_lib
from deepvsshallow import fields as fields_lib
from deepvsshallow import params as params_lib
from deepvsshallow import tasks as tasks_lib
from deepvsshallow.errors import UsageError

POP_AXIS = 'pop'
PROGRESS_UPDATES = 10  # Host round trips per population when a bar is shown.
OPTIMIZERS = ('sgd', 'momentum', 'adam', 'adamw')
SCHEDULES = ('constant', 'cosine', 'warmup_cosine')
MEMBER_MODES = ('auto', 'vmap', 'map')
# 'auto' takes members in turn on CPU from this many parameters (the
# model's `nnx.Param` scalars, biases included). Map / vmap time of the
# studies' MLP populations (9-20 members) on 2 devices of a 2-core VM
# (bench/bench_members.py, 2026-12-04): 0.77-0.92 from 54k to 544k
# parameters, 0.89-0.94 at 40k, 0.96-1.06 at 6.5k-23k, 1.25 at 1.4k; 40k
# nets took 1.02 with 6 members (BUILD_NOTES.md, "Members in turn for
# large nets").
MAP_MIN_PARAMS = 50_000
MATMUL_PRECISIONS = ('default', 'high', 'highest')
KEEPS = ('best', 'last')
# The name runtime.compile_stats knows a population's training program by
# (`PopulationProgram.run`): one per shape, among the small op-by-op
# programs of initialisation.
TRAINING_PROGRAM = 'jit(_run)'


def _setting(default, meaning: str, check) -> Any:
  """A TrainSettings field: its default, and (for the config) its meaning
  and check (`deepvsshallow.fields`)."""
  return dataclasses.field(default=default, metadata={
      'field': fields_lib.Field(default, meaning, check)})


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainSettings:
  """Everything about training that is the same for every member.

  Each setting is declared here once, with its default, meaning and check;
  every study's config has these fields (`config.schema` adds
  `config_fields()`), and `from_config` reads them back.
  """
  optimizer: str = _setting('adam', 'sgd | momentum | adam | adamw.',
                            fields_lib.one_of(*OPTIMIZERS))
  schedule: str = _setting(
      'cosine', 'constant | cosine | warmup_cosine (to 0 over the whole run).',
      fields_lib.one_of(*SCHEDULES))
  warmup_fraction: float = _setting(
      0.05, 'warmup_cosine only: share of steps spent warming up from 0.',
      fields_lib.number(0, 1, high_open=True))
  momentum: float = _setting(0.9, 'optimizer=momentum only.',
                             fields_lib.number(0, 1, high_open=True))
  nesterov: bool = _setting(True, 'optimizer=momentum only.',
                            fields_lib.boolean())
  weight_decay: float = _setting(
      0.0, 'adamw: decoupled; sgd, momentum, adam: an L2 term in the '
      'gradient.', fields_lib.number(0))
  batch_size: int = _setting(64, 'Examples per step.', fields_lib.integer(1))
  num_epochs: int = _setting(50, 'Passes over the training set (at most).',
                             fields_lib.integer(1))
  patience: int = _setting(
      0, 'Stop when no member improved on validation for this many epochs; '
      '0 = never.', fields_lib.integer(0))
  keep: str = _setting(
      'best', "best: each member's epoch best on validation (early "
      'stopping); last: its last epoch that did not diverge (a fixed step '
      'budget, as a paper without early stopping trains; validation is '
      'then only watched).', fields_lib.one_of(*KEEPS))
  # Execution: none of these changes a result beyond float rounding.
  eval_batch_size: int = _setting(2048, 'Chunk size when evaluating.',
                                  fields_lib.integer(1))
  shard: bool = _setting(
      True, 'Shard the population axis over every device (of every '
      'process, with --distributed).', fields_lib.boolean())
  members: str = _setting(
      'auto', 'vmap | map (in turn) | auto: map on CPU for conv nets and for '
      f'nets of {MAP_MIN_PARAMS:,} parameters or more, where it measured '
      'faster; vmap elsewhere.', fields_lib.one_of(*MEMBER_MODES))
  matmul_precision: str = _setting(
      'default', 'default | high | highest; below highest, NVIDIA GPUs of '
      'compute capability 8.0 and up run float32 matmuls in TF32, TPUs in 1 '
      'or 3 bfloat16 passes (results record which: float32_matmuls).',
      fields_lib.one_of(*MATMUL_PRECISIONS))
  progress: bool = _setting(True, 'A progress bar per population (on a '
                            'terminal).', fields_lib.boolean())

  @classmethod
  def config_fields(cls) -> dict[str, fields_lib.Field]:
    return {f.name: f.metadata['field'] for f in dataclasses.fields(cls)}

  @classmethod
  def from_config(cls, config) -> 'TrainSettings':
    return cls(**{f.name: config[f.name] for f in dataclasses.fields(cls)})


MIN_PATIENCE_PASSES = 10


def in_passes_over(settings: TrainSettings, reference: int,
                   num_train: int) -> TrainSettings:
  """`settings`, whose `num_epochs` and `patience` count passes over a
  training set of `reference` examples, for a training set of `num_train`:
  as many optimizer steps, each rounded up to whole passes over its own set
  (validation runs once a pass). The patience is at least
  MIN_PATIENCE_PASSES passes (0 stays 0: never stop early), so that a large
  set, validated once every many steps, does not stop on the noise of one
  or two validations. The step cap is then the same, in steps, at every
  size, and so is the patience until that floor."""
  def steps(n):
    return max(1, n // settings.batch_size)
  def passes(epochs):
    return max(1, math.ceil(epochs * steps(reference) / steps(num_train)))
  return dataclasses.replace(
      settings, num_epochs=passes(settings.num_epochs),
      patience=settings.patience and max(MIN_PATIENCE_PASSES,
                                         passes(settings.patience)))


# ----------------------------------------------------------------- optimizers

def make_optimizer(settings: TrainSettings, learning_rate,
                   total_steps: int) -> optax.GradientTransformation:
  """The settings' optax optimizer. `learning_rate` may be a traced
  (per-member) value: the optimizer's state has the same structure for every
  rate, so a population with different rates shares one program.

  `weight_decay` is decoupled (AdamW) for adamw and an L2 term added to the
  gradient for sgd, momentum and adam.
  """
  name, schedule = settings.optimizer, settings.schedule
  if schedule == 'constant':
    lr = learning_rate
  elif schedule == 'cosine':
    lr = optax.cosine_decay_schedule(learning_rate, max(total_steps, 1))
  elif schedule == 'warmup_cosine':
    lr = optax.warmup_cosine_decay_schedule(
        0.0, learning_rate,
        max(int(total_steps * settings.warmup_fraction), 1),
        max(total_steps, 2))
  else:
    raise UsageError(f'unknown schedule {schedule!r}; known: '
                     f'{", ".join(SCHEDULES)}.')
  if name == 'adamw':
    return optax.adamw(lr, weight_decay=settings.weight_decay)
  if name == 'sgd':
    tx = optax.sgd(lr)
  elif name == 'momentum':
    tx = optax.sgd(lr, momentum=settings.momentum,
                   nesterov=settings.nesterov)
  elif name == 'adam':
    tx = optax.adam(lr)
  else:
    raise UsageError(f'unknown optimizer {name!r}; known: '
                     f'{", ".join(OPTIMIZERS)}.')
  if settings.weight_decay:
    tx = optax.chain(optax.add_decayed_weights(settings.weight_decay), tx)
  return tx


# ----------------------------------------------------------------- the step

@struct.dataclass
class MemberState:
  params: Any          # nnx.State of the nnx.Param variables: what trains.
  rest: Any            # nnx.State of every other variable: carried.
  opt_state: Any
  diverged: jax.Array  # bool: a non-finite loss or state was seen.


@dataclasses.dataclass(frozen=True)
class StepDef:
  """Everything static about one member's step: its graph (in training and
  in evaluation mode), its task, its inputs' convention and its optimizer."""
  train_graph: Any
  eval_graph: Any
  task: tasks_lib.Task
  input_convention: str
  tx_fn: Callable[[Any], optax.GradientTransformation]


def make_step_def(abstract_model: nnx.Module, task: tasks_lib.Task,
                  input_convention: str, tx_fn) -> StepDef:
  """`abstract_model` (from `nnx.eval_shape`) is switched to eval mode."""
  abstract = abstract_model
  train_graph, _, _ = nnx.split(abstract, nnx.Param, ...)
  abstract.eval()  # BatchNorm's running averages, no dropout.
  eval_graph, _, _ = nnx.split(abstract, nnx.Param, ...)
  return StepDef(train_graph, eval_graph, task, input_convention, tx_fn)


def apply_model(graph, params, rest, convention: str, inputs):
  """(outputs, rest after the call) of the model `graph` on stored inputs."""
  model = nnx.merge(graph, params, rest, copy=True)
  outputs = model(data_lib.prepare_inputs(inputs, convention))
  return outputs, nnx.state(model, nnx.Not(nnx.Param))


def _finite_P(tree) -> jax.Array:
  """Per member (leading axis): are all of its leaves finite?"""
  leaves = jax.tree.leaves(tree)
  if not leaves:
    return jnp.array(True)
  return jnp.all(jnp.stack([
      jnp.all(jnp.isfinite(x).reshape(x.shape[0], -1), axis=1)
      for x in leaves]), axis=0)


def train_step(step_def: StepDef, state: MemberState, inputs, targets,
               learning_rate) -> tuple[MemberState, jax.Array]:
  """One optimizer step for one member. Pure: vmap it for a population."""
  tx = step_def.tx_fn(learning_rate)

  def loss_fn(params):
    outputs, rest = apply_model(step_def.train_graph, params, state.rest,
                                step_def.input_convention, inputs)
    return step_def.task.loss(outputs, targets).mean(), rest

  (loss, rest), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      state.params)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  # Only the loss here: a non-finite state (an overflowing update, say) makes
  # the next loss non-finite, and the epoch's end checks the state itself.
  diverged = state.diverged | ~jnp.isfinite(loss)
  return MemberState(params, rest, opt_state, diverged), loss


def member_key(seed, stream: int):
  """Seeds are replicates: stream 0 initialises, stream 1 shuffles batches."""
  return jax.random.fold_in(jax.random.key(seed), stream)


def init_member(model_fn, step_def: StepDef, seed, learning_rate,
                initial=(None, None)) -> MemberState:
  """`initial`: (params, rest), the member's initial nnx.Param state and
  other state, given (e.g. a narrow net zero-padded into a wider shape);
  either None: the model's own initialisation from `seed`."""
  model = model_fn(rngs=nnx.Rngs(params=member_key(seed, 0)))
  _, params, rest = nnx.split(model, nnx.Param, ...)
  params = params if initial[0] is None else initial[0]
  rest = rest if initial[1] is None else initial[1]
  return MemberState(params, rest, step_def.tx_fn(learning_rate).init(params),
                     jnp.zeros((), bool))


def permutation(key, n: int) -> jax.Array:
  """`jax.random.permutation(key, n)`, the same int32 order bit for bit.

  JAX shuffles in rounds: each draws a uint32 per element and stably sorts
  the (bits, value) pairs by the bits. XLA:CPU sorts pairs through a
  compiled comparator called per comparison; one operand of a plain type
  it sorts natively. So on CPU each round here sorts one uint64 operand,
  bits << 32 | position: its values are distinct, so their order is the
  stable order, and the positions read back permute the values. 5-6x
  faster than JAX's for 3,400 to 170,000 elements (BUILD_NOTES.md); on
  other backends (not measured) JAX's own.
  """
  if jax.default_backend() != 'cpu' or n >= 2**31:  # int32 positions.
    return jax.random.permutation(key, n)
  # JAX's round count (jax._src.random.core._shuffle): collisions of the
  # concatenated keys become unlikely enough.
  rounds = int(np.ceil(3 * np.log(max(1, n)) / np.log(np.iinfo(np.uint32).max)))
  order = jnp.arange(n)
  for _ in range(rounds):
    key, subkey = jax.random.split(key)
    bits = jax.random.bits(subkey, (n,), jnp.uint32)
    with jax.enable_x64(True):  # The uint64 operand only; nothing outside.
      packed = jax.lax.sort(bits.astype(jnp.uint64) << 32
                            | jnp.arange(n, dtype=jnp.uint64))
      position = (packed & 0xFFFFFFFF).astype(jnp.int32)
    order = order[position]
  return order


def train_epoch(step_def: StepDef, batch_size: int, state: MemberState,
                seed, learning_rate, epoch, inputs, targets):
  """One pass over the training set in a seeded order (remainder dropped)."""
  n = targets.shape[0]
  steps = n // batch_size
  key = jax.random.fold_in(member_key(seed, 1), epoch)
  order_SxB = permutation(key, n)[:steps * batch_size].reshape(
      steps, batch_size)

  def body(state, idx_B):
    return train_step(step_def, state, inputs[idx_B], targets[idx_B],
                      learning_rate)

  state, losses_S = jax.lax.scan(body, state, order_SxB)
  return state, jnp.mean(losses_S)


def member_epoch(step_def: StepDef, batch_size: int, members: str):
  """One member's `train_epoch` in a population run as `members` says
  ('vmap' or 'map'): `(state, seed, learning_rate, real, epoch, inputs,
  targets) -> (state, mean loss)`. Taken in turn, a member that only pads
  the population to a multiple of the device count (`real` False) skips
  its epochs: its state stays as it started, its loss is NaN, and every
  other member computes the same bits. Vmapped, it trains with the rest
  (a skip there would be a select after the work)."""
  def epoch_fn(state, seed, learning_rate, real, *shared):
    trained = lambda: train_epoch(step_def, batch_size, state, seed,
                                  learning_rate, *shared)
    if members != 'map':
      return trained()
    # NaN in the history's dtype (float32), which the loss has too.
    return jax.lax.cond(real, trained,
                        lambda: (state, jnp.full((), jnp.nan, jnp.float32)))
  return epoch_fn


def chunk_metrics(step_def: StepDef, params, rest, inputs, targets, mask,
                  per_example: bool = False):
  """Each task metric of one member over one chunk (evaluation mode), as a
  partial: the masked sum (for `mean` metrics) or maximum (`max`). With
  `per_example`, also each `mean` metric of each example {name: (chunk,)}."""
  outputs, _ = apply_model(step_def.eval_graph, params, rest,
                           step_def.input_convention, inputs)
  partial, values = {}, {}
  for name, metric in step_def.task.metrics:
    v = values[name] = metric.fn(outputs, targets)
    partial[name] = (jnp.where(mask, v, 0).sum() if metric.reduce == 'mean'
                     else jnp.where(mask, v, -jnp.inf).max())
  if per_example:
    return partial, {name: values[name] for name, metric in
                     step_def.task.metrics if metric.reduce == 'mean'}
  return partial


def combine_chunks(task: tasks_lib.Task, partials, n: int, xp=jnp):
  """{metric: value over the split} from per-chunk partials stacked on axis 0."""
  return {name: (xp.sum(partials[name], 0) / n if metric.reduce == 'mean'
                 else xp.max(partials[name], 0))
          for name, metric in task.metrics}


def chunked(a, chunk: int, xp=jnp):
  """a (N, ...) zero-padded to a multiple of `chunk` and split: (C, chunk, ...)."""
  pad = -a.shape[0] % chunk
  a = xp.pad(a, [(0, pad)] + [(0, 0)] * (a.ndim - 1))
  return a.reshape(-1, chunk, *a.shape[1:])


def evaluate(step_def: StepDef, params, rest, inputs, targets,
             chunk: int) -> dict[str, jax.Array]:
  """Every task metric of one member over a split, in fixed-size chunks."""
  n = targets.shape[0]
  chunk = min(chunk, n)
  mask = chunked(jnp.ones((n,), bool), chunk)
  partials = jax.lax.map(
      lambda xs: chunk_metrics(step_def, params, rest, *xs),
      (chunked(inputs, chunk), chunked(targets, chunk), mask))
  return combine_chunks(step_def.task, partials, n)


# ----------------------------------------------------------------- populations

@dataclasses.dataclass
class PopulationResult:
  """Per-member outcome. Arrays have the population's length."""
  step_def: StepDef
  best_params: Any                 # Host pytrees, leading population axis:
  best_rest: Any                   # the best-validation model of each member.
  best_val: np.ndarray             # Best validation `task.select_on` metric.
  best_epoch: np.ndarray
  final_train_loss: np.ndarray
  diverged: np.ndarray
  epochs_run: int
  history: dict[str, np.ndarray]   # (epochs, P) train loss and val metric.
  resumed_from: int = 0            # The epoch of the checkpoint it resumed.


def members_mode(mode: str, abstract_model, backend: str | None = None
                 ) -> str:
  """How a population of `abstract_model` (from `nnx.eval_shape`) runs its
  members under `mode` (a `MEMBER_MODES` name) on `backend` (default:
  JAX's): 'vmap' or 'map'."""
  if mode not in MEMBER_MODES:
    raise UsageError(f'members must be one of {", ".join(MEMBER_MODES)}, got '
                     f'{mode!r}.')
  if mode != 'auto':
    return mode
  if (backend or jax.default_backend()) != 'cpu':
    return 'vmap'
  has_conv = any(isinstance(node, nnx.Conv)
                 for _, node in nnx.iter_graph(abstract_model))
  large = params_lib.count_params(nnx.state(abstract_model, nnx.Param)) >= (
      MAP_MIN_PARAMS)
  return 'map' if has_conv or large else 'vmap'


def over_members(member_fn, num_member_args: int, mode: str, shards: int):
  """`member_fn` over a population: its first `num_member_args` arguments
  carry a leading population axis, the rest are shared by every member.

  mode 'vmap' batches members. Mode 'map' runs them one after another
  (lax.map) inside the same program; with several devices, `shard_map` gives
  each device its own members, so nothing is batched across members and no
  grouped convolution appears anywhere. 'auto' picks 'map' on CPU for
  convolutional models (with the models' patches-times-kernel convolutions,
  `ops.conv`, members in turn were faster on the STN's CNNs;
  bench/bench_conv.py) and for models of `MAP_MIN_PARAMS` parameters or
  more, where the training program measured faster (bench/bench_members.py).
  Members in turn also gave the same bits on one CPU device and on two
  (tests/test_train.py); vmapped members may round differently with the
  number of members a device holds.
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


def population_mesh() -> jax.sharding.Mesh:
  """One axis over every device of every process (`jax.devices()`): with
  `jax.distributed` initialised, a population spans all hosts."""
  # Auto axes: the compiler propagates the population sharding through the
  # vmapped program; members never talk to each other, so the only
  # collectives are the loop's "any member still improving" and the gather
  # of the results.
  return jax.make_mesh((jax.device_count(),), (POP_AXIS,),
                       axis_types=(jax.sharding.AxisType.Auto,))


def place(tree, sharding):
  """Host arrays as global jax.Arrays: each process feeds only the shards
  its own devices hold (every process holds the same host values)."""
  return jax.tree.map(
      lambda a: jax.make_array_from_callback(
          np.shape(a), sharding, lambda index: np.asarray(a)[index]), tree)


def to_host(tree):
  """Numpy copies of (possibly multi-process) arrays, the same on every
  process: a population sharded over several hosts is first replicated to
  every device (one compiled gather for the whole tree)."""
  if not all(getattr(a, 'is_fully_addressable', True) or a.is_fully_replicated
             for a in jax.tree.leaves(tree)):
    tree = _replicate(population_mesh())(tree)
  return jax.device_get(tree)


@functools.cache
def _replicate(mesh):
  return jax.jit(lambda tree: tree, out_shardings=NamedSharding(mesh, P()))


def _where_P(mask_P, new, old):
  return jax.tree.map(
      lambda n, o: jnp.where(mask_P.reshape(-1, *[1] * (n.ndim - 1)), n, o),
      new, old)


class PopulationProgram:
  """The one compiled program that trains every population of one shape.

  `start(seeds_P, lrs_P)` initialises the members (op by op, outside the
  program); `run(carry, stop_epoch, seeds_P, lrs_P, real_P, train inputs,
  train targets, validation inputs, validation targets)` trains them on from
  that loop state until `stop_epoch` (stopping early when `patience` says
  so), keeping each member's best-validation state. `run` is jitted once
  per shape: any seeds, any learning rates, the same population size.
  """

  def __init__(self, model_fn: Callable[..., nnx.Module],
               task: tasks_lib.Task, input_convention: str,
               settings: TrainSettings, num_train: int):
    if settings.batch_size < 1 or settings.batch_size > num_train:
      raise UsageError(f'batch_size must be in [1, {num_train}] (the training '
                       f'set size), got {settings.batch_size}.')
    steps = num_train // settings.batch_size * settings.num_epochs
    tx_fn = functools.partial(make_optimizer, settings, total_steps=steps)
    tx_fn(1.0)  # Fail now, with a usage error, on a bad name.
    self.settings = settings
    abstract = nnx.eval_shape(lambda: model_fn(rngs=nnx.Rngs(0)))
    self.members = members_mode(settings.members, abstract)
    self.step_def = make_step_def(abstract, task, input_convention, tx_fn)
    shards = jax.device_count() if settings.shard else 1
    self._init = jax.vmap(functools.partial(init_member, model_fn,
                                            self.step_def))
    self._epoch = over_members(
        member_epoch(self.step_def, settings.batch_size, self.members), 4,
        self.members, shards)
    self._eval = over_members(
        functools.partial(evaluate, self.step_def,
                          chunk=settings.eval_batch_size), 2, self.members,
        shards)
    self.run = jax.jit(self._run, donate_argnums=0)
    self.compiled = None   # `run` compiled ahead of time (compile_program).

  def _run(self, carry, stop_epoch, seeds_P, lrs_P, real_P, x_tr, y_tr, x_val,
           y_val):
    """The loop state after training on until `stop_epoch` (or patience).

    The host calls it once from `start`'s state, or in chunks of epochs to
    show progress; a chunked run computes exactly what a single call does.
    """
    with jax.default_matmul_precision(self.settings.matmul_precision):
      return self._advance(carry, seeds_P, lrs_P, real_P, x_tr, y_tr, x_val,
                           y_val, stop_epoch)

  def start(self, seeds_P, lrs_P, initial_P=(None, None)):
    """The loop state before the first epoch: every member initialised, op
    by op (not jitted as a whole: see the module doc), or starting from
    `initial_P` (each member's initial (params, rest)) where given."""
    with jax.default_matmul_precision(self.settings.matmul_precision):
      return self._start(seeds_P, lrs_P, initial_P)

  def abstract_carry(self, seeds_P, lrs_P):
    """The loop state's shapes and dtypes, computing nothing."""
    return jax.eval_shape(self._start, seeds_P, lrs_P)

  def _start(self, seeds_P, lrs_P, initial_P=(None, None)):
    """The carry of the epoch loop before the first epoch."""
    state = self._init(seeds_P, lrs_P, initial_P)
    num_p, num_e = seeds_P.shape[0], self.settings.num_epochs
    # Built on the host and put on the device: jnp.full, jnp.copy and
    # jnp.asarray each compile a program per shape (about 40 ms; a sweep
    # whose populations differ in width compiled 115 copies).
    const = lambda value, shape, dtype: jax.device_put(np.full(shape, value,
                                                               dtype))
    # Copies: the run donates the carry, and a buffer cannot be given twice.
    copy = lambda x: jax.device_put(x, may_alias=False)
    return dict(
        epoch=const(0, (), np.int32), state=state,
        best_params=jax.tree.map(copy, state.params),
        best_rest=jax.tree.map(copy, state.rest),
        best_val=const(np.inf, (num_p,), np.float32),
        best_epoch=const(-1, (num_p,), np.int32),
        train_loss=const(np.nan, (num_e, num_p), np.float32),
        val=const(np.nan, (num_e, num_p), np.float32))

  def _advance(self, carry, seeds_P, lrs_P, real_P, x_tr, y_tr, x_val, y_val,
               stop_epoch):
    """Epochs until `stop_epoch`, or until patience runs out."""
    patience = self.settings.patience
    select_on = self.step_def.task.select_on

    def fresh_P(c):
      # A member improved within `patience` epochs (before the first epoch,
      # best_epoch is -1). One that has not has stopped: it keeps no later
      # epoch, so each member stops by its own validation curve (seeds stay
      # independent replicates), though the population trains on while any
      # member is fresh.
      if not patience:
        return jnp.ones_like(c['best_epoch'], bool)
      return c['epoch'] - 1 - c['best_epoch'] < patience

    def cond(c):
      if not patience:
        return c['epoch'] < stop_epoch
      alive = real_P & ~c['state'].diverged & fresh_P(c)
      return (c['epoch'] < stop_epoch) & jnp.any(alive)

    def body(c):
      epoch = c['epoch']
      state, loss_P = self._epoch(c['state'], seeds_P, lrs_P, real_P, epoch,
                                  x_tr, y_tr)
      # An update in the epoch's last step may have overflowed unseen.
      state = state.replace(diverged=state.diverged
                            | ~_finite_P(state.params) | ~_finite_P(state.rest))
      val_P = self._eval(state.params, state.rest, x_val, y_val)[select_on]
      if self.settings.keep == 'last':
        improved = ~state.diverged
      else:
        improved = (val_P < c['best_val']) & ~state.diverged & fresh_P(c)
      best_val = jnp.where(improved, val_P, c['best_val'])
      return dict(
          epoch=epoch + 1, state=state,
          best_params=_where_P(improved, state.params, c['best_params']),
          best_rest=_where_P(improved, state.rest, c['best_rest']),
          best_val=best_val,
          best_epoch=jnp.where(improved, epoch, c['best_epoch']),
          train_loss=c['train_loss'].at[epoch].set(loss_P),
          val=c['val'].at[epoch].set(val_P))

    return jax.lax.while_loop(cond, body, carry)


def _pad_population(values: np.ndarray, multiple: int) -> np.ndarray:
  """`values` (members first, any rank) with the last member repeated up to
  a multiple of `multiple`."""
  pad = -len(values) % multiple
  return np.concatenate([values, np.repeat(values[-1:], pad, axis=0)]) if (
      pad) else values


def _carry_sharding(carry, mesh):
  """Member axes sharded: leading for per-member leaves, the second for the
  (epochs, P) histories; the epoch counter replicated."""
  def spec(path, leaf):
    key = getattr(path[0], 'key', None)
    if np.ndim(leaf) == 0:
      return NamedSharding(mesh, P())
    if key in ('train_loss', 'val'):
      return NamedSharding(mesh, P(None, POP_AXIS))
    return NamedSharding(mesh, P(POP_AXIS))
  return jax.tree_util.tree_map_with_path(spec, carry)


def _run_inputs(program, dataset, seeds, learning_rates, *,
                start: bool = True, initial=None):
  """The arguments of `PopulationProgram.run` after the carry and the stop
  epoch, padded to a multiple of the device count and placed (population
  axis sharded, data replicated), and the first call's carry: the members
  initialised (`start`; from `initial` where given), or else only its
  shapes and placement (to compile, or to restore a checkpoint into)."""
  settings = program.settings
  if len(seeds) != len(learning_rates) or not len(seeds):
    raise UsageError('seeds and learning_rates must be non-empty and of equal '
                     f'length, got {len(seeds)} and {len(learning_rates)}.')
  mesh = population_mesh() if settings.shard else None
  multiple = mesh.size if mesh is not None else 1
  seeds_P = _pad_population(np.asarray(seeds, np.int32), multiple)
  lrs_P = _pad_population(np.asarray(learning_rates, np.float32), multiple)
  members = (seeds_P, lrs_P, np.arange(len(seeds_P)) < len(seeds))
  data = (dataset.train.inputs, dataset.train.targets,
          dataset.validation.inputs, dataset.validation.targets)
  if start:
    initial_P = jax.tree.map(
        lambda a: _pad_population(np.asarray(a), multiple),
        tuple(initial or (None, None)))
    carry = program.start(seeds_P, lrs_P, initial_P)
  else:
    carry = program.abstract_carry(seeds_P, lrs_P)
  if mesh is not None:
    members = place(members, NamedSharding(mesh, P(POP_AXIS)))
    data = place(data, NamedSharding(mesh, P()))
    carry = jax.tree.map(
        place if start else lambda a, sharding: jax.ShapeDtypeStruct(
            a.shape, a.dtype, sharding=sharding),
        carry, _carry_sharding(carry, mesh))
  return carry, (*members, *data)


def start_run(program: PopulationProgram, dataset, seeds, learning_rates, *,
              initial=None) -> tuple[Any, tuple]:
  """`run_program`'s `started`: the first call's carry (these members
  initialised, op by op, from `initial` where given) and its other
  arguments, placed. The runner calls it on another thread while another
  population trains. That is safe because it runs only single-device
  programs and transfers: two threads that both sent programs spanning
  several devices could queue them in different orders on different
  devices (and, across processes, wait on each other for ever)."""
  return _run_inputs(program, dataset, seeds, learning_rates,
                     initial=initial)


def make_program(model_fn, dataset, settings: TrainSettings,
                 task: tasks_lib.Task | None = None) -> PopulationProgram:
  """The program for `model_fn` on `dataset` (task: the dataset's own)."""
  return PopulationProgram(model_fn, task or tasks_lib.get_task(dataset.task),
                           dataset.input_convention, settings,
                           len(dataset.train))


def compile_program(program: PopulationProgram, dataset, seeds,
                    learning_rates) -> PopulationProgram:
  """Compiles `program` ahead of time for this population's shapes (safe to
  call from a worker thread while another population trains)."""
  carry, args = _run_inputs(program, dataset, seeds, learning_rates,
                            start=False)
  program.compiled = program.run.lower(carry, np.int32(0), *args).compile()
  return program


def train_population(model_fn: Callable[..., nnx.Module], dataset,
                     seeds: Sequence[int], learning_rates: Sequence[float],
                     settings: TrainSettings, *,
                     task: tasks_lib.Task | None = None, checkpoint=None,
                     desc: str = 'train',
                     initial=None) -> PopulationResult:
  """Trains len(seeds) same-shape models together; member i uses seeds[i]
  and learning_rates[i]. `task` defaults to the dataset's. Returns each
  member's best-validation state (`run_program` of `make_program`)."""
  program = make_program(model_fn, dataset, settings, task)
  if initial is not None:   # Its dtypes decide the program: compiled on use.
    return run_program(program, dataset, seeds, learning_rates,
                       checkpoint=checkpoint, desc=desc, initial=initial)
  with concurrent.futures.ThreadPoolExecutor(1) as pool:
    # This call's own program: compiled on a second thread while
    # `run_program` initialises the members, op by op, on this one.
    compiling = pool.submit(compile_program, program, dataset, seeds,
                            learning_rates)
    return run_program(program, dataset, seeds, learning_rates,
                       checkpoint=checkpoint, desc=desc, compiling=compiling)


def run_program(program: PopulationProgram, dataset, seeds: Sequence[int],
                learning_rates: Sequence[float], *, checkpoint=None,
                desc: str = 'train', initial=None,
                compiling: concurrent.futures.Future | None = None,
                started: tuple[Any, tuple] | None = None
                ) -> PopulationResult:
  """`program` (from `make_program`, perhaps compiled ahead) trained on
  `dataset` for these members.

  `compiling`: `compile_program` of this program for these members, under
  way on another thread; awaited once the members are initialised.

  `initial`: (params, rest), each member's initial nnx.Param state and
  other state (host arrays, leading member axis), e.g. narrow nets
  zero-padded into the program's wider shape; None, or either None: each
  member's own initialisation from its seed.

  `started`: `start_run` of this program, dataset, seeds, learning rates
  and `initial`, made ahead (`initial` is then not read again); None: made
  here. Unused when a checkpoint is restored.

  `checkpoint` (a `checkpoints.Checkpoint`) saves the loop state every N
  epochs and resumes from the last save; the result is the same either way.
  """
  settings = program.settings
  saved = None
  if checkpoint is not None:
    template, _ = _run_inputs(program, dataset, seeds, learning_rates,
                              start=False)
    saved = checkpoint.restore(template)
  if started is not None and saved is None:
    carry, args = started
  else:
    carry, args = _run_inputs(program, dataset, seeds, learning_rates,
                              start=saved is None, initial=initial)
  if compiling is not None:
    compiling.result()   # Compiled (on another thread) while initialising.
  resumed_from = 0
  if checkpoint is not None:
    if saved is not None:
      carry, resumed_from = saved, int(to_host(saved['epoch']))
    if jax.process_count() > 1:   # Each process looked on its own.
      from jax.experimental import multihost_utils
      multihost_utils.assert_equal(
          np.int32(resumed_from), 'processes found different checkpoints: '
          'the workdir must be on a filesystem every process shares')
  run = program.compiled or program.run
  select_on = program.step_def.task.select_on
  size, num_epochs = len(seeds), settings.num_epochs
  # The host calls the program once, or in chunks of epochs: to show
  # progress (every process chunks alike, so their calls pair up) and to
  # checkpoint. A chunked run computes exactly what a single call does.
  bar = tqdm.tqdm(total=num_epochs, initial=resumed_from, desc=desc,
                  leave=False, disable=None if settings.progress
                  and jax.process_index() == 0 else True)
  progress = not bar.disable or (settings.progress
                                 and jax.process_count() > 1)
  chunk = -(-num_epochs // PROGRESS_UPDATES) if progress else num_epochs
  epochs = stop = resumed_from
  with bar:
    while stop < num_epochs:
      stop = min((stop // chunk + 1) * chunk, num_epochs)
      if checkpoint is not None:
        stop = min(stop, checkpoint.next_stop(epochs))
      carry = run(carry, np.int32(stop), *args)
      epochs = int(to_host(carry['epoch']))
      if progress:
        best = to_host(carry['best_val'])[:size]
        bar.update(epochs - bar.n)
        bar.set_postfix({f'best_val_{select_on}': f'{best.min():.4f}'})
      if epochs < stop:  # Patience ran out.
        break
      if (checkpoint is not None and epochs < num_epochs
          and checkpoint.due(epochs)):
        checkpoint.save(epochs, carry)
  # Only what the result keeps: gathering the members' current state and
  # optimizer state too would put the whole population on every device.
  out = to_host({k: carry[k] for k in ('best_params', 'best_rest',
                                       'best_val', 'best_epoch', 'train_loss',
                                       'val')} | {'diverged':
                                                  carry['state'].diverged})
  first = lambda tree: jax.tree.map(lambda a: a[:size], tree)
  diverged = out['diverged'][:size]
  best_epoch = out['best_epoch'][:size]
  return PopulationResult(
      step_def=program.step_def,
      best_params=first(out['best_params']),
      best_rest=first(out['best_rest']),
      best_val=np.where(diverged & (best_epoch < 0), np.nan,
                        out['best_val'][:size]),
      best_epoch=best_epoch,
      final_train_loss=out['train_loss'][epochs - 1, :size],
      diverged=diverged,
      epochs_run=epochs,
      history={'train_loss': out['train_loss'][:epochs, :size],
               'val': out['val'][:epochs, :size]},
      resumed_from=resumed_from,
  )


class EvalProgram:
  """Every task metric of a population of members on any split, from one
  compiled program of a fixed shape: `chunk` examples of all members at once,
  the host looping over chunks. Its shape does not depend on the split's
  size, so it compiles before test is read (while other populations train).
  The same program gives each example's scores, for comparisons paired
  over the test examples (`stats.compare`)."""

  def __init__(self, step_def: StepDef, settings: TrainSettings):
    self.step_def, self.chunk = step_def, settings.eval_batch_size
    precision = settings.matmul_precision

    def run(params, rest, inputs, targets, mask):
      with jax.default_matmul_precision(precision):
        return jax.vmap(functools.partial(chunk_metrics, step_def,
                                          per_example=True),
                        in_axes=(0, 0, None, None, None))(
                            params, rest, inputs, targets, mask)
    self.run = jax.jit(run)
    self._compiled = None

  def _chunks(self, split):
    n = len(split)
    return (chunked(split.inputs, self.chunk, np),
            chunked(split.targets, self.chunk, np),
            chunked(np.ones((n,), bool), self.chunk, np))

  def compile(self, params, rest, input_shape, input_dtype, target_shape,
              target_dtype) -> 'EvalProgram':
    shape = lambda s, d: jax.ShapeDtypeStruct((self.chunk, *s), d)
    self._compiled = self.run.lower(
        params, rest, shape(input_shape, input_dtype),
        shape(target_shape, target_dtype), shape((), bool)).compile()
    return self

  def __call__(self, params, rest, split, *, per_example: bool = False):
    """{metric: one value per member} over `split`; with `per_example`,
    also {metric: (members, examples)} of each `mean` metric."""
    fn = self._compiled or self.run
    outs = [jax.device_get(fn(params, rest, *c))
            for c in zip(*self._chunks(split))]
    stacked = {k: np.stack([p[k] for p, _ in outs]) for k in outs[0][0]}
    metrics = combine_chunks(self.step_def.task, stacked, len(split), xp=np)
    if not per_example:
      return metrics
    return metrics, {k: np.concatenate([v[k] for _, v in outs], 1)[
        :, :len(split)] for k in outs[0][1]}
