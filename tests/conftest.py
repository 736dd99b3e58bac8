"""Shared pytest options."""

from __future__ import annotations


def pytest_addoption(parser):  # type: ignore[no-untyped-def]
    parser.addoption(
        "--ble-device",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="run the BLE hardware tests against this strap (address or name; repeat for two)",
    )
