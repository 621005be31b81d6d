"""blesim's simulated devices, checked against the protocol library (no Home Assistant).

Every family's encoder output is decoded by the integration's driver, whole and
in the device's MTU-sized notifications; advertisements must be claimed by
exactly the right driver; faults must be rejected as malformed; replay must
reproduce the captured vectors; the models must evolve plausibly over time.
"""

from __future__ import annotations

import pytest

from blesim import DEVICE_CLASSES, FAMILIES, BatteryModel, SolarModel, make_device
from blesim.devices import SimDevice
from blesim.framing import crc16_modbus, crc16_xmodem
from blesim.replay import load_vectors
from custom_components.ble_battery_solar.protocol import (
    FrameError,
    decode,
    drivers_matching,
    get_driver,
)
from custom_components.ble_battery_solar.protocol.base import Advertisement
from custom_components.ble_battery_solar.protocol.base import crc16_modbus as lib_crc16
from custom_components.ble_battery_solar.protocol.base import crc16_xmodem as lib_xmodem

ADDRESS = "AA:BB:CC:00:00:01"
# protocols that carry no cell voltages (LiPower / Ective BM X, Pro, Super-B, Buknuwo,
# Renogy Smart Shunt: pack values only)
NO_CELL_DATA = frozenset({"lipower", "pro", "superb", "buknuwo", "renogy_shunt"})
# protocols that report only the highest and lowest cell (Pylontech RT): the spread, no cell list
CELL_SPREAD_ONLY = frozenset({"pylontech"})
# power stations that report state of charge and power, but no voltage or current
POWER_ONLY = frozenset({"allpowers"})
VECTORS = list(load_vectors().values())


def test_every_protocol_family_has_a_simulated_device() -> None:
    from custom_components.ble_battery_solar.protocol import FAMILIES as LIBRARY

    assert set(LIBRARY) - {"victron"} <= set(FAMILIES)


def poll(device: SimDevice, variant: str | None = None) -> list[bytes]:
    """One poll as the integration runs it, returning the notifications (MTU-sized)."""
    if variant is None:  # what the config flow stores from the advertisement
        adv = Advertisement.from_any({**device.advertisement(), "address": device.address})
        variant = get_driver(device.family).variant_for(adv)
    driver = get_driver(device.family)(variant)
    if driver.read_uuid is not None:
        return [device.read(driver.read_uuid)]
    device.on_connect()
    frames: list[bytes] = []
    for request in driver.requests():
        frames += device.respond(driver.write_uuid, request)
    if not driver.requests():
        frames += device.stream()
    size = device.mtu - 3
    return [f[i : i + size] for f in frames for i in range(0, len(f), size)]


@pytest.mark.parametrize("family", FAMILIES)
def test_encoder_output_decodes_to_the_model(family: str) -> None:
    device = make_device(family, ADDRESS)
    notifications = poll(device)
    sample = decode(family, notifications)
    whole = decode(family, [b"".join(notifications)])
    assert sample == whole
    battery = device.model.battery if isinstance(device.model, SolarModel) else device.model
    if family != "votronic":  # a solar charger's frame carries no state of charge
        assert sample["battery_level"] == pytest.approx(battery.soc * 100, abs=1)
    if family == "ble_battery_service":
        return
    if family in POWER_ONLY:
        assert sample["power"] == pytest.approx(battery.voltage * battery.current, abs=1)
        return
    assert sample["voltage"] == pytest.approx(battery.voltage, abs=0.06)
    if isinstance(device.model, SolarModel):
        assert sample["charging_state"] in ("deactivated", "standby", "mppt", "boost", "floating", "bulk")
        if "pv_power" in sample:
            assert sample["pv_power"] == pytest.approx(device.model.pv_power, abs=1)
        else:  # a controller reporting only what it charges with
            charging = device.model.pv_power * device.model.efficiency
            assert sample["charging_power"] == pytest.approx(charging, abs=1)
        return
    assert sample["current"] == pytest.approx(battery.current, abs=0.1)
    if family in NO_CELL_DATA:
        assert "cell_voltages" not in sample
        return
    if family in CELL_SPREAD_ONLY:
        assert "cell_voltages" not in sample
        assert sample["delta_voltage"] == pytest.approx(battery.delta, abs=0.001)
        return
    cell_step = {"renogy_battery": 0.1, "lithionics": 0.01}.get(family, 0.001)
    assert sample["cell_voltages"] == pytest.approx(battery.cell_voltages, abs=cell_step)


@pytest.mark.parametrize("family", FAMILIES)
def test_advertisement_is_claimed_by_its_driver_only(family: str) -> None:
    address = getattr(DEVICE_CLASSES[family], "default_address", ADDRESS)
    device = make_device(family, address)
    adv = Advertisement.from_any({**device.advertisement(), "address": address})
    claimed = [d.family for d in drivers_matching(adv)]
    if family in get_driver("renogy_battery").alternatives:
        # BT-1/BT-2 modules look the same on Renogy batteries and on Renogy and SRNE controllers
        assert claimed == ["renogy_battery"]
    elif not get_driver(family).discoverable and not get_driver(family).matchers:
        assert claimed == []  # no recorded advertisement: the user identifies it
    else:
        assert claimed == [family]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("fault", ["corrupt", "truncate"])
def test_damaged_frames_are_rejected(family: str, fault: str) -> None:
    device = make_device(family, ADDRESS)
    setattr(device.faults, fault, True)
    notifications = poll(device)
    driver = get_driver(family)()
    try:
        decode(family, notifications)
    except FrameError:
        return
    # A truncated frame may also just never complete: the poll would time out.
    assert fault == "truncate"
    assert not driver.response_complete(driver.requests()[-1] if driver.requests() else None,
                                        notifications)


