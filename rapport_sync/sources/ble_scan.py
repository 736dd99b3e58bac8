"""``rapport-sync scan``: list the Bluetooth LE heart-rate straps nearby.

Without a Bluetooth adapter, or on Linux without BlueZ/D-Bus, bleak raises ``BleakError``
(``BleakBluetoothNotAvailableError`` from bleak 2) or an ``OSError``
(``FileNotFoundError``); :func:`bluetooth_unavailable` recognises them, for the scan here
and for a strap's connection (:mod:`.ble`), and they become one clear ``SourceError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bleak.exc import BleakError

try:  # bleak >= 2
    from bleak.exc import BleakBluetoothNotAvailableError
except ImportError:  # pragma: no cover - older bleak says it in the message only
    BleakBluetoothNotAvailableError = BleakError  # type: ignore[misc, assignment]

from ..errors import SourceError

__all__ = ["ScanResult", "bluetooth_unavailable", "discover", "format_scan", "run_scan",
           "scan_results"]


_NO_BLUEZ = ("org.freedesktop.DBus.Error.ServiceUnknown",  # bluetoothd not running
             "org.freedesktop.DBus.Error.AccessDenied")  # D-Bus policy refuses org.bluez


def bluetooth_unavailable(exc: BaseException) -> str | None:
    """The one line to show when ``exc`` says this machine cannot use Bluetooth now (no
    adapter, none powered, no BlueZ/D-Bus, access denied, a BlueZ too old), or None for
    an error about one strap (out of range, a link that dropped, a timeout)."""
    if isinstance(exc, (FileNotFoundError, ConnectionRefusedError)):  # no D-Bus socket
        return f"no Bluetooth adapter available (is BlueZ running? {exc})"
    if isinstance(exc, PermissionError):
        return f"no Bluetooth adapter available (access to BlueZ denied: {exc})"
    if not isinstance(exc, BleakError):
        return None
    detail = " ".join(str(a) for a in exc.args if isinstance(a, str)) or type(exc).__name__
    typed = BleakBluetoothNotAvailableError is not BleakError
    if ((typed and isinstance(exc, BleakBluetoothNotAvailableError))
            or (exc.args and exc.args[0] in _NO_BLUEZ)
            or any(words in detail.lower() for words in ("no bluetooth adapters",
                                                           "requires bluez"))):
        return f"no Bluetooth adapter available ({detail})"
    return None


@dataclass(frozen=True, slots=True)
class ScanResult:
    """One advertising device: what ``rapport-sync scan`` prints."""

    name: str
    address: str
    rssi_dbm: int
    heart_rate: bool  # advertises the Heart Rate service
    pmd: bool  # advertises Polar's PMD service, or is a Polar H10/Verity/OH1 by name

    @property
    def is_strap(self) -> bool:
        return self.heart_rate or self.pmd


def scan_results(found: dict[str, tuple[Any, Any]]) -> list[ScanResult]:
    """Turn ``BleakScanner.discover(return_adv=True)`` output into sorted rows (strongest first)."""
    from ..protocol.heart_rate import HEART_RATE_SERVICE_UUID
    from ..protocol.pmd import PMD_SERVICE_UUID

    rows = []
    for device, adv in found.values():
        uuids = {u.lower() for u in (adv.service_uuids or [])}
        name = adv.local_name or device.name or ""
        polar_pmd = any(k in name for k in ("Polar H10", "Polar Sense", "Polar OH1"))
        rows.append(
            ScanResult(
                name or "(no name)",
                device.address,
                int(adv.rssi),
                HEART_RATE_SERVICE_UUID in uuids,
                PMD_SERVICE_UUID in uuids or polar_pmd,
            )
        )
    return sorted(rows, key=lambda r: -r.rssi_dbm)


def format_scan(rows: Sequence[ScanResult], show_all: bool = False) -> str:
    shown = [r for r in rows if show_all or r.is_strap]
    if not shown:
        return "no heart-rate straps found (is the strap worn and its electrodes wet?)"
    lines = [f"{'name':<26} {'address':<20} {'signal':>7}  services"]
    for r in shown:
        services = "+".join(["HR"] * r.heart_rate + ["PMD"] * r.pmd) or "-"
        lines.append(f"{r.name[:26]:<26} {r.address:<20} {r.rssi_dbm:>4} dBm  {services}")
    return "\n".join(lines)


async def discover(timeout_s: float) -> dict[str, tuple[Any, Any]]:
    """``BleakScanner.discover`` with one clear error when there is no adapter or no BlueZ."""
    from bleak import BleakScanner

    try:
        return await BleakScanner.discover(timeout=timeout_s, return_adv=True)
    except (BleakError, OSError) as exc:  # no BlueZ/D-Bus raises FileNotFoundError
        reason = bluetooth_unavailable(exc)
        raise SourceError(reason or f"Bluetooth scan failed: {exc or type(exc).__name__}"
                          ) from exc


def run_scan(args: Any) -> int:
    """``rapport-sync scan``: list nearby straps; SourceError (one line) without an adapter."""
    rows = scan_results(asyncio.run(discover(float(getattr(args, "timeout", 5.0)))))
    print(format_scan(rows, bool(getattr(args, "all", False))))
    return 0
