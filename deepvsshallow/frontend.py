"""A hand-crafted speech front end (MFCCs) in pure `jax.numpy`.

The classic pipeline of a speech recogniser (Davis & Mermelstein, 1980,
"Comparison of parametric representations for monosyllabic word recognition
in continuously spoken sentences", IEEE Trans. ASSP 28(4)):

  signals_NL -> frame -> frames_NTF -> Hann window -> |rfft|^2 -> power_NTK
    -> triangular filter bank -> energy_NTM -> log -> DCT-II -> mfcc_NTC

It is the "hand-crafted" side of the end-to-end vs hand-crafted study, run on
MNIST-1D signals (length 40, no sample rate: a linear filter bank) and on
spoken digits (8 kHz audio: a mel filter bank).

Conventions:
  * Shape suffixes: N examples (any leading axes work), L signal samples,
    T frames, F samples per frame (`frame_length`), K = F // 2 + 1 frequency
    bins (bin k is frequency k / F cycles per sample, k * sample_rate / F Hz),
    M filters, C coefficients, P = M + 2 filter edge points.
  * Framing has no padding: T = 1 + (L - F) // hop; samples after the last
    whole frame are dropped.
  * The window is the *periodic* Hann window, 0.5 - 0.5 cos(2 pi n / F),
    n = 0..F-1 (`scipy.signal.get_window('hann', F)`, the DFT-even one used
    for spectral analysis; `numpy.hanning(F + 1)[:-1]`).
  * The spectrum is the DFT *power* |rfft(frame * window)|^2, not the
    magnitude, and is not divided by F.
  * Filters are triangles, linear in frequency, with weight 1 at their centre
    and 0 at their two edges; filter m has edges P[m], P[m + 2] and centre
    P[m + 1]. The P = M + 2 edge points are equally spaced in DFT bins from
    bin 0 to bin K - 1 when there is no sample rate (linear bank), else
    equally spaced on the HTK mel scale, mel(f) = 2595 log10(1 + f / 700),
    from `low_hz` to `high_hz` (default the Nyquist frequency). Filters are
    not area-normalised. Every filter must weigh some bin: too many filters
    for the frame is a UsageError.
  * Log energies are log(energy + log_floor) (natural log, log_floor = 1e-6
    by default), so silence gives log(log_floor), not -inf.
  * The DCT is the orthonormal DCT-II along the filter axis, truncated to the
    first C coefficients: `scipy.fft.dct(x, type=2, norm='ortho')[..., :C]`.
    Coefficient 0 (the overall log level) is kept; no liftering, no deltas.
  * Everything is float32. The filter-bank and DCT matmuls run at HIGHEST
    precision (GPUs would otherwise use TF32 for float32 matmuls).

Typical settings: MNIST-1D (L = 40) `FrontEnd(frame_length=16, hop=4,
num_filters=8, num_coeffs=6)` gives (T, C) = (7, 6); spoken digits at 8 kHz
cropped to 8000 samples, `FrontEnd(frame_length=256, hop=128, num_filters=26,
num_coeffs=13, sample_rate=8000)` gives (61, 13).

Bad settings raise `UsageError` with one line that says what to change, before
any computation; `mfcc` is pure and jittable with its settings static.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from deepvsshallow.errors import UsageError

_HIGHEST = jax.lax.Precision.HIGHEST
# Filter weights below this (float rounding where an edge falls on a bin)
# are set to 0.
_WEIGHT_EPS = 1e-9


# ------------------------------------------------------------------ checks


def _is_int(value) -> bool:
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
  return (isinstance(value, numbers.Real) and not isinstance(value, bool)
          and math.isfinite(value))


def _int_problem(name: str, value, at_least: int) -> str | None:
  if not _is_int(value) or value < at_least:
    return f'{name} must be an integer >= {at_least}, got {value!r}.'
  return None


def _raise_first(*problems: str | None) -> None:
  for problem in problems:
    if problem is not None:
      raise UsageError(problem)


def _band_problem(sample_rate, low_hz, high_hz) -> str | None:
  """What is wrong with a filter bank's frequency band, if anything."""
  if sample_rate is None:
    if low_hz != 0.0 or high_hz is not None:
      return (f'low_hz={low_hz!r} and high_hz={high_hz!r} need a sample_rate; '
              'set sample_rate or leave low_hz=0.0 and high_hz=None.')
    return None
  if not _is_real(sample_rate) or sample_rate <= 0:
    return (f'sample_rate must be a positive number of Hz (or None for a '
            f'linear bank), got {sample_rate!r}.')
  nyquist = sample_rate / 2
  if not _is_real(low_hz) or low_hz < 0:
    return f'low_hz must be a number >= 0, got {low_hz!r}.'
  high = nyquist if high_hz is None else high_hz
  if not _is_real(high) or not low_hz < high <= nyquist * (1 + 1e-12):
    return (f'need low_hz < high_hz <= sample_rate / 2 = {nyquist:g}, got '
            f'low_hz={low_hz!r}, high_hz={high_hz!r}.')
  return None


