"""Offline analysis: CSV in, JSON out; coupled vs independent; real-belt pseudo-dyads."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from rapport_sync.analysis import analyze_arrays, load_csv, load_dyad
from rapport_sync.cli import main
from rapport_sync.dsp.simulate import CouplingScript, simulate_dyad
from rapport_sync.errors import ConfigError

FS = 25.0
DATA = Path(os.environ.get("RAPPORT_SYNC_DATA",
                           Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def _csv(path: Path, script: CouplingScript, seconds: float = 240.0, seed: int = 1) -> Path:
    rec = simulate_dyad(seconds, FS, seed=seed, script=script)
    rr = {}
    for p, blk in (("a", rec.a), ("b", rec.b)):
        col = np.full(len(rec.time_s), np.nan)
        col[np.clip(np.searchsorted(rec.time_s, blk.beat_times_s), 0, len(col) - 1)] = blk.rr_s
        rr[p] = col
    np.savetxt(path, np.column_stack([rec.time_s, rec.a.belt, rec.b.belt, rr["a"], rr["b"]]),
               delimiter=",", header="time,a_resp,b_resp,a_rr,b_rr", comments="", fmt="%.6g")
    return path


def test_cli_json_has_the_promised_fields(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = _csv(tmp_path / "coupled.csv", CouplingScript.constant(1.0, 1.5))
    assert main(["analyze", str(path), "--json", "--surrogates", "40"]) == 0
    r = json.loads(capsys.readouterr().out)
    for key in ("plv", "ppc", "alignment", "mean_relative_phase_deg", "lag_s", "leader",
                "rate_a_bpm", "rate_b_bpm", "surrogates", "significant", "live_phase_error_deg",
                "windows"):
        assert key in r
    assert set(r["surrogates"]) == {"circular_shift", "segment_shuffle", "iaaft"}
    assert all(v["n"] == 40 for v in r["surrogates"].values())
    assert r["significant"] is True and r["leader"] == "a" and r["lag_s"] > 0.5
    assert r["rate_a_bpm"] == pytest.approx(r["rate_b_bpm"], abs=1.0)  # coupled: rates meet
    for p in ("a", "b"):
        assert r["live_phase_error_deg"][p]["median"] < 20.0
    assert len(r["windows"]["plv"]) == len(r["windows"]["time_s"]) > 20
    assert r["heart"]["hr_a_bpm"] == pytest.approx(68.0, abs=6.0)


def test_cli_summary_and_one_line_errors(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = _csv(tmp_path / "free.csv", CouplingScript.constant(0.0))
    assert main(["analyze", str(path), "--surrogates", "20"]) == 0
    out = capsys.readouterr().out
    assert "circular_shift" in out and "breathing rate" in out
    bad = tmp_path / "bad.csv"
    for text, said in (("time,a_resp\n0,1\n", "b_resp"),
                       ("time;a_resp;b_resp\n0;1;2\n", "separated by ';'"),
                       ("time,a_resp,b_resp,a_resp\n0,1,2,3\n", "a_resp appear more than once")):
        bad.write_text(text)
        assert main(["analyze", str(bad)]) == 1
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and said in err, err


def test_an_exported_csv_brings_its_devices_rates(tmp_path: Path) -> None:
    """aligned.csv rows are on the 25-Hz grid; the metadata.json written beside it by the
    export says how fast each device really sampled (a 5-Hz belt judged by its 25-Hz rows
    would look noise-free and get the widest band). Anything else is ignored: another CSV
    beside it, a header the metadata does not document, foreign or damaged metadata."""
    path = _csv(tmp_path / "aligned.csv", CouplingScript.constant(0.0))
    assert "source_rate_a_hz" not in load_dyad(path)  # no metadata: the rows decide
    header = path.read_text().splitlines()[0].split(",")
    meta = tmp_path / "metadata.json"

    def write(software: object = "rapport_sync 0.1.0", a: object = "5 Hz",
              columns: object = header) -> None:
        meta.write_text(json.dumps({
            "software": software, "columns": {"aligned.csv": {c: {} for c in columns}},
            "participants": {"a": {"raw_rate_hz": 5.0} if a == "5 Hz" else a,
                             "b": {"raw_rate_hz": 50.0}}}))

    write()
    d = load_dyad(path)
    assert (d["source_rate_a_hz"], d["source_rate_b_hz"]) == (5.0, 50.0)
    other = tmp_path / "my_own.csv"
    other.write_text(path.read_text())
    assert "source_rate_a_hz" not in load_dyad(other)
    for damaged in ({"software": "another tool"}, {"columns": header[:-1]},
                    {"a": None}, {"a": "x"}, {"a": {"raw_rate_hz": True}},
                    {"a": {"raw_rate_hz": -1}}):
        write(**damaged)  # type: ignore[arg-type]
        assert "source_rate_a_hz" not in load_dyad(path), damaged
    meta.write_text("not json")
    assert "source_rate_b_hz" not in load_dyad(path)


def test_too_short_a_recording_is_refused() -> None:
    t = np.arange(0, 60, 1 / FS)
    with pytest.raises(ConfigError, match="two windows"):
        analyze_arrays(t, np.sin(t), np.sin(t))


def test_load_csv_needs_the_columns(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("time,a_resp,b_resp\n0,1,2\n0.04,1,2\n")
    cols = load_csv(p)
    assert set(cols) == {"time", "a_resp", "b_resp"} and len(cols["time"]) == 2


def _real_belt() -> tuple[np.ndarray, np.ndarray]:
    path = DATA / "real_belt_64hz.csv"
    if not path.exists():
        pytest.skip(f"real belt data not found in {DATA} (set RAPPORT_SYNC_DATA)")
    d = np.loadtxt(path, delimiter=",", skiprows=1)
    return d[:, 0], d[:, 1]


def test_real_belt_pseudo_dyads() -> None:
    """One real recording paired with itself 120 s apart (independent: not significant) and
    with a 1.5-s delayed noisy copy of itself (A leads by 1.5 s: recovered)."""
    t, x = _real_belt()
    n = len(x)
    null = analyze_arrays(t, x, np.roll(x, n // 2), n_surrogates=100, seed=3)
    d = round(1.5 / np.median(np.diff(t)))
    rng = np.random.default_rng(0)
    follower = np.r_[np.full(d, x[0]), x[:-d]] + rng.normal(0, 0.02 * np.std(x), n)
    lagged = analyze_arrays(t, x, follower, n_surrogates=100, seed=3)
    assert not null["significant"]
    assert lagged["significant"] and lagged["leader"] == "a"
    assert lagged["lag_s"] == pytest.approx(1.5, abs=0.3)
    assert lagged["plv"] > 0.6 > null["plv"]


def test_pseudo_dyads_from_other_recordings(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """People from other recordings (who never met) are the partners of the pseudo-dyad
    null, each once with A and once with B: a coupled pair locks more than all eight
    such pairs, and p is the smallest eight partners allow, 1/9 (a partner reused 20
    times read p 1/21 and z 19.6 from two distinct values)."""
    coupled = _csv(tmp_path / "coupled.csv", CouplingScript.constant(1.0, 1.5), seed=1)
    others = [str(_csv(tmp_path / f"other{s}.csv", CouplingScript.constant(0.0), seed=s))
              for s in (11, 12)]
    assert main(["analyze", str(coupled), "--json", "--surrogates", "20",
                 "--pseudo-dyad", *others]) == 0
    r = json.loads(capsys.readouterr().out)
    pseudo = r["surrogates"]["pseudo_dyad"]
    assert pseudo["n"] == 8  # two recordings, two people each, with A and with B
    assert pseudo["p"] == pytest.approx(1 / 9) and pseudo["z"] > 2.0
    assert r["surrogates"]["pseudo_dyad"]["mean"] < r["mean_windowed_plv"]


@pytest.mark.parametrize("body, message", [
    ("time,a_resp,b_resp\n0,1,2\n0.04,oops,3\n", "line 3, column a_resp: 'oops' is not a number"),
    ("time,a_resp,b_resp\n0,1,2\n0.04,1\n", "line 3: 2 values for 3 columns"),
    ("time,a_resp,b_resp\n", "no data rows"),
    ("t,a,b\n0,1,2\n", "missing column"),
])
def test_bad_csv_rows_are_named_not_turned_into_nan(tmp_path: Path, body: str,
                                                    message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_csv(path)


def test_empty_cells_are_missing_values(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("time,a_resp,b_resp,a_hr\n0,1,2,\n0.04,n/a,3,61.5\n")
    cols = load_csv(path)
    assert np.isnan(cols["a_resp"][1]) and np.isnan(cols["a_hr"][0]) and cols["a_hr"][1] == 61.5


def _slow_heart_rate(rng: np.random.Generator, n: int, fs: float) -> np.ndarray:
    """Heart-rate variation with a few seconds of memory (AR(1), time constant 3 s)."""
    a = np.exp(-1.0 / (3.0 * fs))
    e = rng.standard_normal(n)
    x = np.empty(n)
    x[0] = e[0]
    for i in range(1, n):
        x[i] = a * x[i - 1] + e[i]
    return 3.0 * x / x.std()


def test_heart_rate_synchrony_finds_a_follower_and_not_strangers() -> None:
    """Ten minutes at 5 Hz. B's heart rate following A's by 2 s: r high, lag +2 s (A
    leads), p at its floor. Twenty pairs of unrelated hearts at different mean rates:
    r near 0 and "significant" about as often as α (with the trend removal's zero-padded
    edges every pair read r ≈ 0.7 at p = 1/201)."""
    from rapport_sync.analysis import _heart_sync

    fs, n = 5.0, 3000
    rng = np.random.default_rng(3)
    a = 70.0 + _slow_heart_rate(rng, n, fs)
    b = 80.0 + np.r_[np.full(10, np.nan), a[:-10] - 70.0] + 0.5 * rng.standard_normal(n)
    r = _heart_sync(a, b, fs, np.random.default_rng(0))
    assert r["r"] > 0.8 and r["lag_s"] == pytest.approx(2.0, abs=0.1)
    assert r["p"] <= 0.01
    strangers = [_heart_sync(70.0 + _slow_heart_rate(rng, n, fs),
                             80.0 + _slow_heart_rate(rng, n, fs), fs, np.random.default_rng(k))
                 for k in range(20)]
    assert np.mean([abs(s["r"]) for s in strangers]) < 0.1
    assert sum(s["p"] < 0.05 for s in strangers) <= 2


def _onsets(times: np.ndarray) -> list[object]:
    from rapport_sync.dsp.breathing import BreathEvent, BreathFlag, EventKind

    return [BreathEvent(float(t), EventKind.INHALE, 1.0, BreathFlag.GOOD) for t in times]


def test_onset_coincidence_chance_is_that_of_regular_breathers() -> None:
    """Independent regular breathers (15 and 12.5/min, 12 % period jitter) over ten
    minutes: A's onsets meet one of B's within ±1 s about 2·1 s/4.8 s = 42 % of the time,
    and "expected" says so (the Poisson formula said 34 %, so strangers looked above
    chance); a B whose every breath starts 0.3 s after A's meets all of them, at p's floor."""
    from rapport_sync.analysis import _onset_coincidence

    rng = np.random.default_rng(0)

    def train(period: float) -> np.ndarray:
        t = [rng.uniform(0, period)]
        while t[-1] < 600.0:
            t.append(t[-1] + period * np.exp(0.12 * rng.standard_normal()))
        return np.array(t[:-1])

    observed, expected, ps = [], [], []
    for k in range(40):
        r = _onset_coincidence(_onsets(train(4.0)), _onsets(train(4.8)), 1.0, (0.0, 600.0),
                               np.random.default_rng(k))
        observed.append(r["observed"])
        expected.append(r["expected"])
        ps.append(r["p"])
    assert np.mean(expected) == pytest.approx(2 * 1.0 / 4.8, abs=0.02)
    assert np.mean(observed) - np.mean(expected) == pytest.approx(0.0, abs=0.02)
    assert np.mean(np.array(ps) < 0.05) <= 0.1
    a = train(4.0)
    r = _onset_coincidence(_onsets(a), _onsets(a + 0.3), 1.0, (0.0, 600.0),
                           np.random.default_rng(0))
    assert r["observed"] == 1.0 and r["p"] == pytest.approx(1 / 201)


def test_a_heart_rate_only_strap_session_is_exported_reported_and_analysed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Person B wears a strap that sends only heart rate (breathing from RR intervals, a
    documented setup), A a strap with an accelerometer: every export and the report are
    written (they failed on B's empty raw breathing), ``analyze`` re-derives B's
    breathing from the stored beats instead of refusing the session, and analysing the
    exported aligned.csv gives the session's numbers."""
    import time

    from rapport_sync.session.live import LiveSession
    from rapport_sync.sources.base import MonotonicClock, SourceSpec

    spec = SourceSpec.parse("ble-sim:hr-only=b,seed=3")
    path = tmp_path / "hr-only.rapport"
    session = LiveSession({"a": spec, "b": spec}, path, clock=MonotonicClock(speed=50))
    session.start()
    deadline = time.monotonic() + 60
    while session.elapsed_s < 170 and time.monotonic() < deadline:
        time.sleep(0.05)
    session.stop()
    assert session.error is None
    for fmt in ("csv", "bids", "edf"):
        assert main(["export", str(path), "--format", fmt, "--out", str(tmp_path / fmt)]) == 0
    assert main(["report", str(path), "--out", str(tmp_path / "report.html")]) == 0
    aligned = np.genfromtxt(tmp_path / "csv" / "aligned.csv", delimiter=",", names=True)
    assert np.isnan(aligned["b_resp"]).all()  # no breathing samples from this strap ...
    assert np.isfinite(aligned["b_phase"]).mean() > 0.3  # ... its breathing came from RR
    capsys.readouterr()
    assert main(["analyze", str(path), "--json", "--surrogates", "20"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert 8.0 < r["rate_b_bpm"] < 20.0 and 8.0 < r["rate_a_bpm"] < 20.0
    assert r["plv"] is not None and r["quality"]["b"]["final"] in ("weak_source", "good")
    # the exported aligned.csv: A's a_resp is the acceleration's magnitude and B's b_resp
    # is empty, so analyze reads both people's breathing from *_resp_filtered (the CSV
    # analysed as a belt read A at 24.9/min where the session says 13.8)
    assert main(["analyze", str(tmp_path / "csv" / "aligned.csv"), "--json",
                 "--surrogates", "20"]) == 0
    exported = json.loads(capsys.readouterr().out)
    for key in ("rate_a_bpm", "rate_b_bpm"):
        assert exported[key] == pytest.approx(r[key], abs=0.5)
    # B's offline reference differs: the session's is that of -RR, the CSV's that of the
    # live breathing from RR (0.3 PLV, the weak source; runs differed by up to 0.035)
    for key in ("plv", "mean_windowed_plv"):
        assert exported[key] == pytest.approx(r[key], abs=0.06)


def _write(path: Path, t: np.ndarray, a: np.ndarray, b: np.ndarray) -> Path:
    np.savetxt(path, np.column_stack([t, a, b]), delimiter=",", header="time,a_resp,b_resp",
               comments="", fmt="%.6g")
    return path


def test_flat_breathing_has_no_phase_and_no_verdict(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Two flat belts read mean windowed PLV 1 with surrogates at 1 (perfect locking of
    nothing); one flat belt read a PLV of 0.003 against its partner. Neither has a phase:
    the statistic is n/a, not significant, and the summary says why."""
    t = np.arange(0, 200, 0.1)
    breathing = np.sin(2 * np.pi * 0.25 * t)
    for a in (np.zeros_like(t), np.full_like(t, 3.5)):
        for b in (np.zeros_like(t), breathing):
            path = _write(tmp_path / "flat.csv", t, a, b)
            assert main(["analyze", str(path), "--json", "--surrogates", "20"]) == 0
            r = json.loads(capsys.readouterr().out)
            assert r["mean_windowed_plv"] is None and r["plv"] is None
            assert r["significant"] is False and r["leader"] == "none"
            assert r["surrogates"]["circular_shift"]["n"] == 0
            assert r["quality"]["a"]["final"] == "flat"
    assert main(["analyze", str(path), "--surrogates", "20"]) == 0
    out, err = capsys.readouterr()
    assert "verdict          n/a: no stretch where both have a breathing phase " \
           "(signal quality A flat, B good)" in out
    assert "Warning" not in err


def test_a_flat_stretch_in_both_people_is_not_locking(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    """Two independent breathers whose belts both read a constant for 150 s (straps off in
    a break): that stretch has no phase. Both read a constant ±90° there before, which
    locked at PLV 0.9 and made the pair significant (p 1/21)."""
    rec = simulate_dyad(600, FS, seed=5, script=CouplingScript.constant(0.0))
    a, b = rec.a.belt.copy(), rec.b.belt.copy()
    off = (rec.time_s >= 250) & (rec.time_s < 400)
    a[off], b[off] = 0.7, -0.2
    path = _write(tmp_path / "break.csv", rec.time_s, a, b)
    assert main(["analyze", str(path), "--json", "--surrogates", "20"]) == 0
    r = json.loads(capsys.readouterr().out)
    w_t, w_plv = np.array(r["windows"]["time_s"]), r["windows"]["plv"]
    inside = [p for tt, p in zip(w_t, w_plv) if 310 <= tt <= 400]
    assert inside and all(p is None for p in inside)
    assert r["significant"] is False
    assert r["mean_windowed_plv"] < r["surrogates"]["circular_shift"]["p95"]


def _rows(t: np.ndarray) -> list[str]:
    return [f"{float(x)!r},{np.sin(0.5 * x):.4f},{np.cos(0.5 * x):.4f}" for x in t]


_T = np.round(np.arange(0, 200, 0.1), 1)


@pytest.mark.parametrize("rows, message", [
    (_rows(_T[:1000]) + _rows(_T[1000:] + 1e9),
     r"bad\.csv, line 1002: 1e\+09 s after line 1001, a gap of more than an hour"),
    (_rows(_T[:1000]) + _rows(_T[1000:] + 3600.0),
     r"line 1002: 3600.1 s after line 1001, a gap of more than an hour; analyse the parts"),
    (_rows(_T[:-1]) + ["1e300,0,0"], r"line 2001: 1e\+300 s after line 2000"),
    (_rows(_T[:-1]) + ["inf,0,0"], r"line 2001: time inf is not a finite number"),
    (_rows(_T[:5]) + [",0.5,0.5"] + _rows(_T[5:]), r"line 7: no time"),
    (_rows(_T * 1000), r"rows are 100 s apart \(median\).*in milliseconds\? It must be in "
                       r"seconds"),
    (_rows(_T[:3]) + _rows(_T[2:]), r"line 5: time 0.2 repeats line 4's \(0.2\); rows must "
                                    r"be in time order, each time once"),
    (_rows(_T[::-1]), r"line 3: time 199.8 is before line 2's \(199.9\)"),
    (_rows(np.concatenate([h * 3600.0 + _T[:10] for h in range(170)])),
     r"spans 6.084e\+05 s \(7.04 days\), more than a week \(604800 s\); it must be in "
     r"seconds"),
])
def test_a_bad_time_column_is_one_line_at_once(tmp_path: Path, rows: list[str], message: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A 1e9-s gap was a MemoryError, a time of inf or 1e300 a numpy ValueError, a 1e6-s
    gap or times in milliseconds minutes of analysis over an empty grid; rows out of order
    or repeated were sorted or dropped without a word. Each is now one line naming the
    line and what to do, before any grid is made."""
    import time

    path = tmp_path / "bad.csv"
    path.write_text("time,a_resp,b_resp\n" + "\n".join(rows) + "\n")
    start = time.monotonic()
    assert main(["analyze", str(path), "--surrogates", "5"]) == 1
    err = capsys.readouterr().err
    assert time.monotonic() - start < 5.0
    assert err.startswith("rapport-sync: error: ") and err.count("\n") == 1
    assert re.search(message, err), err


def test_the_grid_is_never_longer_than_a_week() -> None:
    t = np.r_[np.arange(0, 200, 0.1), 8 * 24 * 3600.0]
    with pytest.raises(ConfigError, match="more than a week"):
        analyze_arrays(t, np.sin(t), np.cos(t))
    with pytest.raises(ConfigError, match="time column is empty"):
        analyze_arrays(np.array([np.nan, np.inf, 3.0]), np.zeros(3), np.zeros(3))


def test_blank_rows_are_skipped_and_an_hour_long_gap_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    rows = _rows(_T[:1000]) + ["", ",,"] + _rows(_T[1000:] + 3599.9)
    path.write_text("time,a_resp,b_resp\n" + "\n".join(rows) + "\n")
    cols = load_csv(path)
    assert len(cols["time"]) == 2000 and np.isfinite(cols["time"]).all()
    assert np.diff(cols["time"]).max() == pytest.approx(3600.0)


def _analyze_quietly(path: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    """The JSON of ``analyze PATH``, with any numpy RuntimeWarning an error (that is, an
    "internal error" and exit code 1)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert main(["analyze", str(path), "--json", "--surrogates", "20"]) == 0
    out, err = capsys.readouterr()
    assert "Warning" not in err
    return json.loads(out)  # type: ignore[no-any-return]


def test_impossible_numbers_are_missing_samples(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """One cell of 1e308 made all of A's results n/a, with ~20 RuntimeWarning lines; one
    32-bit glitch (4294967295 in a belt of a few hundred) took A's live phase error from 9
    to 70 degrees (the glitch owned the reference phase); an inf heart rate was averaged.
    Each is now a missing sample: the results are those of the file without it."""
    clean = _csv(tmp_path / "clean.csv", CouplingScript.constant(0.0))
    lines = clean.read_text().splitlines()
    lines[0] += ",a_hr"
    lines[1:] = [f"{row},{70 + i % 3}" for i, row in enumerate(lines[1:])]
    clean.write_text("\n".join(lines) + "\n")
    want = _analyze_quietly(clean, capsys)
    for where, value in ((1, "1e308"), (1, "4294967295"), (1, "-inf"), (5, "inf")):
        bad = list(lines)
        for row in (1500, 3000):
            cells = bad[row].split(",")
            cells[where] = value
            bad[row] = ",".join(cells)
        path = tmp_path / "bad.csv"
        path.write_text("\n".join(bad) + "\n")
        got = _analyze_quietly(path, capsys)
        for key in ("plv", "mean_windowed_plv", "rate_a_bpm"):
            assert got[key] == pytest.approx(want[key], abs=0.01), (value, key)
        assert got["live_phase_error_deg"]["a"]["median"] == pytest.approx(
            want["live_phase_error_deg"]["a"]["median"], abs=1.0), value
        assert got["heart"]["hr_a_bpm"] == pytest.approx(want["heart"]["hr_a_bpm"], abs=0.01)


@pytest.mark.parametrize("a_resp, message", [
    ("", r"column a_resp has 0 usable values in 2000 rows \(2000 empty, 0 infinite or "
         r"implausibly large\); it must hold person A's breathing"),
    ("1e300", r"column a_resp has 0 usable values in 2000 rows \(0 empty, 2000 infinite"),
    ("inf", r"column a_resp has 0 usable values"),
])
def test_a_breathing_column_without_samples_is_refused(tmp_path: Path, a_resp: str,
                                                       message: str,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    """An empty a_resp column was analysed into all n/a (a session without A's breathing
    is an error); now it is one line naming the column, as is one of impossible numbers."""
    path = tmp_path / "a.csv"
    path.write_text("time,a_resp,b_resp\n" + "".join(
        f"{i / 10},{a_resp},{np.sin(i / 10):.4f}\n" for i in range(2000)))
    assert main(["analyze", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(message, err), err


def test_a_csv_from_excel_starts_with_a_byte_order_mark(tmp_path: Path) -> None:
    """Excel's "CSV UTF-8" begins with U+FEFF, which made the first column "\\ufefftime"
    and the file "missing column(s) time"."""
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbftime,a_resp,b_resp\r\n0,1,2\r\n0.04,1.5,2\r\n")
    cols = load_csv(path)
    assert list(cols) == ["time", "a_resp", "b_resp"] and cols["a_resp"][1] == 1.5
