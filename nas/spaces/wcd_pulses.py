"""Simulator of water-Cherenkov detector (WCD) pulses, as digitized by a LAGO-style 8-bit ADC.

Physics (one event = one trace of ``n_samples`` ADC samples):

* The PMT sees Cherenkov photons; each class has its own time profile of photo-electron
  (PE) arrival. A sub-pulse with start ``t0``, rise time ``tau_r`` and decay time ``tau_d``
  (in samples) has the shape ``(1 - exp(-(t - t0)/tau_r)) * exp(-(t - t0)/tau_d)`` for
  ``t > t0``, normalized to a peak of 1; the expected signal is ``amplitude * shape`` in ADC
  counts.
* Photostatistics: the number of PE in a sample is Poisson with mean
  ``signal / counts_per_pe``; the PMT gain of each event is smeared (gamma distribution,
  relative spread ``gain_spread``).
* Electronics: a baseline of ``baseline`` counts with Gaussian noise ``baseline_noise``,
  rounding to integers, clipping at zero and at the front-end saturation level
  (``saturation`` counts, drawn per event, with a jitter of about one count on the plateau).

Classes (amplitudes are log-normal, so neighbouring classes overlap):

0. electromagnetic (electron/photon): small amplitude, fast rise, short decay;
1. muon: larger amplitude, slower rise, longer decay (a through-going track);
2. multi-particle: 2-3 overlapping EM-like sub-pulses with random delays;
3. saturated: amplitude beyond the ADC range, a clipped plateau and a long tail.

The default numbers were chosen to match the 20 public LAGO traces (values 0-229, plateau
224-229, baseline 0-2 counts, pulse start at samples 6-9) and to leave a task on which a float
MLP teacher reaches about 97-99 %. Everything is deterministic from the seed.
"""

from dataclasses import dataclass

import numpy as np

CLASS_NAMES = ("electromagnetic", "muon", "multi-particle", "saturated")


@dataclass(frozen=True)
class SubPulse:
    """Log-normal amplitude (median counts, sigma of log) and time constants (samples)."""

    amplitude_median: float
    amplitude_sigma: float
    rise: tuple[float, float]
    decay: tuple[float, float]


@dataclass(frozen=True)
class WCDParameters:
    n_samples: int = 30
    adc_bits: int = 8
    start: tuple[float, float] = (6.0, 9.0)
    baseline: float = 1.0
    baseline_noise: float = 0.8
    counts_per_pe: float = 0.4
    gain_spread: float = 0.15
    saturation: tuple[float, float] = (223.0, 228.0)
    plateau_jitter: float = 0.8
    em: SubPulse = SubPulse(15.0, 0.45, rise=(0.3, 0.9), decay=(2.0, 3.5))
    muon: SubPulse = SubPulse(20.0, 0.4, rise=(1.2, 2.2), decay=(5.0, 9.0))
    multi: SubPulse = SubPulse(11.0, 0.35, rise=(0.3, 0.9), decay=(2.0, 3.5))
    multi_delay: tuple[float, float] = (3.0, 9.0)
    saturated: SubPulse = SubPulse(700.0, 0.45, rise=(0.6, 1.4), decay=(10.0, 16.0))


def pulse_shape(t: np.ndarray, t0: np.ndarray, rise: np.ndarray, decay: np.ndarray) -> np.ndarray:
    """Peak-normalized shape of sub-pulses; arguments broadcast to (events, samples)."""
    dt = np.clip(t - t0, 0.0, None)
    shape = (1.0 - np.exp(-dt / rise)) * np.exp(-dt / decay)
    t_peak = rise * np.log1p(decay / rise)
    peak = (1.0 - np.exp(-t_peak / rise)) * np.exp(-t_peak / decay)
    return shape / peak


def _sub_pulses(rng: np.random.Generator, spec: SubPulse, t0: np.ndarray, t: np.ndarray):
    n = t0.shape[0]
    amplitude = spec.amplitude_median * np.exp(spec.amplitude_sigma * rng.standard_normal(n))
    rise = rng.uniform(*spec.rise, n)
    decay = rng.uniform(*spec.decay, n)
    return amplitude[:, None] * pulse_shape(t, t0[:, None], rise[:, None], decay[:, None])


def expected_signal(rng: np.random.Generator, label: int, n: int, p: WCDParameters) -> np.ndarray:
    """Noise-free signal in ADC counts above baseline, shape (n, n_samples)."""
    t = np.arange(p.n_samples, dtype=np.float64)[None, :]
    t0 = rng.uniform(*p.start, n)
    if label == 0:
        return _sub_pulses(rng, p.em, t0, t)
    if label == 1:
        return _sub_pulses(rng, p.muon, t0, t)
    if label == 3:
        return _sub_pulses(rng, p.saturated, t0, t)
    n_parts = rng.integers(2, 4, n)
    signal = _sub_pulses(rng, p.multi, t0, t)
    delay = np.zeros(n)
    for k in (1, 2):
        delay = delay + rng.uniform(*p.multi_delay, n)
        extra = _sub_pulses(rng, p.multi, t0 + delay, t)
        signal = signal + np.where((n_parts > k)[:, None], extra, 0.0)
    return signal


def digitize(rng: np.random.Generator, signal: np.ndarray, p: WCDParameters) -> np.ndarray:
    """Photostatistics, gain smearing, baseline noise, ADC rounding and saturation."""
    n = signal.shape[0]
    shape_k = 1.0 / p.gain_spread**2
    gain = p.counts_per_pe * rng.gamma(shape_k, 1.0 / shape_k, n)[:, None]
    photo_electrons = rng.poisson(signal / p.counts_per_pe)
    analog = p.baseline + photo_electrons * gain + p.baseline_noise * rng.standard_normal(signal.shape)
    saturation = rng.uniform(*p.saturation, n)[:, None]
    plateau = saturation + p.plateau_jitter * rng.standard_normal(signal.shape)
    analog = np.minimum(analog, plateau)
    return np.clip(np.rint(analog), 0, 2**p.adc_bits - 1) + 0.0


def simulate(seed: int, n_events: int, params: WCDParameters | None = None):
    """``n_events`` traces, as many of each class, shuffled: ADC counts float32 (n, 30) and
    labels int64."""
    p = params or WCDParameters()
    n_per_class = n_events // len(CLASS_NAMES)
    rng = np.random.default_rng(seed)
    traces, labels = [], []
    for label in range(len(CLASS_NAMES)):
        traces.append(digitize(rng, expected_signal(rng, label, n_per_class, p), p))
        labels.append(np.full(n_per_class, label, dtype=np.int64))
    x = np.concatenate(traces).astype(np.float32)
    y = np.concatenate(labels)
    order = rng.permutation(len(y))
    return x[order], y[order]
