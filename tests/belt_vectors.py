"""The shared belt-protocol test vectors (firmware_bridge/test_vectors/belt_v1.json)."""

from __future__ import annotations

import json
from pathlib import Path

from rapport_sync.protocol.belt import BeatFrame, DeviceInfoFrame, SamplesFrame, StatusFrame

REPO = Path(__file__).resolve().parents[1]
VECTORS = json.loads((REPO / "firmware_bridge/test_vectors/belt_v1.json").read_text())


def frame_from_fields(fields: dict) -> SamplesFrame | DeviceInfoFrame | StatusFrame | BeatFrame:
    """The record a vector's ``fields`` describe."""
    f = dict(fields)
    kind = f.pop("type")
    if kind == "samples":
        return SamplesFrame(f["seq"], f["device_time_us"], f["sample_rate_mhz"],
                            tuple(tuple(r) for r in f["samples"]))
    if kind == "device_info":
        return DeviceInfoFrame(f["seq"], tuple(f["firmware_version"]), f["n_channels"],
                               f["adc_bits"], f["sample_rate_mhz"], f["board"])
    if kind == "status":
        return StatusFrame(f["seq"], f["device_time_us"], tuple(f["belt_connected"]),
                           tuple(f["clipping"]))
    assert kind == "beat", kind
    return BeatFrame(**f)
