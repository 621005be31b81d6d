"""Data types shared by every protocol driver: the decoded Sample, errors, advertisements."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict


class Sample(TypedDict, total=False):
    """One decoded reading of a device, in SI units (current > 0 means charging).

    Multi-pack devices (a Seplos V3 system with parallel packs, Renogy batteries
    behind one BT module at several Modbus ids) put one Sample per pack in
    `packs`, in address order, each with `pack_address` (the pack number or
    Modbus id it answered from); the top-level values are the system's (see
    `checks.summarise_packs`). Every value, top-level and per pack, passed the
    plausibility rule in `checks`.
    """

    voltage: float
    current: float
    power: float
    battery_level: float
    cycle_charge: float
    cycle_capacity: float
    design_capacity: float
    cycles: int
    temperatures: list[float]
    cell_voltages: list[float]
    cell_count: int
    delta_voltage: float
    battery_health: float
    runtime: float
    problem_code: int
    chrg_mosfet: bool
    dischrg_mosfet: bool
    balancer: bool
    heater: bool
    # solar charge controllers
    pv_voltage: float
    pv_current: float
    pv_power: float
    load_voltage: float
    load_current: float
    load_power: float
    load_on: bool
    charging_state: str
    charging_power: float
    controller_temperature: float
    battery_temperature: float
    energy_generated_today: float
    energy_generated_total: float
    # inverters and inverter-chargers
    ac_input_voltage: float
    ac_input_current: float
    ac_input_frequency: float
    ac_output_voltage: float
    ac_output_current: float
    ac_output_frequency: float
    load_apparent_power: float
    load_percentage: int
    line_charging_current: float
    # battery monitors with a second (starter) battery input
    starter_voltage: float
    # identification, where a family reports it
    model: str
    serial_number: str
    sw_version: str
    hw_version: str
    # multi-pack devices
    packs: list[Sample]
    pack_address: int


class FrameError(ValueError):
    """A notification or frame is malformed; the message names family and defect."""


@dataclass(frozen=True, slots=True)
class Advertisement:
    """The parts of a BLE advertisement that identify a device family (no HA types)."""

    local_name: str | None = None
    service_uuids: tuple[str, ...] = ()
    manufacturer_data: Mapping[int, bytes] = field(default_factory=dict)
    service_data: Mapping[str, bytes] = field(default_factory=dict)
    address: str | None = None
    connectable: bool = True

    @classmethod
    def from_any(cls, adv: Any) -> Advertisement:
        """Build from an Advertisement, a mapping, or an object such as HA's BluetoothServiceInfo."""
        if isinstance(adv, Advertisement):
            return adv
        get = adv.get if isinstance(adv, Mapping) else (lambda k, d=None: getattr(adv, k, d))
        name = get("local_name", None)
        if name is None:
            name = get("name", None)
        address = get("address", None)
        # HA reports the address as name when a device advertises none.
        if isinstance(name, str) and address is not None and (
            name.replace("-", ":").upper() == str(address).upper()
        ):
            name = None
        mfr_raw = get("manufacturer_data", None) or {}
        mfr = {
            int(k): (bytes.fromhex(v) if isinstance(v, str) else bytes(v))
            for k, v in mfr_raw.items()
        }
        svc_raw = get("service_data", None) or {}
        svc = {
            str(k).lower(): (bytes.fromhex(v) if isinstance(v, str) else bytes(v))
            for k, v in svc_raw.items()
        }
        return cls(
            local_name=name,
            service_uuids=tuple(str(u).lower() for u in (get("service_uuids", None) or ())),
            manufacturer_data=mfr,
            service_data=svc,
            address=get("address", None),
            connectable=bool(get("connectable", True)),
        )
