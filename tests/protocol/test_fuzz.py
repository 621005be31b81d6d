"""Property-based fuzzing of every decoder: only FrameError or a sane decode, never a crash.

The bounded profile runs in the suite; `scripts/fuzz` runs the long one
(HYPOTHESIS_PROFILE=long).
"""

from __future__ import annotations

import math
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custom_components.ble_battery_solar.protocol import FAMILIES, FrameError, decode

from .vectors import VALID, frames_of

settings.register_profile("ci", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=20000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

VALID_BY_FAMILY = {f: [frames_of(v) for v in VALID if v["family"] == f] for f in FAMILIES}


def _check(family: str, frames: list[bytes]) -> None:
    try:
        sample = decode(family, frames)
    except FrameError as err:
        message = str(err)
        assert family in message
        return
    for pack in sample.get("packs", []):
        _check_values(family, pack)
    _check_values(family, {k: v for k, v in sample.items() if k != "packs"})


def _check_values(family: str, sample: dict) -> None:
    for key, value in sample.items():
        for v in value if isinstance(value, list) else [value]:
            assert isinstance(v, (int, float, str, bool)), (key, v)
            if isinstance(v, float):
                assert math.isfinite(v), key
    level = sample.get("battery_level")
    if level is not None:
        assert 0 <= level <= 100


@pytest.mark.parametrize("family", FAMILIES)
@given(data=st.lists(st.binary(max_size=400), max_size=6))
def test_random_bytes(family: str, data: list[bytes]) -> None:
    _check(family, data)


@pytest.mark.parametrize("family", [f for f in FAMILIES if VALID_BY_FAMILY[f]])
@given(data=st.data())
def test_mutated_valid_frames(family: str, data: st.DataObject) -> None:
    frames = [bytearray(f) for f in data.draw(st.sampled_from(VALID_BY_FAMILY[family]))]
    index = data.draw(st.integers(0, len(frames) - 1))
    frame = frames[index]
    action = data.draw(st.sampled_from(["flip", "truncate", "extend", "drop"]))
    if action == "flip" and frame:
        pos = data.draw(st.integers(0, len(frame) - 1))
        frame[pos] ^= 1 << data.draw(st.integers(0, 7))
    elif action == "truncate":
        del frame[data.draw(st.integers(0, len(frame))) :]
    elif action == "extend":
        frame.extend(data.draw(st.binary(min_size=1, max_size=40)))
    else:
        del frames[index]
    _check(family, [bytes(f) for f in frames])
