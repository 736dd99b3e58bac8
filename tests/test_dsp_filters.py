"""Shared filter helpers against the scipy functions they stand in for."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as sps

from rapport_sync.dsp.filters import band_sos, finite_median, median_of, sos_response, zero_phase


@pytest.mark.parametrize("n", [16, 17, 40, 240, 3001])
@pytest.mark.parametrize("sos", [band_sos(0.1, 0.5, 4.0), sps.butter(3, 0.2, output="sos"),
                                 sps.butter(1, 0.02, "highpass", output="sos")])
def test_zero_phase_is_sosfiltfilt(n: int, sos: np.ndarray) -> None:
    x = np.random.default_rng(n).standard_normal(n).cumsum()
    np.testing.assert_allclose(zero_phase(sos, x), sps.sosfiltfilt(sos, x), rtol=0, atol=1e-10)


def test_zero_phase_refuses_what_sosfiltfilt_refuses() -> None:
    with pytest.raises(ValueError):
        zero_phase(band_sos(0.1, 0.5, 4.0), np.ones(10))


def test_medians_and_response_match_numpy_and_scipy() -> None:
    rng = np.random.default_rng(3)
    for n in (2, 3, 8, 750):
        x = rng.standard_normal(n)
        assert median_of(x.tolist()) == pytest.approx(np.median(x))
        x[::7] = np.nan
        assert finite_median(x) == pytest.approx(np.nanmedian(x))
    assert np.isnan(finite_median(np.full(4, np.nan))) and np.isnan(median_of([]))
    sos = band_sos(0.1, 0.6, 25.0)
    _, h = sps.sosfreqz(sos, worN=[0.25], fs=25.0)
    assert sos_response(sos, 0.25, 25.0) == pytest.approx(complex(h[0]), rel=1e-12)
