"""Several processes, one population: jax.distributed on 127.0.0.1.

Two launcher processes with two virtual CPU devices each train a sweep
together (the population axis over all 4 devices); the result must equal,
bitwise, the same sweep trained by one process with 4 devices (each device
trains the same members either way; on 1 device the members are batched
differently, which agrees to float rounding)."""

import json
import os
import re
import socket
import subprocess

import pytest

from conftest import ROOT, assert_same_sweep, sweep_command, xla_flags
from deepvsshallow import cli
from deepvsshallow.errors import UsageError


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_of_two_devices_equal_one_process(tmp_path,
                                                        four_devices):
  workdir = tmp_path / 'run'
  address = f'127.0.0.1:{_free_port()}'
  procs = [subprocess.Popen(
      sweep_command(workdir, f'--coordinator_address={address}',
                    '--num_processes=2', f'--process_id={i}'),
      cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
      env=dict(os.environ,
               XLA_FLAGS=xla_flags(2)))
      for i in range(2)]
  outs = [p.communicate(timeout=300) for p in procs]
  assert [p.returncode for p in procs] == [0, 0], [e[-3000:] for _, e in outs]
  platform = json.loads((workdir / 'results.json').read_text())['platform']
  assert (platform['devices'], platform['processes']) == (4, 2)
  assert_same_sweep(workdir, four_devices)
  # Process 0 printed and wrote for both; process 1 said nothing (gloo, the
  # CPU collectives library, greets on stdout, from threads whose writes
  # can interleave mid-line: its words are removed wherever they fall).
  assert 'of 2 processes' in outs[0][0] and 'Wrote' in outs[0][0]
  gloo = re.compile(r'\[Gloo\]|Rank \d+|is connected to \d+ peer ranks\. '
                    r'Expected number of connected peer ranks is : \d+')
  assert not gloo.sub('', outs[1][0]).strip(), outs[1][0]
  assert sorted(os.listdir(workdir)) == sorted(os.listdir(four_devices))


@pytest.mark.slow
def test_four_devices_agree_with_one_to_float_rounding(tmp_path, four_devices):
  """The reference above against this process (one device, members
  batched together): a bug common to every sharded run shows here."""
  import numpy as np
  from deepvsshallow.studies import deep_vs_shallow
  config = deep_vs_shallow.STUDY.get_config('digits,runlocal')
  config.update(depths=(1,), budgets=(), linear_baseline=False, mimic=False)
  deep_vs_shallow.train_and_evaluate(config, str(tmp_path))
  with np.load(tmp_path / 'populations' / '0000.npz') as a, np.load(
      four_devices / 'populations' / '0000.npz') as b:
    assert a.files == b.files
    for name in set(a.files) - {'__records__'}:
      if a[name].dtype.kind == 'f':
        np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-6,
                                   err_msg=name)
      else:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.parametrize('args,message', [
    (('127.0.0.1:1234', None, 0), 'go together; pass all three'),
    (('127.0.0.1:1234', 2, 2), '--process_id=2 is outside [0, '
     '--num_processes=2)'),
])
def test_bad_process_flags_are_usage_errors(args, message):
  with pytest.raises(UsageError) as e:
    cli.start_processes(False, *args)
  assert message in str(e.value) and '\n' not in str(e.value)


def test_without_process_flags_nothing_starts(monkeypatch):
  import jax
  monkeypatch.setattr(jax.distributed, 'initialize', lambda *a: 1 / 0)
  cli.start_processes(False, None, None, None)   # A single process.
