"""Tests for deepvsshallow.frontend against independent numpy/scipy references.

The references are written plainly, in float64, with loops where that makes
them obviously right: they never call the code under test.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.fft

from deepvsshallow import frontend
from deepvsshallow.errors import UsageError

LINEAR = dict(frame_length=16, hop=4, num_filters=8, num_coeffs=6)
MEL = dict(frame_length=256, hop=128, num_filters=26, num_coeffs=13,
           sample_rate=8000)


# ----------------------------------------------------------------------------
# Independent float64 references.
# ----------------------------------------------------------------------------


def ref_frames(signals, frame_length, hop):
  n, length = signals.shape
  out = []
  for i in range(n):
    rows = []
    start = 0
    while start + frame_length <= length:
      rows.append([signals[i, start + j] for j in range(frame_length)])
      start += hop
    out.append(rows)
  return np.array(out, dtype=np.float64)


def ref_periodic_hann(frame_length):
  """scipy.signal.get_window('hann', F), without importing scipy.signal
  (0.6 s): the symmetric window of F + 1 points without its last."""
  return np.hanning(frame_length + 1)[:-1]


def ref_mel(hz):
  return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)


def ref_mel_inverse(mel):
  return 700.0 * (10.0 ** (np.asarray(mel) / 2595.0) - 1.0)


def ref_triangle(x, low, centre, high):
  if low < x <= centre:
    return (x - low) / (centre - low)
  if centre < x < high:
    return (high - x) / (high - centre)
  return 0.0


def ref_filter_bank(num_filters, frame_length, sample_rate=None, low_hz=0.0,
                    high_hz=None):
  """Triangles in Hz (mel bank) or in bins (linear bank), one bin at a time."""
  num_bins = frame_length // 2 + 1
  if sample_rate is None:
    points = np.linspace(0.0, num_bins - 1, num_filters + 2)
    freqs = np.arange(num_bins, dtype=np.float64)
  else:
    high_hz = sample_rate / 2 if high_hz is None else high_hz
    points = ref_mel_inverse(
        np.linspace(ref_mel(low_hz), ref_mel(high_hz), num_filters + 2))
    freqs = np.arange(num_bins) * sample_rate / frame_length
  bank = np.zeros((num_bins, num_filters))
  for m in range(num_filters):
    for k in range(num_bins):
      bank[k, m] = ref_triangle(freqs[k], *points[m:m + 3])
  return bank


def ref_mfcc(signals, frame_length, hop, num_filters, num_coeffs,
             sample_rate=None, log_floor=1e-6, low_hz=0.0, high_hz=None):
  frames = ref_frames(np.asarray(signals, np.float64), frame_length, hop)
  window = ref_periodic_hann(frame_length)
  power = np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2
  energy = power @ ref_filter_bank(num_filters, frame_length, sample_rate,
                                   low_hz, high_hz)
  return scipy.fft.dct(np.log(energy + log_floor), type=2, norm='ortho',
                       axis=-1)[..., :num_coeffs]


def one_line_usage_error(fn, *args, **kwargs) -> str:
  with pytest.raises(UsageError) as e:
    fn(*args, **kwargs)
  message = str(e.value)
  assert message and '\n' not in message, message
  return message


# ----------------------------------------------------------------------------
# The stages.
# ----------------------------------------------------------------------------


@pytest.mark.parametrize('length,frame_length,hop',
                         [(40, 16, 4), (41, 16, 4), (40, 40, 3), (23, 5, 7)])
def test_frame_matches_loop_framing(length, frame_length, hop):
  signals = np.random.default_rng(0).normal(size=(3, length)).astype(
      np.float32)
  frames = np.asarray(frontend.frame(signals, frame_length, hop))
  expected = ref_frames(signals, frame_length, hop)
  assert frames.shape == (3, 1 + (length - frame_length) // hop, frame_length)
  np.testing.assert_array_equal(frames, expected)


@pytest.mark.parametrize('frame_length', [2, 15, 16, 256])
def test_hann_is_the_periodic_window(frame_length):
  window = frontend.hann(frame_length)
  assert window.shape == (frame_length,)
  np.testing.assert_allclose(window, ref_periodic_hann(frame_length),
                             atol=1e-7)
  # Periodic: zero at n = 0, one at n = F / 2, symmetric about F / 2.
  assert window[0] == 0
  np.testing.assert_allclose(window[1:], window[1:][::-1], atol=1e-7)
  if frame_length % 2 == 0:
    assert window[frame_length // 2] == pytest.approx(1.0)


@pytest.mark.parametrize('frame_length', [15, 16])
def test_power_spectrum_matches_numpy_rfft(frame_length):
  rng = np.random.default_rng(1)
  frames = rng.normal(size=(2, 5, frame_length)).astype(np.float32)
  window = rng.uniform(size=frame_length).astype(np.float32)
  power = np.asarray(frontend.power_spectrum(frames, window))
  expected = np.abs(np.fft.rfft(frames.astype(np.float64) * window)) ** 2
  assert power.shape == (2, 5, frame_length // 2 + 1)
  np.testing.assert_allclose(power, expected, rtol=1e-4,
                             atol=1e-5 * expected.max())


@pytest.mark.parametrize('num_inputs,num_coeffs', [(8, 6), (26, 13), (5, 5)])
def test_dct_ii_matches_scipy(num_inputs, num_coeffs):
  x = np.random.default_rng(2).normal(size=(3, 4, num_inputs))
  got = np.asarray(frontend.dct_ii(x.astype(np.float32), num_coeffs))
  expected = scipy.fft.dct(x, type=2, norm='ortho', axis=-1)[..., :num_coeffs]
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------
# The filter bank.
# ----------------------------------------------------------------------------

BANKS = [
    dict(num_filters=8, frame_length=16),
    dict(num_filters=5, frame_length=40),
    dict(num_filters=7, frame_length=15),
    dict(num_filters=26, frame_length=256, sample_rate=8000),
    dict(num_filters=20, frame_length=200, sample_rate=8000, low_hz=300.0,
         high_hz=3400.0),
    dict(num_filters=40, frame_length=512, sample_rate=16000),
]


@pytest.mark.parametrize('settings', BANKS)
def test_filter_bank_matches_reference_triangles(settings):
  bank = frontend.filter_bank(**settings)
  expected = ref_filter_bank(**settings)
  assert bank.shape == (settings['frame_length'] // 2 + 1,
                        settings['num_filters'])
  np.testing.assert_allclose(bank, expected, atol=1e-6)
  assert (bank.max(axis=0) > 0).all()
  assert bank.max() <= 1.0 and bank.min() >= 0.0


@pytest.mark.parametrize('settings', BANKS)
def test_filters_peak_next_to_their_centres(settings):
  bank = frontend.filter_bank(**settings)
  centres = frontend._edges(settings['num_filters'],
                            settings['frame_length'],
                            settings.get('sample_rate'),
                            settings.get('low_hz', 0.0),
                            settings.get('high_hz'))[1:-1]
  peaks = bank.argmax(axis=0)
  assert (np.abs(peaks - centres) < 1).all(), (peaks, centres)


@pytest.mark.parametrize('num_filters,frame_length', [(7, 16), (9, 40)])
def test_filters_peak_at_one_on_their_centres(num_filters, frame_length):
  # (K - 1) / (M + 1) bins between centres is a whole number here: each
  # centre falls on a bin, where the weight must be exactly 1.
  bank = frontend.filter_bank(num_filters, frame_length)
  step = (frame_length // 2) // (num_filters + 1)
  for m in range(num_filters):
    centre = (m + 1) * step
    assert bank[centre, m] == pytest.approx(1.0, abs=1e-6)
    assert bank[centre - 1, m] == pytest.approx(1 - 1 / step, abs=1e-6)
    assert bank[centre + 1, m] == pytest.approx(1 - 1 / step, abs=1e-6)


def test_linear_centres_equally_spaced_in_bins():
  edges = frontend._edges(8, 16, None, 0.0, None)
  np.testing.assert_allclose(np.diff(edges), 8 / 9)
  assert edges[0] == 0 and edges[-1] == pytest.approx(8)


def test_mel_centres_equally_spaced_on_the_mel_scale():
  edges = frontend._edges(20, 200, 8000, 300.0, 3400.0)
  hz = edges * 8000 / 200
  mel = ref_mel(hz)
  assert (np.diff(hz) > 0).all()
  np.testing.assert_allclose(np.diff(mel), np.diff(mel)[0], rtol=1e-9)
  np.testing.assert_allclose(hz[[0, -1]], [300.0, 3400.0])
  # And the known value: mel(1000 Hz) = 1000 (to 0.1%).
  assert ref_mel(1000.0) == pytest.approx(1000.0, rel=1e-3)


@pytest.mark.parametrize('settings', [
    dict(num_filters=40, frame_length=16),
    dict(num_filters=200, frame_length=256, sample_rate=8000),
])
def test_too_many_filters_says_how_many_fit(settings):
  message = one_line_usage_error(frontend.filter_bank, **settings)
  fits = int(re.search(r'num_filters <= (\d+)', message).group(1))
  bank = frontend.filter_bank(**{**settings, 'num_filters': fits})
  assert (bank.max(axis=0) > 0).all()
  one_line_usage_error(frontend.filter_bank,
                       **{**settings, 'num_filters': fits + 1})


# ----------------------------------------------------------------------------
# The whole pipeline.
# ----------------------------------------------------------------------------


@pytest.mark.parametrize('settings,length,scale', [
    (LINEAR, 40, 1.0),
    (LINEAR, 40, 1e-3),  # Energies near log_floor: the floor matters.
    (MEL, 2000, 1.0),
    (dict(MEL, low_hz=300.0, high_hz=3400.0, log_floor=1e-3), 2000, 1.0),
])
def test_mfcc_matches_reference(settings, length, scale):
  signals = scale * np.random.default_rng(3).normal(size=(4, length))
  got = frontend.mfcc(signals.astype(np.float32), **settings)
  expected = ref_mfcc(signals, **settings)
  assert got.dtype == jnp.float32
  assert got.shape == expected.shape == (
      4, *frontend.FrontEnd(**settings).output_shape(length))
  np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-4, atol=2e-4)


def test_mfcc_jits_to_the_same_values():
  static = ('frame_length', 'hop', 'num_filters', 'num_coeffs',
            'sample_rate', 'log_floor')
  jitted = jax.jit(frontend.mfcc, static_argnames=static)
  signals = np.random.default_rng(4).normal(size=(4, 40)).astype(np.float32)
  np.testing.assert_allclose(np.asarray(jitted(signals, **LINEAR)),
                             np.asarray(frontend.mfcc(signals, **LINEAR)),
                             rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('settings,length,filters', [
    (dict(MEL, num_coeffs=26), 2000, (3, 12, 18, 22)),
    (dict(LINEAR, num_coeffs=8), 40, (2, 3, 4, 5)),
])
def test_tone_peaks_in_its_filter(settings, length, filters):
  # With every coefficient kept, the inverse DCT of the MFCCs gives back the
  # log filter-bank energies.
  sample_rate = settings.get('sample_rate')
  num_filters = settings['num_filters']
  if sample_rate:  # Centres from the mel formula, in cycles per sample.
    centres = ref_mel_inverse(
        np.arange(1, num_filters + 1) * ref_mel(sample_rate / 2)
        / (num_filters + 1)) / sample_rate
  else:  # Equally spaced from 0 to 1/2 cycle per sample.
    centres = np.arange(1, num_filters + 1) / (2 * (num_filters + 1))
  t = np.arange(length)
  tones = np.stack([np.cos(2 * np.pi * centres[m] * t + 0.3)
                    for m in filters]).astype(np.float32)
  features = np.asarray(frontend.mfcc(tones, **settings), np.float64)
  log_energies = scipy.fft.idct(features, type=2, norm='ortho', axis=-1)
  peaks = log_energies.argmax(axis=-1)
  np.testing.assert_array_equal(
      peaks, np.broadcast_to(np.array(filters)[:, None], peaks.shape))


# ----------------------------------------------------------------------------
# Bad settings.
# ----------------------------------------------------------------------------


@pytest.mark.parametrize('overrides,needle', [
    (dict(num_coeffs=9), 'num_coeffs <= num_filters'),
    (dict(num_coeffs=0), 'num_coeffs'),
    (dict(num_filters=40), 'num_filters <='),
    (dict(frame_length=1), 'frame_length'),
    (dict(frame_length=16.0), 'frame_length'),
    (dict(hop=0), 'hop'),
    (dict(hop=True), 'hop'),
    (dict(log_floor=0.0), 'log_floor'),
    (dict(sample_rate=-8000), 'sample_rate'),
    (dict(sample_rate=8000, high_hz=5000.0), 'high_hz'),
    (dict(sample_rate=8000, low_hz=3000.0, high_hz=2000.0), 'low_hz'),
    (dict(low_hz=100.0), 'sample_rate'),
])
def test_bad_settings_raise_one_line(overrides, needle):
  settings = {**LINEAR, **overrides}
  message = one_line_usage_error(frontend.FrontEnd, **settings)
  assert needle in message
  signals = np.zeros((1, 40), np.float32)
  assert one_line_usage_error(frontend.mfcc, signals, **settings) == message


def test_bad_inputs_raise_one_line():
  signals = np.zeros((2, 40), np.float32)
  assert 'frame_length <= 40' in one_line_usage_error(
      frontend.frame, signals, 41, 4)
  assert 'frame_length <= 10' in one_line_usage_error(
      frontend.mfcc, signals[:, :10], **LINEAR)
  assert 'frame_length <= 10' in one_line_usage_error(
      frontend.FrontEnd(**LINEAR).output_shape, 10)
  one_line_usage_error(frontend.frame, signals, 1, 4)
  one_line_usage_error(frontend.frame, signals, 16, 0)
  one_line_usage_error(frontend.hann, 1)
  one_line_usage_error(frontend.dct_ii, np.zeros((2, 8), np.float32), 9)
  one_line_usage_error(frontend.power_spectrum, np.zeros((2, 3, 16)),
                       np.ones(15))
