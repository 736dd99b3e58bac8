"""A seeded two-person breathing and heart simulator.

Each person is a breathing oscillator with its own rate, breath-to-breath rate and depth
variability, an asymmetric breath (inhale shorter than exhale), occasional sighs and
pauses, and a heart whose rate follows the breath (respiratory sinus arrhythmia). The
follower's phase is pulled towards the leader's phase ``lag_s`` seconds earlier
(a delayed Kuramoto coupling), with a strength that a :class:`CouplingScript` changes
over the session. The default script goes independent → gradually coupled, A leading by
1.2 s → independent again, every ten minutes. The scripted lag is the lag that the
breathing waveforms show (their cross-correlation peaks there, within 0.1 s).

:class:`DyadSimulator` is streaming (``step(n)`` gives the next ``n`` samples of both
people, state carried over); :func:`simulate_dyad` runs it for a whole duration. The
same seed gives the same session.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "PersonParams",
    "CouplingScript",
    "DEFAULT_SCRIPT",
    "PersonBlock",
    "DyadBlock",
    "DyadSimulator",
    "simulate_dyad",
    "breath_shape",
    "hilbert_convention",
    "DyadRecording",
    "chest_acceleration_mg",
    "sinusoidal_rsa_beats",
]

TWO_PI = 2.0 * np.pi
MAX_COUPLING_RAD_S = 1.0  # strong enough to lock, gentle enough to keep breaths natural


@dataclass(frozen=True, slots=True)
class PersonParams:
    """One simulated person. Rates in breaths/min and beats/min."""

    rate_bpm: float = 15.0
    rate_cv: float = 0.12  # breath-to-breath variability of the rate (log-OU)
    inhale_fraction: float = 0.40  # inhale share of the cycle (I:E = 40:60)
    depth_cv: float = 0.15
    sigh_every_breaths: float = 45.0  # mean breaths between sighs
    pause_every_breaths: float = 70.0  # mean breaths between pauses (breath holds)
    pause_s: tuple[float, float] = (6.0, 12.0)
    heart_rate_bpm: float = 68.0
    rsa_bpm: float = 6.0  # peak-to-trough heart-rate swing over a breath
    belt_gain: float = 600.0  # ADC counts per unit breath depth
    belt_offset: float = 0.0
    noise: float = 0.03  # white sensor noise, in units of breath depth
    drift: float = 0.3  # baseline wander (OU, tau 60 s), in units of breath depth


@dataclass(frozen=True, slots=True)
class CouplingScript:
    """Piecewise-linear coupling over session time, repeating every ``period_s``.

    ``points`` are ``(time_s, strength, lag_s)``: strength 0 is independent, 1 is strong
    locking; ``lag_s > 0`` means A leads (B follows A's breathing ``lag_s`` later),
    ``lag_s < 0`` means B leads.
    """

    points: tuple[tuple[float, float, float], ...]
    period_s: float | None = None

    def at(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Strength and lag at session times ``t_s``."""
        t = np.asarray(t_s, dtype=float)
        if self.period_s:
            t = np.mod(t, self.period_s)
        times, strength, lag = (np.array(col, dtype=float) for col in zip(*self.points))
        return np.interp(t, times, strength), np.interp(t, times, lag)

    @classmethod
    def constant(cls, strength: float, lag_s: float = 0.0) -> CouplingScript:
        return cls(((0.0, strength, lag_s), (1.0, strength, lag_s)))


DEFAULT_SCRIPT = CouplingScript(
    (
        (0.0, 0.0, 1.2),  # 0-2 min: independent
        (120.0, 0.0, 1.2),
        (240.0, 1.0, 1.2),  # 2-4 min: coupling grows, A leads by 1.2 s
        (420.0, 1.0, 1.2),  # 4-7 min: coupled
        (480.0, 0.0, 1.2),  # 7-8 min: coupling fades
        (600.0, 0.0, 1.2),  # 8-10 min: independent
    ),
    period_s=600.0,
)


def breath_shape(u: np.ndarray, inhale_fraction: float) -> np.ndarray:
    """Chest expansion (0 at end-exhale, 1 at end-inhale) at cycle fraction ``u`` in [0, 1).

    The inhale is a half-cosine rise over ``inhale_fraction``; the exhale falls faster at
    first and levels off (passive recoil) to end with a short expiratory pause.
    """
    u = np.asarray(u, dtype=float)
    ti = inhale_fraction
    rise = 0.5 - 0.5 * np.cos(np.pi * np.clip(u / ti, 0.0, 1.0))
    v = np.clip((u - ti) / (0.9 - ti), 0.0, 1.0)
    fall = 1.0 - (1.0 - np.exp(-3.5 * v)) / (1.0 - np.exp(-3.5))
    return np.where(u < ti, rise, fall)


@dataclass(slots=True, eq=False)
class PersonBlock:
    """The next samples of one person. Times are session seconds."""

    resp: np.ndarray  # ideal chest expansion (units of typical breath depth)
    belt: np.ndarray  # what a stretch belt reads: ADC counts incl. noise, drift, offset
    cycle_phase: np.ndarray  # generative phase, rad in [0, 2pi): 0 = inhalation onset
    paused: np.ndarray  # bool: in a breath hold
    beat_times_s: np.ndarray
    rr_s: np.ndarray  # RR interval ending at each beat (nan for the very first beat)


@dataclass(slots=True, eq=False)
class DyadBlock:
    time_s: np.ndarray
    a: PersonBlock
    b: PersonBlock
    coupling: np.ndarray
    lag_s: np.ndarray


@dataclass(slots=True)
class _PersonState:
    params: PersonParams
    theta: float  # unwrapped generative phase (cycles * 2pi)
    log_rate: float = 0.0  # OU state of the log rate
    drift: float = 0.0
    depth: float = 1.0
    breath_index: int = 0
    pause_left_s: float = 0.0
    heart_phase: float = 0.0  # in beats
    last_beat_s: float = np.nan


class DyadSimulator:
    """Streaming two-person simulator; ``step(n)`` returns the next ``n`` samples at ``fs``.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    seed : int
        Everything random comes from ``numpy.random.default_rng(seed)``.
    a, b : PersonParams
        The two people (defaults: 15 and 12.5 breaths/min).
    script : CouplingScript
        Coupling strength and lag over time (default :data:`DEFAULT_SCRIPT`).
    """

    def __init__(
        self,
        fs: float = 50.0,
        seed: int = 0,
        a: PersonParams | None = None,
        b: PersonParams | None = None,
        script: CouplingScript = DEFAULT_SCRIPT,
    ) -> None:
        self.fs = float(fs)
        self.rng = np.random.default_rng(seed)  # breath events (sighs, pauses, depth)
        self.noise_rng = np.random.default_rng([seed, 1])  # per-sample drives
        self.script = script
        a = a or PersonParams()
        b = b or PersonParams(rate_bpm=12.5, inhale_fraction=0.43, heart_rate_bpm=74.0,
                              rsa_bpm=4.0, belt_gain=520.0, belt_offset=-150.0)
        rng = self.rng
        self._people = [
            _PersonState(p, theta=rng.uniform(0, TWO_PI), heart_phase=rng.uniform(0, 1))
            for p in (a, b)
        ]
        self._n = 0
        self._max_delay = int(round(5.0 * self.fs)) + 2
        self._theta_hist = np.zeros((2, self._max_delay))  # ring buffers of past phases

    @property
    def time_s(self) -> float:
        """Session time of the next sample."""
        return self._n / self.fs

    def step(self, n: int) -> DyadBlock:
        """Simulate the next ``n`` samples of both people."""
        dt = 1.0 / self.fs
        t = (self._n + np.arange(n)) / self.fs
        strength, lag = self.script.at(t)
        # Random drives, drawn up front (vectorised) so the loop only integrates; drawn
        # sample-major from their own generator so any split of step() calls gives the
        # same session.
        drives = self.noise_rng.standard_normal((n, 6)).T
        rate_noise, drift_noise, white = drives[0:2], drives[2:4], drives[4:6]
        theta = np.empty((2, n))
        paused = np.zeros((2, n), dtype=bool)
        depth = np.empty((2, n))
        drift = np.empty((2, n))
        tau_rate, tau_drift = 5.0, 60.0
        hist, H = self._theta_hist, self._max_delay
        for i in range(n):
            k = strength[i] * MAX_COUPLING_RAD_S
            d = int(round(abs(lag[i]) * self.fs))
            for p, st in enumerate(self._people):
                prm = st.params
                st.log_rate += (-st.log_rate / tau_rate) * dt + prm.rate_cv * np.sqrt(
                    2 * dt / tau_rate) * rate_noise[p, i]
                st.drift += (-st.drift / tau_drift) * dt + prm.drift * np.sqrt(
                    2 * dt / tau_drift) * drift_noise[p, i]
                drift[p, i] = st.drift
                follower = 1 if lag[i] >= 0 else 0
                base_bpm = prm.rate_bpm
                if p == follower and k > 0:  # coupled partners converge in rate too
                    leader_bpm = self._people[1 - p].params.rate_bpm
                    base_bpm = base_bpm ** (1 - strength[i]) * leader_bpm ** strength[i]
                intrinsic = TWO_PI * base_bpm / 60.0 * np.exp(st.log_rate)
                omega = intrinsic
                if p == follower and k > 0:
                    leader_past = hist[1 - p, (self._n + i - d) % H] if self._n + i >= d else None
                    if leader_past is not None:
                        omega += k * np.sin(leader_past - st.theta)
                if st.pause_left_s > 0:
                    st.pause_left_s -= dt
                    paused[p, i] = True
                else:
                    st.theta += max(omega, 0.3 * intrinsic) * dt  # breathing never runs backwards
                    self._new_breath(st)
                theta[p, i] = st.theta
                depth[p, i] = st.depth
                hist[p, (self._n + i) % H] = st.theta
        blocks = [self._person_block(p, t, theta[p], paused[p], depth[p], drift[p], white[p])
                  for p in range(2)]
        self._n += n
        return DyadBlock(t, blocks[0], blocks[1], strength, lag)

    def _new_breath(self, st: _PersonState) -> None:
        index = int(st.theta // TWO_PI)
        if index == st.breath_index:
            return
        st.breath_index = index
        prm, rng = st.params, self.rng
        st.depth = float(np.exp(prm.depth_cv * rng.standard_normal() - prm.depth_cv**2 / 2))
        if rng.random() < 1.0 / prm.sigh_every_breaths:
            st.depth *= 2.5  # a sigh, often followed by a short pause
            if rng.random() < 0.5:
                st.pause_left_s = rng.uniform(3.0, 6.0) + 1.0 / (prm.rate_bpm / 60.0)
        elif rng.random() < 1.0 / prm.pause_every_breaths:
            st.pause_left_s = rng.uniform(*prm.pause_s)

    def _person_block(self, p: int, t: np.ndarray, theta: np.ndarray, paused: np.ndarray,
                      depth: np.ndarray, drift: np.ndarray, white: np.ndarray) -> PersonBlock:
        st = self._people[p]
        prm = st.params
        cycle = np.mod(theta, TWO_PI)
        u = cycle / TWO_PI
        shape = breath_shape(u, prm.inhale_fraction)
        resp = depth * shape
        belt = prm.belt_gain * (resp + drift + prm.noise * white) + prm.belt_offset
        belt = np.clip(np.round(belt), -2048, 2047)
        # Heart: rate rises with inspiration (RSA), slow LF wander folded into the drift term.
        hr = prm.heart_rate_bpm + prm.rsa_bpm * (shape - 0.5) + 2.0 * drift
        beats_phase = st.heart_phase + np.cumsum(hr / 60.0 / self.fs)
        whole = np.floor(beats_phase)
        prev = np.concatenate(([np.floor(st.heart_phase)], whole[:-1]))
        idx = np.nonzero(whole > prev)[0]
        # Beat time by linear interpolation of the heart phase within the sample.
        before = np.concatenate(([st.heart_phase], beats_phase[:-1]))[idx]
        frac = (whole[idx] - before) / (beats_phase[idx] - before)
        beat_t = t[idx] - (1.0 - frac) / self.fs
        last = np.concatenate(([st.last_beat_s], beat_t))
        rr = np.diff(last)
        if beat_t.size:
            st.last_beat_s = float(beat_t[-1])
        st.heart_phase = float(beats_phase[-1]) if beats_phase.size else st.heart_phase
        return PersonBlock(resp, belt, cycle, paused, beat_t, rr)


def hilbert_convention(cycle_phase: np.ndarray, inhale_fraction: float) -> np.ndarray:
    """Generative phase shifted so 0 is end-inspiration (the Hilbert convention), (-pi, pi]."""
    return np.angle(np.exp(1j * (cycle_phase - TWO_PI * inhale_fraction)))


@dataclass(slots=True, eq=False)
class DyadRecording:
    """A whole simulated session (see :func:`simulate_dyad`)."""

    fs: float
    time_s: np.ndarray
    a: PersonBlock
    b: PersonBlock
    coupling: np.ndarray
    lag_s: np.ndarray
    params: tuple[PersonParams, PersonParams]

    def true_phase(self, person: str) -> np.ndarray:
        """Generative phase in the Hilbert convention for person ``"a"`` or ``"b"``."""
        block, prm = (self.a, self.params[0]) if person == "a" else (self.b, self.params[1])
        return hilbert_convention(block.cycle_phase, prm.inhale_fraction)


def _concat(blocks: list[PersonBlock]) -> PersonBlock:
    return PersonBlock(*(np.concatenate([getattr(b, f) for b in blocks])
                         for f in ("resp", "belt", "cycle_phase", "paused",
                                   "beat_times_s", "rr_s")))


def simulate_dyad(
    duration_s: float,
    fs: float = 50.0,
    seed: int = 0,
    a: PersonParams | None = None,
    b: PersonParams | None = None,
    script: CouplingScript = DEFAULT_SCRIPT,
) -> DyadRecording:
    """Simulate a whole two-person session (same numbers as streaming ``step`` calls)."""
    sim = DyadSimulator(fs, seed, a, b, script)
    n_total = int(round(duration_s * fs))
    blocks = [sim.step(min(1000, n_total - i)) for i in range(0, n_total, 1000)]
    return DyadRecording(
        fs,
        np.concatenate([blk.time_s for blk in blocks]),
        _concat([blk.a for blk in blocks]),
        _concat([blk.b for blk in blocks]),
        np.concatenate([blk.coupling for blk in blocks]),
        np.concatenate([blk.lag_s for blk in blocks]),
        (sim._people[0].params, sim._people[1].params),
    )


def chest_acceleration_mg(resp: np.ndarray, rng: np.random.Generator,
                          tilt_deg: float = 20.0, mg_per_depth: float = 12.0) -> np.ndarray:
    """Three-axis chest acceleration in mg for a breathing trace (an H10 on the sternum).

    Gravity dominates (1000 mg along the body axis, tilted forward by ``tilt_deg``);
    breathing rotates the sensor slightly, which shows as a few mg on the axis
    perpendicular to the chest, plus sensor noise.
    """
    angle = np.deg2rad(tilt_deg) + np.deg2rad(mg_per_depth / 1000.0 * 57.3) * resp
    noise = rng.normal(0.0, 1.5, (resp.size, 3))
    acc = np.column_stack([np.full(resp.size, 15.0), 1000.0 * np.sin(angle),
                           -1000.0 * np.cos(angle)])
    return acc + noise


def sinusoidal_rsa_beats(time_s: np.ndarray, cycle_phase: np.ndarray, rsa_ms: float = 80.0,
                         hr_bpm: float = 70.0, first_beat_s: float = 0.5
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Heartbeats with a known RSA: the RR interval swings ``rsa_ms`` peak to trough as a
    sine of a breathing phase.

    RR = 60 / ``hr_bpm`` − ``rsa_ms`` / 2000 · sin θ, with θ the generative phase
    ``cycle_phase`` (e.g. :attr:`PersonBlock.cycle_phase`, unwrapped here) at the beat, so
    every breath swings by exactly ``rsa_ms`` whatever the breathing rate does. (The
    simulator's own heart follows the breath's shape, whose harmonics a breathing band
    partly removes.) Returns the beat times (s) and the RR interval ending at each.
    """
    t = np.asarray(time_s, dtype=float)
    theta = np.unwrap(np.asarray(cycle_phase, dtype=float))
    times, rrs, beat = [], [], first_beat_s
    base, swing = 60.0 / hr_bpm, rsa_ms / 2000.0
    while True:
        rr = base - swing * float(np.sin(np.interp(beat, t, theta)))
        beat += rr
        if beat > t[-1]:
            break
        times.append(beat)
        rrs.append(rr)
    return np.array(times), np.array(rrs)