# ----------------------------------------------------------------- framing


def frame(signals_NL, frame_length: int, hop: int) -> jax.Array:
  """Overlapping frames of the last axis, without padding.

  Args:
    signals_NL: signals, shape (..., L).
    frame_length: F, samples per frame, 2 <= F <= L.
    hop: samples between the starts of consecutive frames, >= 1.

  Returns:
    frames_NTF, shape (..., T, F) with T = 1 + (L - F) // hop; frame t holds
    samples t * hop .. t * hop + F - 1.
  """
  signals_NL = jnp.asarray(signals_NL)
  _raise_first(_int_problem('frame_length', frame_length, 2),
               _int_problem('hop', hop, 1))
  if signals_NL.ndim < 1:
    raise UsageError('frame() needs signals with a last (time) axis, got a '
                     'scalar.')
  length = signals_NL.shape[-1]
  if frame_length > length:
    raise UsageError(f'frame_length={frame_length} is longer than the signals '
                     f'(L={length}); use frame_length <= {length}.')
  return _frame(signals_NL, frame_length, hop)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _frame(signals_NL: jax.Array, frame_length: int, hop: int) -> jax.Array:
  num_frames = 1 + (signals_NL.shape[-1] - frame_length) // hop
  index_TF = (hop * np.arange(num_frames)[:, None]
              + np.arange(frame_length)[None, :])
  return signals_NL[..., index_TF]


def hann(frame_length: int) -> np.ndarray:
  """The periodic Hann window 0.5 - 0.5 cos(2 pi n / F), n = 0..F-1.

  Periodic (DFT-even), as `scipy.signal.get_window('hann', F)`; equal to
  `numpy.hanning(F + 1)[:-1]`. Returns window_F, float32 numpy (a constant).
  """
  _raise_first(_int_problem('frame_length', frame_length, 2))
  n_F = np.arange(frame_length)
  window_F = 0.5 - 0.5 * np.cos(2 * np.pi * n_F / frame_length)
  return window_F.astype(np.float32)


def power_spectrum(frames_NTF, window_F) -> jax.Array:
  """DFT power |rfft(frames * window)|^2 along the last axis.

  Args:
    frames_NTF: frames, shape (..., F).
    window_F: the window, shape (F,).

  Returns:
    power_NTK, shape (..., K) with K = F // 2 + 1, real; not divided by F.
  """
  frames_NTF = jnp.asarray(frames_NTF)
  window_F = jnp.asarray(window_F)
  if window_F.shape != frames_NTF.shape[-1:]:
    raise UsageError(f'window of shape {window_F.shape} does not match frames '
                     f'of length {frames_NTF.shape[-1:]}; use a window of the '
                     'frame length.')
  return _power_spectrum(frames_NTF, window_F)


