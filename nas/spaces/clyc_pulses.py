"""Simulator of the leading edge of CLYC scintillator pulses read by SiPMs (gamma/neutron).

Physics (one event = the first ``n_samples`` samples of a 4 GS/s, 10-bit digitizer trace):

* Cs2LiYCl6:Ce (CLYC) emits light in components with their own rise and decay times. Gamma
  events carry the ultrafast core-to-valence luminescence (CVL, decay about 1-2 ns) on top of
  the Ce components (about 50 ns and about 1 us); neutron events (6Li(n, alpha)t) lack CVL and
  their Ce emission rises more slowly. Within the 8.75 ns leading edge this is what tells the
  two apart: a sharp early spike for gammas, a slower ramp for neutrons.
* Each component ``k`` with fraction ``f_k``, rise ``r_k`` and decay ``d_k`` (ns) contributes
  ``f_k * (exp(-t/d_k) - exp(-t/r_k)) / (d_k - r_k)`` photons per ns (unit area); the SiPM
  response smooths this with a first-order filter of time constant ``sipm_tau``.
* Photostatistics: Poisson photo-electrons per sample around the expected signal (deposited
  energy, log-normal, times ``pe_per_unit``), each worth ``counts_per_pe`` ADC counts with a
  smeared gain; baseline ``baseline`` counts with Gaussian noise; 10-bit clipping.
* Trigger jitter: the pulse starts ``start`` ns after the first sample.
* Class balance as the public IAEA CLYC set: about 28 % gammas (label 0), 72 % neutrons (1).
"""

from dataclasses import dataclass

import numpy as np

CLASS_NAMES = ("gamma", "neutron")


@dataclass(frozen=True)
class Component:
    fraction: float
    rise_ns: float
    decay_ns: float


@dataclass(frozen=True)
class CLYCParameters:
    n_samples: int = 35
    sample_ns: float = 0.25
    adc_bits: int = 10
    gamma_fraction: float = 0.28
    start_ns: tuple[float, float] = (1.0, 2.5)
    gamma_energy: tuple[float, float] = (1.0, 0.6)
    neutron_energy: tuple[float, float] = (1.0, 0.08)
    pe_per_unit: float = 3000.0
    counts_per_pe: float = 3.0
    gain_spread: float = 0.1
    sipm_tau_ns: float = 0.5
    baseline: float = 40.0
    baseline_noise: float = 2.0
    gamma: tuple[Component, ...] = (Component(0.03, 0.05, 1.5), Component(0.62, 0.5, 50.0),
                                    Component(0.35, 0.5, 1000.0))
    neutron: tuple[Component, ...] = (Component(0.45, 1.5, 50.0), Component(0.55, 2.0, 1000.0))


def light_curve(t_ns: np.ndarray, components: tuple[Component, ...]) -> np.ndarray:
    """Photons per ns of a unit-energy event, ``t_ns`` after its start (0 before)."""
    t = np.clip(t_ns, 0.0, None)
    curve = np.zeros_like(t)
    for c in components:
        curve += c.fraction * (np.exp(-t / c.decay_ns) - np.exp(-t / c.rise_ns)) / (
            c.decay_ns - c.rise_ns)
    return np.where(t_ns > 0, curve, 0.0)


def _sipm_filter(signal: np.ndarray, tau_samples: float) -> np.ndarray:
    """First-order low-pass (the SiPM and preamplifier response), sample by sample."""
    out = np.zeros_like(signal)
    keep = np.exp(-1.0 / tau_samples)
    for i in range(signal.shape[1]):
        previous = out[:, i - 1] if i else 0.0
        out[:, i] = keep * previous + (1.0 - keep) * signal[:, i]
    return out


def simulate(seed: int, n_events: int, params: CLYCParameters | None = None):
    """``n_events`` leading edges (about 28 % gammas), shuffled: ADC counts float32 (n, 35) and
    labels int64 (0 gamma, 1 neutron)."""
    p = params or CLYCParameters()
    rng = np.random.default_rng(seed)
    labels = (rng.random(n_events) >= p.gamma_fraction).astype(np.int64)
    # Oversample 4x in time so that the ultrafast component is integrated, not point-sampled.
    fine = 4
    t = (np.arange(p.n_samples * fine) + 0.5) * p.sample_ns / fine
    start = rng.uniform(*p.start_ns, n_events)[:, None]
    curves = np.where(labels[:, None] == 0, light_curve(t[None, :] - start, p.gamma),
                      light_curve(t[None, :] - start, p.neutron))
    median, sigma = np.where(labels == 0, p.gamma_energy[0], p.neutron_energy[0]), np.where(
        labels == 0, p.gamma_energy[1], p.neutron_energy[1])
    energy = (median * np.exp(sigma * rng.standard_normal(n_events)))[:, None]
    photons_per_bin = energy * p.pe_per_unit * curves * p.sample_ns / fine
    photo_electrons = rng.poisson(photons_per_bin).reshape(n_events, p.n_samples, fine).sum(axis=2)
    gain = p.counts_per_pe * (1.0 + p.gain_spread * rng.standard_normal((n_events, 1)))
    signal = _sipm_filter(photo_electrons * gain, p.sipm_tau_ns / p.sample_ns)
    analog = p.baseline + signal + p.baseline_noise * rng.standard_normal(signal.shape)
    x = np.clip(np.rint(analog), 0, 2**p.adc_bits - 1).astype(np.float32)
    return x, labels
