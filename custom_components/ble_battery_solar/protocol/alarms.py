"""Named alarm conditions decoded from a family's problem_code.

A driver's `alarm_bits` maps a bit of its `problem_code` to (condition, severity);
where the protocol packs a number into several bits (an enumeration such as EPEver's
"battery status: 1 over-voltage, 2 under-voltage, 3 low-voltage disconnect"), a
`Coded` key names one value of that field instead of one bit. Conditions are one
shared vocabulary, so an owner sees "Cell over-voltage" or "PV over-voltage" whatever
the brand; several bits may name the same condition (a warning level and a protection
level, or charge and discharge short circuit). Severities:

- "warning": the device reports that a limit is near; it keeps working;
- "protection": the device acted (a BMS or a charge controller switched charging,
  discharging or its load off, or limits its input) and recovers by itself once the
  cause is gone;
- "fault": a hardware, wiring or configuration fault the device cannot recover from alone.

Bits a table does not name (and values of a coded field it does not name) are left to
the raw problem_code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

type Severity = Literal["warning", "protection", "fault"]
type AlarmBit = tuple[str, Severity]

SEVERITIES: Final[tuple[Severity, ...]] = ("warning", "protection", "fault")


@dataclass(frozen=True, slots=True)
class Coded:
    """One value of a multi-bit field of problem_code (an enumeration, not a set of flags)."""

    shift: int  # lowest bit of the field
    width: int  # bits in the field
    value: int  # the field's value that names the condition

    @property
    def mask(self) -> int:
        """The bits of problem_code the field occupies."""
        return ((1 << self.width) - 1) << self.shift

    def matches(self, problem_code: int) -> bool:
        """Whether the field holds this value."""
        return (problem_code & self.mask) >> self.shift == self.value


type AlarmKey = int | Coded
# problem_code bit (or coded field value) -> (condition, severity)
type AlarmTable = Mapping[int, AlarmBit] | Mapping[AlarmKey, AlarmBit]

# The vocabulary, in the order an owner reads it (most urgent kinds first within a group).
CONDITIONS: Final[tuple[str, ...]] = (
    # batteries (BMS)
    "short_circuit",
    "cell_overvoltage",
    "cell_undervoltage",
    "pack_overvoltage",
    "pack_undervoltage",
    "charge_overcurrent",
    "discharge_overcurrent",
    "charge_overtemperature",
    "charge_undertemperature",
    "discharge_overtemperature",
    "discharge_undertemperature",
    "mosfet_overtemperature",
    "mosfet_fault",
    "cell_imbalance",
    "temperature_difference",
    "low_state_of_charge",
    "sensor_fault",
    "wiring_fault",
    "hardware_fault",
    "configuration_error",
    "outputs_locked",
    # solar charge controllers and DC-DC chargers: PV (and alternator) input
    "pv_reverse_polarity",
    "pv_short_circuit",
    "pv_overvoltage",
    "pv_input_error",
    "pv_overcurrent",
    "pv_overpower",
    "pv_reverse_current",
    "alternator_overvoltage",
    "alternator_overcurrent",
    "starter_reverse_polarity",
    # ... the load output
    "load_short_circuit",
    "load_overcurrent",
    "load_fault",
    # ... the battery they charge
    "battery_overvoltage",
    "battery_undervoltage",
    "battery_overdischarge",
    "battery_overtemperature",
    "battery_undertemperature",
    "battery_internal_resistance",
    "battery_fault",
    "battery_voltage_unrecognised",
    "bms_charge_protection",
    # ... the controller itself
    "controller_mosfet_fault",
    "controller_overtemperature",
    "ambient_overtemperature",
    "fan_fault",
    "controller_fault",
)

# Conditions that need the owner's hands: a short to find, a part to replace, a setting
# to correct, a lock to release in the vendor's app, wiring to correct. The others clear
# by themselves.
NEEDS_ACTION: Final = frozenset({
    "short_circuit", "mosfet_fault", "sensor_fault", "wiring_fault", "hardware_fault",
    "configuration_error", "outputs_locked",
    "pv_reverse_polarity", "pv_short_circuit", "pv_overvoltage", "pv_input_error",
    "starter_reverse_polarity", "load_short_circuit", "load_fault", "battery_fault",
    "battery_voltage_unrecognised", "controller_mosfet_fault", "fan_fault",
})


def warning(condition: str) -> AlarmBit:
    """A bit that warns of a condition."""
    return (condition, "warning")


def protection(condition: str) -> AlarmBit:
    """A bit that says the device switched off (or limits itself) because of a condition."""
    return (condition, "protection")


def fault(condition: str) -> AlarmBit:
    """A bit that reports a fault."""
    return (condition, "fault")


def _is_set(key: AlarmKey, problem_code: int) -> bool:
    if isinstance(key, Coded):
        return key.matches(problem_code)
    return bool(problem_code >> key & 1)


def active_alarms(table: AlarmTable, problem_code: int) -> dict[str, Severity]:
    """The conditions whose bits are set, each with the highest severity of its set bits.

    Ordered as CONDITIONS.
    """
    found: dict[str, Severity] = {}
    for key, (condition, severity) in table.items():
        if _is_set(key, problem_code):
            known = found.get(condition)
            if known is None or SEVERITIES.index(severity) > SEVERITIES.index(known):
                found[condition] = severity
    return {c: found[c] for c in CONDITIONS if c in found}


def unnamed_bits(table: AlarmTable, problem_code: int) -> int:
    """The set bits of problem_code that the table does not name.

    A coded field's bits count as named only while it holds a value the table names.
    """
    named = 0
    for key in table:
        if isinstance(key, Coded):
            if key.matches(problem_code):
                named |= key.mask
        else:
            named |= 1 << key
    return problem_code & ~named


def check_table(family: str, table: AlarmTable) -> None:
    """Raise ValueError for a table naming a condition or severity outside the vocabulary,
    a negative bit, or a coded value that does not fit its field (or is 0, the normal state).
    """
    for key, (condition, severity) in table.items():
        if isinstance(key, Coded):
            fits = key.shift >= 0 and key.width > 0 and 0 < key.value < 1 << key.width
        else:
            fits = key >= 0
        if condition not in CONDITIONS or severity not in SEVERITIES or not fits:
            raise ValueError(f"{family}: alarm bit {key} names {condition!r}/{severity!r}")