@jax.jit
def _power_spectrum(frames_NTF: jax.Array, window_F: jax.Array) -> jax.Array:
  spectrum_NTK = jnp.fft.rfft(frames_NTF * window_F, axis=-1)
  return jnp.square(spectrum_NTK.real) + jnp.square(spectrum_NTK.imag)


# ------------------------------------------------------------- filter bank


def _hz_to_mel(hz):
  return 2595.0 * np.log10(1.0 + np.asarray(hz, np.float64) / 700.0)


def _mel_to_hz(mel):
  return 700.0 * (10.0 ** (np.asarray(mel, np.float64) / 2595.0) - 1.0)


def _edges(num_filters: int, frame_length: int, sample_rate, low_hz,
           high_hz) -> np.ndarray:
  """The M + 2 filter edge points, in (fractional) DFT bins, float64."""
  if sample_rate is None:
    return np.linspace(0.0, frame_length // 2, num_filters + 2)
  high_hz = sample_rate / 2 if high_hz is None else high_hz
  mel_P = np.linspace(_hz_to_mel(low_hz), _hz_to_mel(high_hz),
                      num_filters + 2)
  return _mel_to_hz(mel_P) * frame_length / sample_rate


def _triangles(edges_P: np.ndarray, num_bins: int) -> np.ndarray:
  """Triangular weights fb_KM (float64) for the given edge points."""
  low_M, centre_M, high_M = edges_P[:-2], edges_P[1:-1], edges_P[2:]
  bin_K1 = np.arange(num_bins, dtype=np.float64)[:, None]
  rising_KM = (bin_K1 - low_M) / (centre_M - low_M)
  falling_KM = (high_M - bin_K1) / (high_M - centre_M)
  fb_KM = np.clip(np.minimum(rising_KM, falling_KM), 0.0, 1.0)
  fb_KM[fb_KM < _WEIGHT_EPS] = 0.0
  return fb_KM


@functools.lru_cache(maxsize=64)
def _filter_bank(num_filters, frame_length, sample_rate, low_hz, high_hz):
  _raise_first(_int_problem('num_filters', num_filters, 1),
               _int_problem('frame_length', frame_length, 2),
               _band_problem(sample_rate, low_hz, high_hz))
  num_bins = frame_length // 2 + 1

  def empty(m: int) -> np.ndarray:
    fb_KM = _triangles(
        _edges(m, frame_length, sample_rate, low_hz, high_hz), num_bins)
    return np.flatnonzero(fb_KM.max(axis=0) == 0)

  fb_KM = _triangles(
      _edges(num_filters, frame_length, sample_rate, low_hz, high_hz),
      num_bins)
  empty_M = np.flatnonzero(fb_KM.max(axis=0) == 0)
  if empty_M.size:
    fits = next((m for m in range(min(num_filters - 1, 2 * num_bins), 0, -1)
                 if not empty(m).size), 0)
    advice = (f'use num_filters <= {fits} or a longer frame_length'
              if fits else 'use a longer frame_length or a wider band')
    raise UsageError(
        f'num_filters={num_filters} is too many for frame_length='
        f'{frame_length} ({num_bins} DFT bins): filter {empty_M[0]} covers '
        f'no bin; {advice}.')
  fb_KM = fb_KM.astype(np.float32)
  fb_KM.setflags(write=False)
  return fb_KM


def filter_bank(num_filters: int, frame_length: int, *,
                sample_rate: float | None = None, low_hz: float = 0.0,
                high_hz: float | None = None) -> np.ndarray:
  """Triangular filters over the K = F // 2 + 1 bins of an F-point rfft.

  Args:
    num_filters: M, the number of filters.
    frame_length: F, the DFT length.
    sample_rate: None for a linear bank (edges equally spaced in bins from 0
      to K - 1, for signals without a sample rate); else Hz, for a mel bank.
    low_hz: the mel bank's lowest edge.
    high_hz: the mel bank's highest edge; None for sample_rate / 2.

  Returns:
    fb_KM, float32 numpy: fb[k, m] is filter m's weight on bin k; 1 at the
    filter's centre, falling linearly (in frequency) to 0 at its edges.

  Raises:
    UsageError: bad settings, or a filter that would weigh no bin.
  """
  return _filter_bank(num_filters, frame_length, sample_rate, low_hz,
                      high_hz).copy()


# --------------------------------------------------------------------- DCT


@functools.lru_cache(maxsize=64)
def _dct_matrix(num_inputs: int, num_coeffs: int) -> np.ndarray:
  """dct_MC: x_M @ dct_MC is the orthonormal DCT-II, first C coefficients."""
  m_M1 = np.arange(num_inputs, dtype=np.float64)[:, None]
  c_1C = np.arange(num_coeffs, dtype=np.float64)[None, :]
  dct_MC = np.sqrt(2.0 / num_inputs) * np.cos(
      np.pi * c_1C * (2 * m_M1 + 1) / (2 * num_inputs))
  dct_MC[:, 0] /= np.sqrt(2.0)
  dct_MC = dct_MC.astype(np.float32)
  dct_MC.setflags(write=False)
  return dct_MC


def dct_ii(x_NTM, num_coeffs: int) -> jax.Array:
  """Orthonormal DCT-II along the last axis, first `num_coeffs` kept.

  Equal to `scipy.fft.dct(x, type=2, norm='ortho')[..., :num_coeffs]`, as a
  matmul with a DCT matrix (float32, HIGHEST precision).

  Args:
    x_NTM: inputs, shape (..., M).
    num_coeffs: C, 1 <= C <= M.

  Returns:
    shape (..., C).
  """
  x_NTM = jnp.asarray(x_NTM)
  num_inputs = x_NTM.shape[-1] if x_NTM.ndim else 0
  _raise_first(_int_problem('num_coeffs', num_coeffs, 1))
  if num_coeffs > num_inputs:
    raise UsageError(f'num_coeffs={num_coeffs} is more than the {num_inputs} '
                     f'inputs of the DCT; use num_coeffs <= {num_inputs}.')
  return _dct_ii(x_NTM, num_coeffs)


@functools.partial(jax.jit, static_argnums=1)
def _dct_ii(x_NTM: jax.Array, num_coeffs: int) -> jax.Array:
  dct_MC = _dct_matrix(x_NTM.shape[-1], num_coeffs)
  return jnp.matmul(x_NTM, dct_MC.astype(x_NTM.dtype), precision=_HIGHEST)


# --------------------------------------------------------------- front end


@dataclasses.dataclass(frozen=True)
class FrontEnd:
  """MFCC settings; calling it maps signals_NL to features_NTC (float32).

  Hashable, so a FrontEnd can be a static argument of `jax.jit`. Bad settings
  raise a one-line UsageError when it is built (see `problems`); a signal too
  short for one frame raises when it is called.

  Attributes:
    frame_length: F, samples per frame (>= 2).
    hop: samples between frame starts (>= 1).
    num_filters: M, triangular filters.
    num_coeffs: C <= M, DCT coefficients kept.
    sample_rate: None for a linear bank, else Hz for a mel bank.
    low_hz: the mel bank's lowest edge (mel bank only).
    high_hz: the mel bank's highest edge, None for Nyquist (mel bank only).
    log_floor: added to the filter-bank energies before the log (> 0).
  """

  frame_length: int
  hop: int
  num_filters: int
  num_coeffs: int
  sample_rate: float | None = None
  low_hz: float = 0.0
  high_hz: float | None = None
  log_floor: float = 1e-6

  def __post_init__(self):
    self.check()

  def problems(self, signal_length: int | None = None) -> list[str]:
    """One line per problem with these settings (and this signal length)."""
    lines = [p for p in (
        _int_problem('frame_length', self.frame_length, 2),
        _int_problem('hop', self.hop, 1),
        _int_problem('num_filters', self.num_filters, 1),
        _int_problem('num_coeffs', self.num_coeffs, 1),
        _band_problem(self.sample_rate, self.low_hz, self.high_hz),
    ) if p is not None]
    if not _is_real(self.log_floor) or self.log_floor <= 0:
      lines.append(f'log_floor must be a number > 0, got {self.log_floor!r}.')
    if lines:
      return lines
    if self.num_coeffs > self.num_filters:
      lines.append(f'num_coeffs={self.num_coeffs} is more than num_filters='
                   f'{self.num_filters}; use num_coeffs <= num_filters.')
    try:
      self.filters()
    except UsageError as e:
      lines.append(str(e))
    if signal_length is not None and self.frame_length > signal_length:
      lines.append(f'frame_length={self.frame_length} is longer than the '
                   f'signals (L={signal_length}); use frame_length <= '
                   f'{signal_length}.')
    return lines

  def check(self, signal_length: int | None = None) -> None:
    """Raises UsageError, one line, if `problems` finds any."""
    lines = self.problems(signal_length)
    if lines:
      raise UsageError(' '.join(lines))

  def filters(self) -> np.ndarray:
    """The filter bank fb_KM (float32 numpy)."""
    return _filter_bank(self.num_filters, self.frame_length,
                        self.sample_rate, self.low_hz, self.high_hz)

  def output_shape(self, signal_length: int) -> tuple[int, int]:
    """(T, C) for signals of length L."""
    self.check(signal_length)
    return (1 + (signal_length - self.frame_length) // self.hop,
            self.num_coeffs)

  def __call__(self, signals_NL) -> jax.Array:
    """features_NTC, float32, for signals of shape (..., L)."""
    signals_NL = jnp.asarray(signals_NL, jnp.float32)
    if signals_NL.ndim < 1:
      raise UsageError('FrontEnd needs signals with a last (time) axis, got '
                       'a scalar.')
    self.check(signals_NL.shape[-1])
    return _features(signals_NL, hann(self.frame_length), self.filters(),
                     _dct_matrix(self.num_filters, self.num_coeffs),
                     np.float32(self.log_floor), self.frame_length, self.hop)


@functools.partial(jax.jit, static_argnums=(5, 6))
def _features(signals_NL: jax.Array, window_F: jax.Array, fb_KM: jax.Array,
              dct_MC: jax.Array, log_floor: jax.Array, frame_length: int,
              hop: int) -> jax.Array:
  """FrontEnd.__call__ after its checks. The constants are arguments, so
  settings of the same shapes share one compiled program."""
  frames_NTF = _frame(signals_NL, frame_length, hop)
  power_NTK = _power_spectrum(frames_NTF, window_F)
  energy_NTM = jnp.matmul(power_NTK, fb_KM, precision=_HIGHEST)
  log_NTM = jnp.log(energy_NTM + log_floor)
  return jnp.matmul(log_NTM, dct_MC, precision=_HIGHEST)


def mfcc(signals_NL, *, frame_length: int, hop: int, num_filters: int,
         num_coeffs: int, sample_rate: float | None = None,
         log_floor: float = 1e-6, low_hz: float = 0.0,
         high_hz: float | None = None) -> jax.Array:
  """MFCCs of signals_NL, shape (..., L) -> features_NTC, float32.

  Pure; jittable with every argument but `signals_NL` static, e.g.
  `jax.jit(mfcc, static_argnames=('frame_length', 'hop', ...))`. See the
  module docstring for the conventions and `FrontEnd` for the arguments.
  """
  return FrontEnd(frame_length=frame_length, hop=hop,
                  num_filters=num_filters, num_coeffs=num_coeffs,
                  sample_rate=sample_rate, low_hz=low_hz, high_hz=high_hz,
                  log_floor=log_floor)(signals_NL)
