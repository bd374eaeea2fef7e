r"""The main job's default against its FLOP limit on this machine.

  python bench/bench_main_job.py                    # the default, cold
  python bench/bench_main_job.py --config=:runlocal # a quick check of the bench
  python bench/bench_main_job.py --workdir=runs/deep_vs_shallow --reuse
  python bench/bench_main_job.py --floor           # and its matmuls alone (+2 min)

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
    goal is a ratio of at most 2;
  * when it ran the job, the CPU seconds the job spent (user + system, all
    threads) against the cores' seconds at the goal (2 x limit x cores).
With --floor, also the matmuls alone at the job's own shapes: each
population as it trained (its net, its member count, vmapped or in turn as
its trials say, padded to the device count as the engine pads it), the
training matmuls timed as bench_mnist1d.py's ceiling times them
(`bare_matmuls`: nothing else in the program; its rate counts the real
members, the padding runs uncounted, as in the limit) and the
validation and test matmuls counted at the peak. A run that trains each
population this way (its member count, padding and placement, one
population at a time) cannot be faster than that floor on this machine,
before any elementwise work, compiling or initialisation.
"""

import argparse
import collections
import json
import os
import sys
import tempfile

from cold import ROOT, run_cold_timed


def hidden_of(architecture: str) -> list[int]:
  """'3x128' -> [128, 128, 128]; 'logistic' -> []."""
  if architecture == 'logistic':
    return []
  depth, width = architecture.split('x')
  return [int(width)] * int(depth)


def trial_flops(t: dict, sizes: dict, batch: int) -> tuple[float, float]:
  """One member's matmul FLOPs: its training steps', and its validation
  (every epoch) and test passes'."""
  dims = [sizes['input_dim'], *hidden_of(t['architecture']),
          sizes['num_classes']]
  weights = sum(a * b for a, b in zip(dims[:-1], dims[1:]))
  epochs = t['metrics'].get('epochs_run', 0)
  steps = sizes['train'] // batch * epochs
  return (2 * batch * steps * (3 * weights - dims[0] * dims[1]),
          2 * weights * (sizes['validation'] * epochs + sizes['test']))


def read_job(workdir: str) -> tuple[dict, list[dict]]:
  with open(os.path.join(workdir, 'results.json')) as f:
    results = json.load(f)
  with open(os.path.join(workdir, 'trials.jsonl')) as f:
    return results, [json.loads(line) for line in f]


def job_flops(workdir: str) -> tuple[float, int]:
  """The matmul FLOPs of every member the job trained, and the member count."""
  results, trials = read_job(workdir)
  batch = results['config']['batch_size']
  return (sum(sum(trial_flops(t, results['dataset'], batch)) for t in trials),
          len(trials))


def populations(results: dict, trials: list[dict]) -> list[dict]:
  """The populations the job trained, from its trials: a net's first
  population holds its grid (config.learning_rates x seeds); each grid
  extension, one more rate's seeds (runner's bracketing). Each with its
  architecture, how its members ran, their count and their FLOPs."""
  sizes, batch = results['dataset'], results['config']['batch_size']
  grid = set(results['config']['learning_rates'])
  pops = collections.OrderedDict()
  for t in trials:
    lr = t['learning_rate']
    key = (t['name'], None if lr in grid else lr)
    p = pops.setdefault(key, {'architecture': t['architecture'],
                              'mode': t.get('members', 'vmap'), 'members': 0,
                              'train_flops': 0.0, 'eval_flops': 0.0})
    train_f, eval_f = trial_flops(t, sizes, batch)
    p['members'] += 1
    p['train_flops'] += train_f
    p['eval_flops'] += eval_f
  return list(pops.values())


def matmul_floor(workdir: str, peak: float) -> tuple[float, list[str]]:
  """Seconds the job's matmuls take alone at its shapes, and a table row
  per (net, member count, mode)."""
  from bench_mnist1d import bare_matmuls
  results, trials = read_job(workdir)
  sizes = results['dataset']
  batch = results['config']['batch_size']
  groups = collections.OrderedDict()
  for p in populations(results, trials):
    g = groups.setdefault((p['architecture'], p['members'], p['mode']),
                          [0, 0.0, 0.0])
    g[0] += 1
    g[1] += p['train_flops']
    g[2] += p['eval_flops']
  total, rows = 0.0, []
  for (arch, members, mode), (count, train_f, eval_f) in groups.items():
    gflops = bare_matmuls(sizes['input_dim'], hidden_of(arch),
                          sizes['num_classes'], sizes['train'], batch,
                          members, 5, mode)
    seconds = train_f / gflops / 1e9 + eval_f / peak / 1e9
    total += seconds
    rows.append(f'| {arch} | {count} x {members} members, {mode} | '
                f'{gflops:.1f} ({gflops / peak:.2f}) | {seconds:.1f} | '
                f'{(train_f + eval_f) / peak / 1e9:.1f} |')
  return total, rows


def run_job(workdir: str, config_arg: str | None) -> tuple[float, float]:
  """The launcher from nothing; returns its wall and CPU seconds."""
  command = [sys.executable, os.path.join(ROOT, 'experiments',
                                          'deep_vs_shallow.py'),
             f'--workdir={workdir}']
  if config_arg:
    command.append(f'--config={config_arg}')
  return run_cold_timed(command, 'the job', fresh_data=True)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--workdir', default=None,
                      help='where the job writes (default: a new temporary '
                      'folder); must not hold a run unless --reuse')
  parser.add_argument('--config', default=None,
                      help='the launcher\'s --config (default: the default)')
  parser.add_argument('--reuse', action='store_true',
                      help='read a finished workdir instead of running')
  parser.add_argument('--floor', action='store_true',
                      help='also time the job\'s matmuls alone at its shapes')
  a = parser.parse_args()
  if a.reuse and not a.workdir:
    parser.error('--reuse needs --workdir')
  workdir = a.workdir or os.path.join(
      tempfile.mkdtemp(prefix='bench_main_job_'), 'run')
  if not a.reuse and os.path.exists(os.path.join(workdir, 'results.json')):
    parser.error(f'{workdir} holds a finished run; pass --reuse or another '
                 '--workdir')
  wall, cpu = (None, None) if a.reuse else run_job(workdir, a.config)

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
  cores = runtime.cores()
  if cpu is not None:
    print(f'The job used {cpu:.0f} CPU seconds ({cpu / wall:.2f} cores busy '
          f'on average); at the goal, {cores} cores x 2 x the limit = '
          f'{cores * 2 * limit:.0f}.')
  if a.floor:
    floor, rows = matmul_floor(workdir, peak)
    print()
    print('| net | populations | matmuls alone GFLOP/s (of peak) | floor s | '
          'limit s |')
    print('|---|---|---|---|---|')
    print('\n'.join(rows))
    print(f'The matmuls alone at the job\'s shapes: {floor:.1f} s, '
          f'{floor / limit:.2f}x the limit (the job: {wall / limit:.2f}x), '
          'before its elementwise work, initialisation and compiling '
          f'({results["compile"]["seconds"]:.0f} s of compile-thread time, '
          'partly overlapped with training).')


if __name__ == '__main__':
  main()
