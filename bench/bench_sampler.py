"""Benchmark: affine_grid + bilinear_sample, forward + backward, on any backend.

Workload (the spatial-transformer experiments): a batch of 256 single-channel
images, 60x60 (and 42x42), sampled to 28x28 by a random near-identity affine
transform; we time the gradient of ``sum(out * cotangent)`` w.r.t. both the
images and theta (so affine_grid's backward is included).

Compared, in the same run:
  * deepvsshallow.ops, every sampler that runs natively on this backend
    (jnp everywhere; on GPU also the dense and the gather Pallas kernels, on
    TPU the dense one; interpret mode, CPU's only way to run them, is for
    tests, not timings), jitted;
  * jax.scipy.ndimage.map_coordinates(order=1, mode="constant"), jitted, with
    plain autodiff (same pixel coordinates, vmapped over the batch);
  * torch.nn.functional.affine_grid + grid_sample (NCHW), if torch imports,
    on the same device (CUDA when JAX runs on a GPU), with
    torch.set_num_threads(--torch-threads ...) on CPU.

Usage:
  /work/venv/bin/python bench/bench_sampler.py [--repeats 50] [--torch-threads 1 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from deepvsshallow import ops
from deepvsshallow.ops import sampling

BATCH = 256
OUT_HW = (28, 28)
IN_SIZES = (60, 42)


def _median_ms(fn, repeats: int, warmup: int) -> float:
  for _ in range(warmup):
    fn()
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    fn()
    times.append(time.perf_counter() - t0)
  return 1e3 * statistics.median(times)


def _make_inputs(in_hw: int, seed: int = 0):
  rng = np.random.default_rng(seed)
  images = rng.standard_normal((BATCH, in_hw, in_hw, 1)).astype(np.float32)
  identity = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], np.float32)
  theta = identity + 0.1 * rng.standard_normal((BATCH, 2, 3)).astype(np.float32)
  cot = rng.standard_normal((BATCH, *OUT_HW, 1)).astype(np.float32)
  return images, theta, cot


def _jax_fwd_bwd(sample_fn):
  """jit(grad wrt (images, theta)) of sum(sample(images, grid(theta)) * cot)."""

  def loss(images, theta, cot):
    grid = ops.affine_grid(theta, (BATCH, *OUT_HW, 1), align_corners=False)
    return jnp.sum(sample_fn(images, grid) * cot)

  return jax.jit(jax.grad(loss, argnums=(0, 1)))


def _map_coordinates_sample(images, grid):
  _, h, w, _ = images.shape
  x = sampling.unnormalize(grid[..., 0], w, align_corners=False)
  y = sampling.unnormalize(grid[..., 1], h, align_corners=False)
  sample_one = lambda im, yy, xx: jax.scipy.ndimage.map_coordinates(
      im[..., 0], [yy, xx], order=1, mode="constant", cval=0.0
  )
  return jax.vmap(sample_one)(images, y, x)[..., None]


def bench_jax(name, sample_fn, images, theta, cot, repeats, warmup):
  step = _jax_fwd_bwd(sample_fn)
  args = tuple(jnp.asarray(a) for a in (images, theta, cot))
  run = lambda: jax.block_until_ready(step(*args))
  return _median_ms(run, repeats, warmup)


def bench_torch(images, theta, cot, threads, repeats, warmup):
  import torch
  import torch.nn.functional as F

  device = "cuda" if (jax.default_backend() == "gpu"
                      and torch.cuda.is_available()) else "cpu"
  torch.set_num_threads(threads)
  put = lambda a: torch.tensor(a, device=device)
  img_t = put(images).permute(0, 3, 1, 2).contiguous().requires_grad_(True)
  theta_t = put(theta).requires_grad_(True)
  cot_t = put(cot).permute(0, 3, 1, 2).contiguous()
  size = (BATCH, 1, *OUT_HW)
  sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

  def run():
    grid = F.affine_grid(theta_t, size, align_corners=False)
    out = F.grid_sample(
        img_t, grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )
    grads = torch.autograd.grad((out * cot_t).sum(), (img_t, theta_t))
    sync()
    return grads

  return _median_ms(run, repeats, warmup)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--repeats", type=int, default=50)
  parser.add_argument("--warmup", type=int, default=5)
  parser.add_argument(
      "--torch-threads", type=int, nargs="+", default=[os.cpu_count() or 1],
      help="torch.set_num_threads values to measure (default: all cores, "
      "the size of XLA's CPU thread pool).",
  )
  args = parser.parse_args()

  try:
    import torch  # noqa: F401
    have_torch = True
  except ImportError:
    have_torch = False

  print(
      f"jax {jax.__version__} backend={jax.default_backend()} "
      f"cpus={os.cpu_count()} {platform.processor() or platform.machine()}"
      + (f" torch {torch.__version__}" if have_torch else " (torch not installed)")
      + f"; load average {os.getloadavg()[0]:.1f}"
  )
  print(
      f"workload: batch {BATCH}, C=1, HxW -> {OUT_HW[0]}x{OUT_HW[1]}, "
      "fwd+bwd wrt images and theta; median of "
      f"{args.repeats} after {args.warmup} warmup"
  )
  backend = jax.default_backend()
  # Natively compiled samplers only: on CPU the kernels would run in
  # interpret mode, which emulates every grid step.
  samplers = [n for n in sampling.SAMPLERS if backend in sampling.RUNS_ON[n]
              and (n == "jnp" or backend != "cpu")]
  print(f"default sampler here: {sampling.default_implementation()}")
  for in_hw in IN_SIZES:
    images, theta, cot = _make_inputs(in_hw)
    print(f"\n{in_hw}x{in_hw} -> {OUT_HW[0]}x{OUT_HW[1]}")
    times = {}
    for name in samplers:
      fn = lambda im, g, name=name: ops.bilinear_sample(
          im, g, implementation=name)
      times[name] = bench_jax(name, fn, images, theta, cot, args.repeats,
                              args.warmup)
      print(f"  deepvsshallow bilinear_sample ({name}):{' ' * (14 - len(name))}"
            f"{times[name]:8.3f} ms   vs jnp {times[name] / times['jnp']:6.2f}x")
    t_ours = times["jnp"]
    t_mc = bench_jax(
        "map_coordinates", _map_coordinates_sample, images, theta, cot,
        args.repeats, args.warmup,
    )
    print(
        f"  jax map_coordinates(order=1):        {t_mc:8.3f} ms"
        f"   speed-up of ours vs this {t_mc / t_ours:5.2f}x"
    )
    if have_torch:
      for threads in args.torch_threads:
        t_torch = bench_torch(images, theta, cot, threads, args.repeats, args.warmup)
        print(
            f"  torch grid_sample ({threads} thread{'s' if threads > 1 else ''}):"
            f"{' ' * (11 - len(str(threads)) - (threads > 1))}{t_torch:8.3f} ms"
            f"   ours/torch time ratio {t_ours / t_torch:5.2f}"
        )


if __name__ == "__main__":
  main()
