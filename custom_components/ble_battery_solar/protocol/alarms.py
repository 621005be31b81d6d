"""Named alarm conditions decoded from a family's problem_code bits.

A driver's `alarm_bits` maps a bit of its `problem_code` to (condition, severity).
Conditions are one shared vocabulary, so an owner sees "Cell over-voltage" whatever
the brand; several bits may name the same condition (a warning level and a
protection level, or charge and discharge short circuit). Severities:

- "warning": the BMS reports the limit is near; it still charges and discharges;
- "protection": the BMS acted (switched charging or discharging off) and recovers
  by itself once the cause is gone;
- "fault": a hardware or configuration fault the BMS cannot recover from alone.

Bits a table does not name are left to the raw problem_code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

type Severity = Literal["warning", "protection", "fault"]
type AlarmBit = tuple[str, Severity]

SEVERITIES: Final[tuple[Severity, ...]] = ("warning", "protection", "fault")

# The vocabulary, in the order an owner reads it (most urgent kinds first within a group).
CONDITIONS: Final[tuple[str, ...]] = (
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
)

# Conditions that need the owner's hands: a short to find, a part to replace, a setting
# to correct, a lock to release in the vendor's app. The others clear by themselves.
NEEDS_ACTION: Final = frozenset({
    "short_circuit", "mosfet_fault", "sensor_fault", "wiring_fault", "hardware_fault",
    "configuration_error", "outputs_locked",
})


def warning(condition: str) -> AlarmBit:
    """A bit that warns of a condition."""
    return (condition, "warning")


def protection(condition: str) -> AlarmBit:
    """A bit that says the BMS switched off because of a condition."""
    return (condition, "protection")


def fault(condition: str) -> AlarmBit:
    """A bit that reports a fault."""
    return (condition, "fault")


def active_alarms(table: Mapping[int, AlarmBit], problem_code: int) -> dict[str, Severity]:
    """The conditions whose bits are set, each with the highest severity of its set bits.

    Ordered as CONDITIONS.
    """
    found: dict[str, Severity] = {}
    for bit, (condition, severity) in table.items():
        if problem_code >> bit & 1:
            known = found.get(condition)
            if known is None or SEVERITIES.index(severity) > SEVERITIES.index(known):
                found[condition] = severity
    return {c: found[c] for c in CONDITIONS if c in found}


def unnamed_bits(table: Mapping[int, AlarmBit], problem_code: int) -> int:
    """The set bits of problem_code that the table does not name."""
    named = 0
    for bit in table:
        named |= 1 << bit
    return problem_code & ~named


def check_table(family: str, table: Mapping[int, AlarmBit]) -> None:
    """Raise ValueError for a table naming a condition or severity outside the vocabulary."""
    for bit, (condition, severity) in table.items():
        if condition not in CONDITIONS or severity not in SEVERITIES or bit < 0:
            raise ValueError(f"{family}: alarm bit {bit} names {condition!r}/{severity!r}")
