r"""The main job's default against its FLOP limit on this machine.

  python bench/bench_main_job.py                    # the default, cold
  python bench/bench_main_job.py --config=:runlocal # a quick check of the bench
  python bench/bench_main_job.py --workdir=runs/deep_vs_shallow --reuse

It runs `experiments/deep_vs_shallow.py` as a user would, from nothing: a
fresh compilation cache and a fresh TFDS_DATA_DIR in a temporary folder
(with --reuse, it reads a finished workdir instead of running). Then, in
one run, it prints:
  * the job's wall time (the process, start to exit) and its compile time
    (the job's own count, results.json);
  * the matmul FLOPs the job had to run, counted from its trials.jsonl as
    bench_mnist1d.py counts them: per member step 2 * B * weights forward,
    2 * B * weights for the weight gradients and 2 * B * weights for the
    input gradients of every layer but the first; per epoch 2 * weights per
    validation example; once, 2 * weights per test example. Biases,
    activations and the optimizer are not counted, nor the mimics' teacher
    logits (one forward pass over the training set per teacher);
  * the float32 matmul peak of this machine, the best of 3 measurements
    here with the device count the job used (one per core: the launchers'
    default);
  * the FLOP limit (FLOPs / peak) and the ratio wall / limit. Issue 22's
    goal is a ratio of at most 2.
"""

import argparse
import json
import os
import sys
import tempfile

from cold import ROOT, run_cold


def hidden_of(architecture: str) -> list[int]:
  """'3x128' -> [128, 128, 128]; 'logistic' -> []."""
  if architecture == 'logistic':
    return []
  depth, width = architecture.split('x')
  return [int(width)] * int(depth)


def job_flops(workdir: str) -> tuple[float, int]:
  """The matmul FLOPs of every member the job trained, and the member count."""
  with open(os.path.join(workdir, 'results.json')) as f:
    results = json.load(f)
  sizes, config = results['dataset'], results['config']
  batch = config['batch_size']
  total, members = 0.0, 0
  with open(os.path.join(workdir, 'trials.jsonl')) as f:
    trials = [json.loads(line) for line in f]
  for t in trials:
    dims = [sizes['input_dim'], *hidden_of(t['architecture']),
            sizes['num_classes']]
    weights = sum(a * b for a, b in zip(dims[:-1], dims[1:]))
    epochs = t['metrics'].get('epochs_run', 0)
    steps = sizes['train'] // batch * epochs
    total += 2 * batch * steps * (3 * weights - dims[0] * dims[1])
    total += 2 * weights * (sizes['validation'] * epochs + sizes['test'])
    members += 1
  return total, members


def run_job(workdir: str, config_arg: str | None) -> float:
  """The launcher from nothing; returns its wall time in seconds."""
  command = [sys.executable, os.path.join(ROOT, 'experiments',
                                          'deep_vs_shallow.py'),
             f'--workdir={workdir}']
  if config_arg:
    command.append(f'--config={config_arg}')
  return run_cold(command, 'the job', fresh_data=True)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--workdir', default=None,
                      help='where the job writes (default: a new temporary '
                      'folder); must not hold a run unless --reuse')
  parser.add_argument('--config', default=None,
                      help='the launcher\'s --config (default: the default)')
  parser.add_argument('--reuse', action='store_true',
                      help='read a finished workdir instead of running')
  a = parser.parse_args()
  if a.reuse and not a.workdir:
    parser.error('--reuse needs --workdir')
  workdir = a.workdir or os.path.join(
      tempfile.mkdtemp(prefix='bench_main_job_'), 'run')
  if not a.reuse and os.path.exists(os.path.join(workdir, 'results.json')):
    parser.error(f'{workdir} holds a finished run; pass --reuse or another '
                 '--workdir')
  wall = None if a.reuse else run_job(workdir, a.config)

  with open(os.path.join(workdir, 'results.json')) as f:
    results = json.load(f)
  flops, members = job_flops(workdir)
  devices = results['platform']['devices']

  # The peak with the job's own device count, measured in this process.
  sys.path.insert(0, ROOT)
  from deepvsshallow import runtime
  runtime.use_cpu_devices(devices)
  import jax
  from bench_population import matmul_peak_gflops
  peak = max(matmul_peak_gflops() for _ in range(3))  # The best of 3: the
  # peak of this shared host moves between runs, and a low one flatters.
  limit = flops / (peak * 1e9)
  wall = wall if wall is not None else results['runtime_s']
  print(f'{jax.devices()[0].device_kind} x {jax.local_device_count()}, '
        f'jax {jax.__version__}; float32 matmul peak {peak:.1f} GFLOP/s')
  print('| job | wall s | compile s (programs) | members | matmul GFLOP | '
        'FLOP limit s | wall / limit |')
  print('|---|---|---|---|---|---|---|')
  print(f'| deep_vs_shallow {a.config or "default"} | {wall:.0f} | '
        f'{results["compile"]["seconds"]:.0f} ({results["compile"]["count"]}) '
        f'| {members} | {flops / 1e9:,.0f} | {limit:.1f} | '
        f'{wall / limit:.1f} |')


if __name__ == '__main__':
  main()
