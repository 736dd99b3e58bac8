"""A fake ``bleak.BleakClient`` for simulated straps: the GATT table and the client calls.

:class:`FakeBleakClient` implements exactly the part of ``bleak.BleakClient`` that
:mod:`rapport_sync.sources.ble` uses, with bleak's signatures (a test compares them), so
the real BLE source runs against :class:`~rapport_sync.sources.ble_sim.SimulatedStrap`
objects "on the air". Errors are bleak's own exception types.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bleak.exc import BleakCharacteristicNotFoundError, BleakError

from ..protocol.heart_rate import (
    BATTERY_LEVEL_UUID,
    BATTERY_SERVICE_UUID,
    HEART_RATE_MEASUREMENT_UUID,
    HEART_RATE_SERVICE_UUID,
)
from ..protocol.pmd import PMD_CONTROL_POINT_UUID, PMD_DATA_UUID, PMD_SERVICE_UUID

if TYPE_CHECKING:
    from .ble_sim import SimulatedStrap

__all__ = [
    "FakeBleakClient",
    "FakeCharacteristic",
    "FakeService",
    "FakeServiceCollection",
    "strap_gatt",
]


@dataclass(frozen=True, slots=True)
class FakeCharacteristic:
    """Stands in for ``BleakGATTCharacteristic`` (what callbacks get as ``sender``)."""

    uuid: str
    handle: int
    properties: tuple[str, ...]
    service_uuid: str


class FakeService:
    def __init__(self, service_uuid: str, characteristics: Sequence[FakeCharacteristic]) -> None:
        self.uuid = service_uuid
        self.characteristics = list(characteristics)

    def get_characteristic(self, specifier: str | uuid.UUID) -> FakeCharacteristic | None:
        wanted = str(specifier).lower()
        return next((c for c in self.characteristics if c.uuid == wanted), None)


class FakeServiceCollection:
    """The subset of ``BleakGATTServiceCollection`` the source uses."""

    def __init__(self, services: Sequence[FakeService]) -> None:
        self.services = {i: s for i, s in enumerate(services)}
        self.characteristics = {c.handle: c for s in services for c in s.characteristics}

    def __iter__(self) -> Iterator[FakeService]:
        return iter(self.services.values())

    def get_service(self, specifier: int | str | uuid.UUID) -> FakeService | None:
        wanted = str(specifier).lower()
        return next((s for s in self if s.uuid == wanted), None)

    def get_characteristic(self, specifier: int | str | uuid.UUID) -> FakeCharacteristic | None:
        if isinstance(specifier, int):
            return self.characteristics.get(specifier)
        wanted = str(specifier).lower()
        return next((c for c in self.characteristics.values() if c.uuid == wanted), None)


def strap_gatt(hr_only: bool) -> FakeServiceCollection:
    handles = iter(range(0x10, 0x100, 3))
    layout: list[tuple[str, list[tuple[str, tuple[str, ...]]]]] = [
        (HEART_RATE_SERVICE_UUID, [(HEART_RATE_MEASUREMENT_UUID, ("notify",))]),
        (BATTERY_SERVICE_UUID, [(BATTERY_LEVEL_UUID, ("read", "notify"))]),
    ]
    if not hr_only:
        layout.append(
            (
                PMD_SERVICE_UUID,
                [
                    (PMD_CONTROL_POINT_UUID, ("read", "write", "indicate")),
                    (PMD_DATA_UUID, ("notify",)),
                ],
            )
        )
    return FakeServiceCollection(
        [
            FakeService(
                su, [FakeCharacteristic(cu, next(handles), props, su) for cu, props in chars]
            )
            for su, chars in layout
        ]
    )


class FakeBleakClient:
    """The subset of ``bleak.BleakClient`` used by the BLE source, same signatures.

    ``air`` maps addresses (and names) to :class:`SimulatedStrap` objects.
    """

    def __init__(
        self,
        address_or_ble_device: Any,
        disconnected_callback: Callable[[FakeBleakClient], None] | None = None,
        services: Iterable[str] | None = None,
        *,
        timeout: float = 30,
        air: Mapping[str, SimulatedStrap],
        **kwargs: Any,
    ) -> None:
        address = getattr(address_or_ble_device, "address", address_or_ble_device)
        if address not in air:
            raise BleakError(f"Device with address {address} was not found.")
        self._strap = air[address]
        self._disconnected_callback = disconnected_callback
        self._connected = False
        self._callbacks: dict[str, Callable[[Any, bytearray], None]] = {}
        self._task: asyncio.Task[None] | None = None
        self.writes: list[bytes] = []

    @property
    def address(self) -> str:
        return self._strap.address

    @property
    def name(self) -> str:
        return self._strap.name

    @property
    def is_connected(self) -> bool:
        return self._connected

    @property
    def services(self) -> FakeServiceCollection:
        if not self._connected:
            raise BleakError("Service Discovery has not been performed yet")
        return self._strap.services

    async def connect(self, **kwargs: Any) -> None:
        await asyncio.sleep(0)
        self._strap.attach(self)
        self._connected = True
        self._task = asyncio.get_running_loop().create_task(self._strap.serve(self))

    async def disconnect(self) -> None:
        await asyncio.sleep(0)
        if self._connected:
            self._lose_link()

    def _char(self, char_specifier: Any) -> FakeCharacteristic:
        spec = getattr(char_specifier, "uuid", char_specifier)
        char = self.services.get_characteristic(spec)
        if char is None:
            raise BleakCharacteristicNotFoundError(char_specifier)
        return char

    async def read_gatt_char(
        self, char_specifier: Any, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        await asyncio.sleep(0)
        return bytearray(self._strap.read(self._char(char_specifier).uuid))

    async def write_gatt_char(
        self, char_specifier: Any, data: Any, response: bool | None = None
    ) -> None:
        char = self._char(char_specifier)
        if char.uuid != PMD_CONTROL_POINT_UUID:
            raise BleakError(f"characteristic {char.uuid} is not writable")
        await asyncio.sleep(0)
        self.writes.append(bytes(data))
        indication = self._strap.on_write(bytes(data))
        asyncio.get_running_loop().call_soon(self._notify, PMD_CONTROL_POINT_UUID, indication)

    async def start_notify(
        self,
        char_specifier: Any,
        callback: Callable[[Any, bytearray], None],
        *,
        bluez: Mapping[str, Any] = {},
        cb: Mapping[str, Any] = {},
        **kwargs: Any,
    ) -> None:
        if not self._connected:
            raise BleakError("Not connected")
        char = self._char(char_specifier)
        await asyncio.sleep(0)
        self._callbacks[char.uuid] = callback

    async def stop_notify(self, char_specifier: Any) -> None:
        self._callbacks.pop(self._char(char_specifier).uuid, None)

    # ---- driven by the strap -------------------------------------------------------------

    def _notify(self, char_uuid: str, data: bytes) -> None:
        callback = self._callbacks.get(char_uuid)
        if self._connected and callback is not None:
            callback(self._strap.services.get_characteristic(char_uuid), bytearray(data))

    def _lose_link(self) -> None:
        self._connected = False
        self._callbacks.clear()
        self._strap.detach(self)
        if self._disconnected_callback is not None:
            asyncio.get_running_loop().call_soon(self._disconnected_callback, self)
