"""The speech-like generator: the class is a function of the formants alone
(a nearest-formant rule, on the latents and on the clean signals through
LPC), pitch and onset independent of the class (chi-square), the resonator
against its closed form, the pitch in the signal, and the TFDS builder."""

import math

import numpy as np
import pytest
import scipy.linalg
import scipy.signal
import scipy.stats

from deepvsshallow import data, syllables


@pytest.fixture(scope='module')
def clean():
  return syllables.generate(3000, seed=1, noise=False)


def test_peterson_barney_table_is_the_published_men_averages():
  # Peterson & Barney 1952, Table II, men: F1, F2, F3 (Hz) of heed, hid,
  # head, had, hod, hawed, hood, who'd, hud, heard.
  np.testing.assert_array_equal(syllables.FORMANTS_HZ, [
      [270, 2290, 3010], [390, 1990, 2550], [530, 1840, 2480],
      [660, 1720, 2410], [730, 1090, 2440], [570, 840, 2410],
      [440, 1020, 2240], [300, 870, 2240], [640, 1190, 2390],
      [490, 1350, 1690]])
  assert syllables.WORDS[0] == 'heed' and syllables.WORDS[-1] == 'heard'
  assert syllables.NUM_CLASSES == 10


def test_the_jitter_cannot_carry_a_vowel_to_another():
  # A vector in [-j, j]^3 minus its mean is longest at (j, j, -j):
  # j * sqrt(4/9 + 4/9 + 16/9) = j sqrt(8/3).
  corner = np.log(np.exp([syllables.JITTER] * 2 + [-syllables.JITTER]))
  assert math.isclose(np.linalg.norm(corner - corner.mean()),
                      syllables.MAX_JITTER_DISTANCE)
  # The closest two vowels in centred log-formant space, by hand: æ (had)
  # is nearly ɝ (heard) scaled by 1.35; they differ by
  # log(660/490, 1720/1350, 2410/1690) before centring.
  d = np.log([660 / 490, 1720 / 1350, 2410 / 1690])
  hand = np.linalg.norm(d - d.mean())
  assert math.isclose(syllables.MIN_PATTERN_DISTANCE, hand, rel_tol=1e-12)
  assert syllables.MIN_PATTERN_DISTANCE > 2 * syllables.MAX_JITTER_DISTANCE


def test_a_nearest_formant_rule_recovers_every_class_from_the_latents():
  d = syllables.generate(20000, seed=3, noise=False)
  assert (syllables.nearest_vowel(d['formants_hz']) == d['y']).all()
  # And the speaker scale really varies: raw formants alone overlap.
  raw = np.abs(np.log(d['formants_hz'])[:, None]
               - np.log(syllables.FORMANTS_HZ)[None]).sum(-1).argmin(-1)
  assert (raw != d['y']).mean() > 0.05


def _lpc_formants(x, order=10, sample_rate=syllables.SAMPLE_RATE):
  """An independent formant tracker: pre-emphasis, Hann window,
  autocorrelation LPC, the angles of the poles with bandwidth < 500 Hz."""
  x = np.append(x[0], x[1:] - 0.9 * x[:-1]) * np.hanning(len(x))
  r = np.correlate(x, x, 'full')[len(x) - 1:len(x) + order]
  a = scipy.linalg.solve_toeplitz(r[:-1], r[1:])
  poles = np.roots(np.r_[1.0, -a])
  poles = poles[poles.imag > 0]
  f = np.angle(poles) * sample_rate / (2 * np.pi)
  bandwidth = -np.log(np.abs(poles)) * sample_rate / np.pi
  f = np.sort(f[(bandwidth < 500) & (f > 150)])
  return np.r_[f, [4000.0] * 3][:3]


def test_a_nearest_formant_rule_classifies_the_clean_signals(clean):
  estimated = np.array([_lpc_formants(x[o:]) for x, o in
                        zip(clean['x'], clean['onset'])])
  right = syllables.nearest_vowel(estimated) == clean['y']
  # Perfect below 200 Hz of pitch; above, harmonics 200+ Hz apart pull
  # LPC's F1 estimate (a limit of the tracker, not of the signal).
  low = clean['f0_hz'] < 200
  assert right[low].all()
  assert right.mean() > 0.995
  rel = np.abs(estimated[low] / clean['formants_hz'][low] - 1)
  assert np.median(rel, 0).max() < 0.03


