"""The same breathing through NeuroKit2 (a dev-only reference) and through rapport_sync.

    python -m benchmarks.neurokit_compare

NeuroKit2 (``rsp_process``: zero-phase cleaning, offline peak detection, 10-s rate) is
in the ``bench`` extra only. Compared: breathing rate over the recording (median of
NeuroKit's rate vs rapport_sync's breath events), and time taken. Its
``signal_synchrony(method="hilbert")`` is shown next to our PLV / alignment for a
coupled and an independent simulated pair (it is 1 − sin(|Δφ|/2) per sample: chance
≈ 0.36, so it mixes alignment with locking).
"""

from __future__ import annotations

import time

import numpy as np

from rapport_sync.dsp import ANALYSIS_RATE_HZ
from rapport_sync.dsp.breathing import EventKind, track_breathing
from rapport_sync.dsp.simulate import CouplingScript, simulate_dyad
from rapport_sync.dsp.sync import window_sync

from .common import real_belt, table

FS = ANALYSIS_RATE_HZ


def _ours_rate(x: np.ndarray) -> tuple[float, float]:
    t0 = time.perf_counter()
    _, events, _ = track_breathing(x, FS)
    dt = time.perf_counter() - t0
    on = np.array([e.time_s for e in events if e.kind == EventKind.INHALE])
    return float(60 * np.median(1 / np.diff(on))) if len(on) > 2 else float("nan"), dt


def main() -> None:
    try:
        import neurokit2 as nk
    except ImportError:
        print("NeuroKit2 is not installed: pip install -e '.[bench]' (it is a benchmark-only "
              "reference, never a runtime dependency). Nothing compared.")
        return
    cases = []
    for seed, bpm in ((1, 15.0), (2, 12.5)):
        rec = simulate_dyad(300, FS, seed=seed, script=CouplingScript.constant(0.0))
        cases.append((f"simulated seed {seed}, person A", rec.a.belt.astype(float)))
    belt = real_belt()
    if belt is not None:
        cases.append(("real belt", belt))
    rows = []
    for label, x in cases:
        t0 = time.perf_counter()
        sig, _ = nk.rsp_process(x, sampling_rate=FS)
        nk_dt = time.perf_counter() - t0
        nk_rate = float(np.nanmedian(sig["RSP_Rate"]))
        ours, dt = _ours_rate(x)
        rows.append([label, nk_rate, ours, ours - nk_rate, nk_dt * 1000, dt * 1000])
    print(f"NeuroKit2 {nk.__version__} rsp_process vs rapport_sync (breaths/min, median)")
    print(table(["recording", "NK2 rate", "ours rate", "difference", "NK2 ms", "ours ms"], rows))
    rows = []
    for label, script in (("independent", CouplingScript.constant(0.0)),
                          ("coupled, A leads 1.5 s", CouplingScript.constant(1.0, 1.5))):
        rec = simulate_dyad(300, FS, seed=5, script=script)
        oa, _, _ = track_breathing(rec.a.belt, FS)
        ob, _, _ = track_breathing(rec.b.belt, FS)
        s = window_sync(oa.phase[1500::5], ob.phase[1500::5], oa.signal[1500::5],
                        ob.signal[1500::5], FS / 5)
        nk_sync = nk.signal_synchrony(rec.a.belt.astype(float), rec.b.belt.astype(float),
                                      method="hilbert")
        rows.append([label, float(np.mean(nk_sync[1500:])), s.plv, s.alignment, s.lag_plv,
                     s.chance_plv95])
    print()
    print("Synchrony of one simulated pair (last 240 s)")
    print(table(["pair", "NK2 hilbert sync", "our PLV", "alignment", "lag PLV",
                 "chance PLV95"], rows))


if __name__ == "__main__":
    main()
