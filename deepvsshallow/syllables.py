"""Speech-like syllables from a source-filter model, generated locally.

A vowel, the nucleus of a syllable, is a glottal source shaped by the vocal
tract's resonances, the formants (Fant 1960). Each class is one of the ten
American English vowels of Peterson & Barney (1952), given by the men's
average first three formant frequencies
(`reference/peterson_barney1952_vowels.csv`). One example of L samples at
`SAMPLE_RATE` Hz draws, independently of each other:

  class c         uniform over the ten vowels;
  speaker scale   s, log-uniform in [0.85, 1.2]: all three formants times s
                  (a shorter vocal tract raises every formant alike; women's
                  are ~15% above men's);
  formant jitter  each formant also times exp(u), u uniform in [-0.02, 0.02];
  bandwidths      (80, 100, 150) Hz, each times exp(u), u in [-0.2, 0.2];
  pitch f0        log-uniform in [80, 250] Hz, whatever the class;
  onset           a sample uniform in [0, L // 4): silence before it, then a
                  20 ms raised-cosine attack, then the vowel to the end;
  phase           the first glottal pulse at onset + U[0, 1) periods;
  noise           white Gaussian, at an SNR uniform in [5, 20] dB of the
                  voiced part's mean power;

then the signal is scaled to peak amplitude 1 (float32).

Synthesis, after Klatt's (1980) cascade synthesiser: unit pulses every
1 / f0 s (each at the sample its time falls in) -> a glottal low-pass (two
poles at 0 Hz, bandwidth 100 Hz) -> three formant resonators in cascade ->
radiation (the first difference). A resonator of frequency F and bandwidth
B at sample rate S is

  y[n] = A x[n] + B1 y[n-1] + B2 y[n-2],
  B2 = -exp(-2 pi B / S),  B1 = 2 exp(-pi B / S) cos(2 pi F / S),
  A = 1 - B1 - B2          (gain 1 at 0 Hz).

The class is a function of the formants alone. In centred log-formant space
(log F1..F3 minus their mean, which removes the speaker scale) the closest
two vowels are `MIN_PATTERN_DISTANCE` = 0.0797 apart, while the jitter moves
a vowel at most 0.02 sqrt(8/3) = 0.0327 (`MAX_JITTER_DISTANCE`), so the
nearest vowel there is always the class (`nearest_vowel`). Pitch, onset,
phase, bandwidths and noise never see the class. MFCCs (a short-time
spectral envelope) are the right features here, which is the point: the
hand-crafted front end's home ground.

`generate(num_samples, seed)` returns the signals, labels and every latent
draw; the first 80% of examples are the train split, the rest test (as the
`mnist1d` package splits).
"""

from __future__ import annotations

import math

import numpy as np

from deepvsshallow import reference

# Raise when anything below changes the signals: the prepared TFDS copies
# are named by it (`data.syllables_config`).
GENERATOR_VERSION = 1
SAMPLE_RATE = 8000
LENGTH = 1600                      # 200 ms at 8 kHz.
SPEAKER_SCALE = (0.85, 1.2)
JITTER = 0.02                      # Log-uniform half-width per formant.
BANDWIDTHS_HZ = (80.0, 100.0, 150.0)
BANDWIDTH_JITTER = 0.2
PITCH_HZ = (80.0, 250.0)
ATTACK_S = 0.02
SNR_DB = (5.0, 20.0)
GLOTTAL_BANDWIDTH_HZ = 100.0
TRAIN_FRACTION = 0.8

_TABLE = reference.load_csv('peterson_barney1952_vowels.csv')
VOWELS = tuple(r['vowel'] for r in _TABLE)
WORDS = tuple(r['word'] for r in _TABLE)
FORMANTS_HZ = np.array([[float(r[f]) for f in ('f1', 'f2', 'f3')]
                        for r in _TABLE])          # (10, 3), men's averages.
NUM_CLASSES = len(VOWELS)


def _centred_log(formants_N3: np.ndarray) -> np.ndarray:
  logs = np.log(formants_N3)
  return logs - logs.mean(-1, keepdims=True)


def _pattern_distances() -> np.ndarray:
  p = _centred_log(FORMANTS_HZ)
  return np.linalg.norm(p[:, None] - p[None], axis=-1)


MIN_PATTERN_DISTANCE = float(
    _pattern_distances()[~np.eye(NUM_CLASSES, dtype=bool)].min())
MAX_JITTER_DISTANCE = JITTER * math.sqrt(8 / 3)