def test_pitch_and_onset_are_independent_of_the_class():
  d = syllables.generate(6000, seed=4, noise=False)
  def p_value(values):
    bins = np.quantile(values, [0.2, 0.4, 0.6, 0.8])
    table = np.zeros((10, 5))
    np.add.at(table, (d['y'], np.searchsorted(bins, values)), 1)
    return scipy.stats.chi2_contingency(table).pvalue
  for nuisance in (d['f0_hz'], d['onset'], d['speaker_scale'], d['phase'],
                   d['snr_db'], *d['bandwidths_hz'].T):
    assert p_value(nuisance) > 0.01
  # The test has power: F1 depends on the class.
  assert p_value(d['formants_hz'][:, 0]) < 1e-100


def test_the_resonator_peaks_at_its_frequency_with_its_bandwidth():
  b, a = syllables.resonator(1000.0, 100.0)
  f, h = scipy.signal.freqz(b, a, worN=2 ** 16, fs=syllables.SAMPLE_RATE)
  power = np.abs(h) ** 2
  assert math.isclose(abs(h[0]), 1.0, rel_tol=1e-9)   # Gain 1 at 0 Hz.
  assert abs(f[power.argmax()] - 1000.0) < 3.0
  above = f[power >= power.max() / 2]                 # -3 dB band.
  assert abs((above.max() - above.min()) - 100.0) < 5.0


def test_the_signal_is_silent_before_its_onset_and_voiced_at_its_pitch(
    clean):
  for i in range(40):
    x, onset, f0 = clean['x'][i], clean['onset'][i], clean['f0_hz'][i]
    assert not x[:onset].any()
    voiced = x[onset + 160:]                          # After the attack.
    r = np.correlate(voiced, voiced, 'full')[len(voiced) - 1:]
    lo, hi = int(syllables.SAMPLE_RATE / 260), int(syllables.SAMPLE_RATE / 75)
    # The first lag whose autocorrelation is within 10% of the highest (a
    # multiple of the period scores as high as the period itself).
    period = lo + np.flatnonzero(r[lo:hi] >= 0.9 * r[lo:hi].max())[0]
    period = period - 1 + np.argmax(r[period - 1:period + 2])
    # Pulses fall on whole samples (spacings alternate between the two
    # integers around the period): right to within 1.5 samples.
    assert abs(period - syllables.SAMPLE_RATE / f0) <= 1.5
    assert np.abs(x).max() == pytest.approx(1.0)


def test_noise_is_added_at_the_drawn_snr():
  n = 200
  noisy = syllables.generate(n, seed=5)
  clean = syllables.generate(n, seed=5, noise=False)
  for i in range(n):
    o = clean['onset'][i]
    # Undo each signal's peak scaling with a least-squares fit on the
    # voiced part, then measure the residual noise.
    x, s = noisy['x'][i].astype(np.float64), clean['x'][i].astype(np.float64)
    scale = np.dot(x[o:], s[o:]) / np.dot(s[o:], s[o:])
    noise = x - scale * s
    snr = 10 * np.log10(np.mean((scale * s[o:]) ** 2) / np.mean(noise ** 2))
    # 1,600 samples of white noise: its measured power is within ~10%.
    assert abs(snr - noisy['snr_db'][i]) < 1.0


def test_generation_is_deterministic_in_the_seed():
  a, b = syllables.generate(50, seed=9), syllables.generate(50, seed=9)
  np.testing.assert_array_equal(a['x'], b['x'])
  assert not np.array_equal(a['x'], syllables.generate(50, seed=10)['x'])


def test_the_tfds_dataset_holds_the_generator_splits(tmp_path):
  ds = data.load_dataset('syllables', data_dir=str(tmp_path),
                         generator={'num_samples': 200, 'seed': 2})
  made = syllables.generate(200, seed=2)
  n = syllables.num_train(200)
  assert data.DATASETS['syllables'].train_size_for(
      {'num_samples': 200}) == n == 160
  train_idx, val_idx = data.carve_validation(n, 0.15, 0)
  np.testing.assert_array_equal(ds.train.inputs.reshape(-1, 1600),
                                made['x'][:n][train_idx])
  np.testing.assert_array_equal(ds.validation.targets, made['y'][:n][val_idx])
  test = ds.test()
  np.testing.assert_array_equal(test.inputs.reshape(40, -1), made['x'][n:])
  np.testing.assert_array_equal(test.targets, made['y'][n:])