def test_no_answer_swallows_requests_and_streams() -> None:
    for family in FAMILIES:
        device = make_device(family, ADDRESS)
        device.faults.no_answer = True
        if family != "ble_battery_service":
            assert poll(device) == []


@pytest.mark.parametrize(("family", "variant"), [
    ("jk", "JK02_24S"), ("ant", "legacy"), ("renogy_battery", "pro"), ("daly", "80"),
    ("superb", "v2"),
])
def test_variants_decode(family: str, variant: str) -> None:
    device = make_device(family, ADDRESS, variant=variant)
    sample = decode(family, poll(device, variant), variant=variant)
    assert sample["voltage"] == pytest.approx(device.model.voltage, abs=0.06)
    assert sample["current"] == pytest.approx(device.model.current, abs=0.1)


def test_jk_streams_cell_info_after_0x96_only() -> None:
    device = make_device("jk", ADDRESS)
    device.on_connect()
    assert device.stream() == []
    poll(device)
    streamed = device.stream()
    assert len(streamed) == 1
    assert streamed[0][4] == 0x02
    device.on_connect()  # a new link starts quiet again
    assert device.stream() == []


def test_modbus_devices_answer_like_a_slave() -> None:
    device = make_device("eg4", ADDRESS)
    body = bytes.fromhex("010300000027")
    good = body + crc16_modbus(body).to_bytes(2, "little")
    assert device.on_write(device.write_uuid, good)[0][:3] == bytes.fromhex("01034e")
    assert device.on_write(device.write_uuid, good[:-1] + b"\x00") == []  # bad CRC: dropped
    other = bytes.fromhex("020300000027")
    assert device.on_write(device.write_uuid, other + crc16_modbus(other).to_bytes(2, "little")) == []
    beyond = bytes.fromhex("010300000040")
    reply = device.on_write(device.write_uuid, beyond + crc16_modbus(beyond).to_bytes(2, "little"))
    assert reply[0][:3] == bytes.fromhex("018302")  # illegal data address


def test_checksums_agree_with_the_library() -> None:
    for data in (b"", b"\x01\x03\x00\x00\x00\x27", bytes(range(200))):
        assert crc16_modbus(data) == lib_crc16(data)
        assert crc16_xmodem(data) == lib_xmodem(data)


REPLAYABLE = [
    v["id"] for v in VECTORS
    if not v.get("malformed") and v["family"] in FAMILIES
    and all(r.hex() in (v.get("requests") or [])
            for r in get_driver(v["family"])(v.get("variant")).requests())
    and not (v["family"] == "jk" and not v.get("requests"))
]


@pytest.mark.parametrize("vector_id", REPLAYABLE)
def test_replay_reproduces_the_captured_values(vector_id: str) -> None:
    vector = next(v for v in VECTORS if v["id"] == vector_id)
    device = make_device(vector["family"], ADDRESS, replay=vector_id)
    variant = vector.get("variant")
    sample = decode(vector["family"], poll(device, variant), variant=variant)
    expected = vector["expected"]
    for key in ("voltage", "current", "battery_level", "pv_power"):
        if key in expected and key in sample and vector["family"] != "seplos":
            assert sample[key] == pytest.approx(expected[key], abs=0.06), key
    assert sample


def test_replay_rejects_a_vector_of_another_family() -> None:
    with pytest.raises(ValueError, match="jbd vector"):
        make_device("jk", ADDRESS, replay="jbd_1")


def test_battery_model_follows_its_current() -> None:
    now = [0.0]
    model = BatteryModel(capacity_ah=100, soc=0.5, current=-10.0, clock=lambda: now[0])
    model.step()
    now[0] += 3600
    model.step()
    assert model.soc == pytest.approx(0.4)
    before = model.cell_voltages
    model.current = 20.0
    now[0] += 3600
    model.step()
    assert model.soc == pytest.approx(0.6)
    assert sum(model.cell_voltages) > sum(before)  # charging raises the voltage
    assert model.temperatures[0] > 24.5  # and warms the pack


def test_battery_model_counts_cycles_and_cells_drift() -> None:
    model = BatteryModel(capacity_ah=10, soc=1.0, current=-10.0, cycles=0)
    start = list(model._offsets)
    for _ in range(25):
        model.advance(0.1)
        model.soc = max(model.soc, 0.5)
    assert model.cycles == 2
    assert model._offsets != start
    assert max(model.cell_voltages) - min(model.cell_voltages) < 0.07


def test_solar_model_follows_the_day_and_accumulates_yield() -> None:
    wall, mono = [0.0], [0.0]  # midnight UTC
    battery = BatteryModel(capacity_ah=1000, soc=0.2)
    solar = SolarModel(battery=battery, wall=lambda: wall[0], clock=lambda: mono[0])
    solar.step()
    assert solar.pv_power == 0
    assert solar.charging_state == "deactivated"
    for _ in range(13 * 4):  # to 13:00 in 15-minute steps
        wall[0] += 900
        mono[0] += 900
        solar.step()
    assert solar.pv_power > 0.9 * solar.peak_w
    assert solar.charging_state in ("mppt", "boost", "floating")
    assert 1000 < solar.energy_today < solar.peak_w * 13
    noon_yield = solar.energy_today
    for _ in range(12 * 4):  # past midnight: today's yield restarts
        wall[0] += 900
        mono[0] += 900
        solar.step()
    assert solar.energy_today < noon_yield
    assert solar.energy_total > 125_000 + noon_yield