def nearest_vowel(formants_N3: np.ndarray) -> np.ndarray:
  """The vowel whose pattern is nearest in centred log-formant space (the
  speaker scale removed): the class, for every example `generate` makes."""
  d = np.linalg.norm(_centred_log(formants_N3)[:, None]
                     - _centred_log(FORMANTS_HZ)[None], axis=-1)
  return d.argmin(-1)


def resonator(frequency_hz: float, bandwidth_hz: float,
              sample_rate: float = SAMPLE_RATE
              ) -> tuple[np.ndarray, np.ndarray]:
  """(b, a) of Klatt's second-order resonator for `scipy.signal.lfilter`."""
  b2 = -math.exp(-2 * math.pi * bandwidth_hz / sample_rate)
  b1 = 2 * math.exp(-math.pi * bandwidth_hz / sample_rate) * math.cos(
      2 * math.pi * frequency_hz / sample_rate)
  return np.array([1 - b1 - b2]), np.array([1.0, -b1, -b2])


def synthesise(formants_hz, bandwidths_hz, f0_hz: float, onset: int,
               phase: float, length: int = LENGTH,
               sample_rate: float = SAMPLE_RATE) -> np.ndarray:
  """One clean (noise-free, unscaled) vowel: pulses -> glottal low-pass ->
  formant cascade -> radiation, silent before `onset`, with the attack."""
  period = sample_rate / f0_hz
  times = onset + phase * period + period * np.arange(
      int(length / period) + 2)
  source = np.zeros(length)
  np.add.at(source, times[times < length].astype(int), 1.0)
  # Imported here: scipy.signal takes about 0.6 s to import, and every
  # process imports this module (data.py names the dataset by its version).
  import scipy.signal
  s = scipy.signal.lfilter(*resonator(0.0, GLOTTAL_BANDWIDTH_HZ, sample_rate),
                           source)
  for f, b in zip(formants_hz, bandwidths_hz):
    s = scipy.signal.lfilter(*resonator(f, b, sample_rate), s)
  s = np.diff(s, prepend=0.0)
  ramp = np.clip((np.arange(length) - onset) / (ATTACK_S * sample_rate),
                 0.0, 1.0)
  return s * (0.5 - 0.5 * np.cos(np.pi * ramp))


def _log_uniform(rng, bounds, size):
  return np.exp(rng.uniform(np.log(bounds[0]), np.log(bounds[1]), size))


def generate(num_samples: int, seed: int, *, length: int = LENGTH,
             noise: bool = True) -> dict[str, np.ndarray]:
  """`num_samples` syllables: 'x' (N, length) float32 at peak 1, 'y' (N,)
  vowel indices, and the latents 'formants_hz' (N, 3), 'bandwidths_hz'
  (N, 3), 'speaker_scale', 'f0_hz', 'onset', 'phase', 'snr_db' (N,).
  `noise=False` leaves the noise out (the latents are drawn alike, so the
  clean signals are the noisy ones' voiced parts). Deterministic in `seed`
  (numpy's PCG64)."""
  rng = np.random.default_rng(seed)
  n = num_samples
  y = rng.integers(0, NUM_CLASSES, n)
  scale = _log_uniform(rng, SPEAKER_SCALE, n)
  formants = FORMANTS_HZ[y] * scale[:, None] * np.exp(
      rng.uniform(-JITTER, JITTER, (n, 3)))
  bandwidths = np.array(BANDWIDTHS_HZ) * np.exp(
      rng.uniform(-BANDWIDTH_JITTER, BANDWIDTH_JITTER, (n, 3)))
  f0 = _log_uniform(rng, PITCH_HZ, n)
  onset = rng.integers(0, length // 4, n)
  phase = rng.uniform(0.0, 1.0, n)
  snr_db = rng.uniform(*SNR_DB, n)
  white = rng.standard_normal((n, length))
  x = np.empty((n, length), np.float32)
  for i in range(n):
    s = synthesise(formants[i], bandwidths[i], f0[i], int(onset[i]),
                   phase[i], length)
    if noise:
      power = np.mean(s[onset[i]:] ** 2)
      s = s + white[i] * math.sqrt(power / 10 ** (snr_db[i] / 10))
    x[i] = s / np.max(np.abs(s))
  return dict(x=x, y=y, formants_hz=formants, bandwidths_hz=bandwidths,
              speaker_scale=scale, f0_hz=f0, onset=onset, phase=phase,
              snr_db=snr_db)


def num_train(num_samples: int) -> int:
  """Examples in the train split: the first 80%."""
  return int(num_samples * TRAIN_FRACTION)
