"""Walkthrough steps of the battery-insight features, each asserted on the page and pictured.

Cell health and decoded alarms on a pack with a weak cell and an alarm, time to full and
to empty, live data of a streaming pack, a battery bank created in the config flow, and
the opt-in MOSFET switches. Mixed into `walkthrough.Walkthrough` after `DeviceSteps`,
which provide `page`, `ha`, `shots`, `notes`, `row_value`, `_add_discovered`, `_finish`
and `_open_device`.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from page_js import DEEP_TEXT
from playwright.async_api import Locator, Page, expect

# From config/blesim.yaml: a 280 Ah JBD whose cell 2 sits 0.35 V below the others and
# which reports cell under-voltage protection; the 4-cell JBD added first (100 Ah,
# discharging at 2.5 A); the 16-cell JK, charging at 15 A and streaming.
WEAK_PACK = "DP04S007L4S280A"
WEAK_CELL = 2
ALARM = "Cell under-voltage"
FIRST_PACK = "SIM-JBD-SP04S"
STREAMING_PACK = "JK_B2A8S20P"
BANK = "House bank"
BANK_CHOICE = "Create a battery bank from configured packs…"
TIMEOUT = 45_000  # ms for one UI expectation
DATA_TIMEOUT = 90_000  # ms for a reading to show
LIVE_EVERY = 2  # s: the live update interval set for the streaming pack
LIVE_WATCH = 12.0  # s of watching its Last successful read
LIVE_POLL = 120  # s: the update interval set for it, far longer than the watch
NUMBER = r"-?\d+(?:\.\d+)?"
ROOT = Path(__file__).resolve().parent.parent

# The states the frontend holds (what its pages render): entity id, name, state and
# attributes of the entities of one device, by the device's name.
DEVICE_STATES = """name => {
  const hass = document.querySelector("home-assistant").hass;
  const dev = Object.values(hass.devices).find(d => (d.name_by_user || d.name) === name);
  if (!dev) return null;
  return Object.values(hass.entities).filter(e => e.device_id === dev.id).map(e => {
    const s = hass.states[e.entity_id];
    return {id: e.entity_id, name: s ? s.attributes.friendly_name : null,
            state: s ? s.state : null, attributes: s ? s.attributes : {}};
  });
}"""

# a duration as the frontend shows it: "31h 48m", "1h 19m", "45m"
DURATION = re.compile(r"(?:(\d+)h)? ?(?:(\d+)m)?(?<=[hm])")


def in_hours(shown: str) -> float:
    """Hours of a duration the frontend shows ("31h 48m")."""
    match = DURATION.fullmatch(shown)
    if not match:
        raise AssertionError(f"{shown!r} is not a duration")
    return int(match[1] or 0) + int(match[2] or 0) / 60


class InsightSteps:
    """Cell health, alarms, time to full/empty, live data, a bank, MOSFET switches."""

    # provided by walkthrough.Walkthrough and device_steps.DeviceSteps
    page: Page
    ha: Any
    shots: Path
    notes: list[str]
    row_value: Callable[..., Awaitable[str]]
    _add_discovered: Callable[[str], Awaitable[Any]]
    _finish: Callable[[Any], Awaitable[None]]
    _open_device: Callable[[str], Awaitable[None]]

    # -- helpers -------------------------------------------------------------------

    async def _crop(self, name: str, target: Locator) -> None:
        """A screenshot of one card or dialog (docs/screenshots/<name>.png)."""
        await self.page.wait_for_timeout(800)
        path = self.shots / f"{name}.png"
        await target.screenshot(path=str(path))
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"browser-check:   screenshot {shown}", file=sys.stderr, flush=True)

    def _card(self, title: str) -> Locator:
        """A card of the device page by its title (Controls, Sensors, Diagnostic)."""
        return self.page.locator("ha-card").filter(
            has=self.page.get_by_text(title, exact=True)
        ).first

    async def _entity(self, device: str, name: str) -> dict[str, Any]:
        """The state of a device's entity named `name` as the frontend has it."""
        states = await self.page.evaluate(DEVICE_STATES, device) or []
        for item in states:
            if item["name"] and item["name"].removeprefix(device).strip() == name:
                return dict(item)
        raise AssertionError(f"{device} has no entity {name!r}: {[s['name'] for s in states]}")

    async def _options(self, device: str) -> Locator:
        """The options dialog of a device's entry (Devices & services → Configure)."""
        page = self.page
        await page.goto(self.ha.url + "/config/integrations/integration/ble_battery_solar",
                        timeout=TIMEOUT)
        row = page.locator("ha-config-entry-row").filter(has_text=device)
        await expect(row).to_have_count(1, timeout=TIMEOUT)
        await row.get_by_role("button", name="Configure").click()
        dialog = page.locator("dialog-data-entry-flow")
        await expect(dialog.get_by_text("Polling, connection and alerts")).to_be_visible(
            timeout=TIMEOUT
        )
        return dialog

    async def _set_number(self, dialog: Locator, label: str, value: int) -> None:
        box = dialog.get_by_role("spinbutton", name=re.compile(re.escape(label)))
        await box.fill(str(value))
        await expect(box).to_have_value(str(value))

    async def _submit_options(self, dialog: Locator) -> None:
        await dialog.get_by_role("button", name="Submit").click()
        # HA confirms saved options in the same dialog, or closes it
        done = dialog.get_by_text(re.compile("Options successfully saved|Success"))
        closed = self.page.locator("dialog-data-entry-flow ha-dialog[open]")
        deadline = time.monotonic() + TIMEOUT / 1000
        while time.monotonic() < deadline:
            if await done.count():
                await dialog.get_by_role("button", name="Finish").click()
                break
            if not await closed.count():
                break
            await self.page.wait_for_timeout(300)
        await expect(dialog.get_by_text("Polling, connection and alerts")).to_be_hidden(
            timeout=TIMEOUT
        )

    async def _details(self, row_name: str, scope: Locator) -> tuple[Locator, str]:
        """An entity row's more-info dialog → ⋮ → Details (state and attributes); its text."""
        page = self.page
        await scope.get_by_text(row_name, exact=True).first.click()
        host = page.locator("ha-more-info-dialog")
        menu = host.get_by_label("Menu")
        await expect(menu).to_have_count(1, timeout=TIMEOUT)
        await menu.click()
        await page.get_by_text("Details", exact=True).first.click()
        dialog = host.locator("dialog").first
        await expect(host.get_by_text("Attributes", exact=True)).to_be_visible(timeout=TIMEOUT)
        await page.wait_for_timeout(500)
        text = " ".join((await host.evaluate(DEEP_TEXT)).replace("|", " ").split())
        return dialog, text

    async def _close_dialog(self) -> None:
        await self.page.keyboard.press("Escape")
        await expect(self.page.locator("ha-more-info-dialog dialog[open]")).to_have_count(
            0, timeout=TIMEOUT
        )

    # -- steps ---------------------------------------------------------------------

    async def cell_health_and_alarms(self) -> None:
        """A weak cell and an alarm: lowest cell named, imbalance on naming it, alarm in words."""
        page = self.page
        dialog = await self._add_discovered(WEAK_PACK)
        await self._finish(dialog)
        # judged at once instead of after 5 minutes, set as an owner would
        options = await self._options(WEAK_PACK)
        await self._set_number(options, "Imbalance must last", 0)
        await self._submit_options(options)
        await self._open_device(WEAK_PACK)
        sensors = self._card("Sensors")
        volts = re.compile(NUMBER + r" V")
        lowest = await self.row_value("Lowest cell voltage", volts, sensors)
        highest = await self.row_value("Highest cell voltage", volts, sensors)
        spread = await self.row_value("Cell voltage spread", re.compile(NUMBER + r" m?V"), sensors)
        await self.row_value("Cell imbalance", re.compile("Problem"), sensors)
        await self.row_value("Active alarms", re.compile(re.escape(ALARM)), sensors)
        state = await self._entity(WEAK_PACK, "Lowest cell voltage")
        if state["attributes"].get("cell") != WEAK_CELL:
            raise AssertionError(f"Lowest cell voltage names cell {state['attributes']}")
        size = page.viewport_size
        await page.set_viewport_size({"width": 1280, "height": 2400})
        await self._crop("09-cell-health", sensors)
        diagnostic = self._card("Diagnostic")
        await self.row_value(ALARM, re.compile("Problem"), diagnostic)
        await self.row_value("Short circuit", re.compile("OK"), diagnostic)
        await self._crop("11-alarms", diagnostic)
        if size:
            await page.set_viewport_size(size)
        info, text = await self._details("Cell imbalance", sensors)
        if not re.search(rf"Cell furthest from the average {WEAK_CELL}\b", text):
            raise AssertionError(f"Cell imbalance does not name cell {WEAK_CELL}: {text[:600]!r}")
        await self._crop("10-cell-imbalance", info)
        await self._close_dialog()
        self.notes.append(
            f"{WEAK_PACK}: lowest {lowest} (cell {WEAK_CELL}), highest {highest}, spread {spread};"
            f" Cell imbalance Problem naming cell {WEAK_CELL}; Active alarms {ALARM!r}"
        )

    async def time_to_full_and_empty(self) -> None:
        """A discharging pack shows Time to empty, a charging one Time to full, in hours."""
        page = self.page
        # the first pack is still released for the phone app (release step): end it early
        await self._open_device(FIRST_PACK)
        row = page.locator("hui-button-entity-row, hui-generic-entity-row").filter(
            has=page.get_by_text("Reconnect now", exact=True)
        ).first
        await row.get_by_role("button", name=re.compile("^Press$", re.IGNORECASE)).click()
        sensors = self._card("Sensors")
        await self.row_value("Connection", re.compile("Connected|Idle"), sensors)
        hours = DURATION
        empty = await self.row_value("Time to empty", hours, sensors)
        await self.row_value("Time to full", re.compile("Unknown"), sensors)
        # 80 Ah left at 2.5 A: 32 h
        if not 25 <= in_hours(empty) <= 40:
            raise AssertionError(f"{FIRST_PACK}: Time to empty {empty}, expected about 32 h")
        await self._open_device(STREAMING_PACK)
        sensors = self._card("Sensors")
        full = await self.row_value("Time to full", hours, sensors)
        await self.row_value("Time to empty", re.compile("Unknown"), sensors)
        # 20 Ah missing at 15 A: 1.3 h
        if not 0.8 <= in_hours(full) <= 2:
            raise AssertionError(f"{STREAMING_PACK}: Time to full {full}, expected about 1.3 h")
        size = page.viewport_size
        await page.set_viewport_size({"width": 1280, "height": 2400})
        await self._crop("12-time-to-full", sensors)
        if size:
            await page.set_viewport_size(size)
        self.notes.append(f"{FIRST_PACK} Time to empty {empty}; {STREAMING_PACK} Time to full {full}")

    async def live_data(self) -> None:
        """A streaming pack read every 2 minutes updates every 2 seconds from its stream."""
        options = await self._options(STREAMING_PACK)
        await self._set_number(options, "Update interval", LIVE_POLL)
        await self._set_number(options, "Keep connection open", 2 * LIVE_POLL)
        live = options.get_by_role("spinbutton", name=re.compile("Live update interval"))
        await expect(live).to_have_value("5")  # the default
        await self._set_number(options, "Live update interval", LIVE_EVERY)
        size = self.page.viewport_size
        await self.page.set_viewport_size({"width": 1280, "height": 1500})  # the whole form
        await options.get_by_text("Polling, connection and alerts").click()  # no focused field
        await self._crop("13-live-update-interval", options.locator("dialog").first)
        if size:
            await self.page.set_viewport_size(size)
        await self._submit_options(options)
        await self._open_device(STREAMING_PACK)
        seen: list[str] = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < LIVE_WATCH:
            state = (await self._entity(STREAMING_PACK, "Last successful read"))["state"]
            if state not in seen:
                seen.append(state)
            await self.page.wait_for_timeout(500)
        # at most one of them can be a poll (every 120 s): the others were streamed
        if len(seen) < 4:
            raise AssertionError(
                f"{STREAMING_PACK}: Last successful read took {seen} in {LIVE_WATCH:.0f} s"
                f" with an update interval of {LIVE_POLL} s: no live updates"
            )
        # and the page says so (a relative time, in the row's shadow DOM)
        row = self._card("Diagnostic").locator("hui-generic-entity-row").filter(
            has=self.page.get_by_text("Last successful read", exact=True)
        ).first
        shown = await row.evaluate(DEEP_TEXT)
        if not re.search(r"\d+ seconds? ago|now", shown, re.IGNORECASE):
            raise AssertionError(f"{STREAMING_PACK}: Last successful read shows {shown!r}")
        self.notes.append(
            f"{STREAMING_PACK}: {len(seen)} fresh readings in {LIVE_WATCH:.0f} s"
            f" with an update interval of {LIVE_POLL} s, live every {LIVE_EVERY} s"
        )

    async def battery_bank(self) -> None:
        """Two packs as one bank: summed current, capacity-weighted SOC, lowest cell with pack."""
        page = self.page
        await page.goto(self.ha.url + "/config/integrations/integration/ble_battery_solar",
                        timeout=TIMEOUT)
        await page.get_by_role("button", name="Add device").click()
        # with devices discovered, Home Assistant offers them first
        another = page.get_by_text("Set up another instance of BLE Battery & Solar")
        dialog = page.locator("dialog-data-entry-flow")
        title = dialog.get_by_text("Add a battery or solar controller")
        await expect(another.or_(title).first).to_be_visible(timeout=TIMEOUT)
        if await another.count():
            await another.click()
        await expect(title).to_be_visible(timeout=TIMEOUT)
        await dialog.get_by_text("Device", exact=True).first.click()
        await page.get_by_role("option", name=BANK_CHOICE).or_(
            page.get_by_text(BANK_CHOICE, exact=True)
        ).first.click()
        await dialog.get_by_role("button", name="Submit").click()
        await expect(dialog.get_by_text("Create a battery bank", exact=True)).to_be_visible(
            timeout=TIMEOUT
        )
        await dialog.get_by_role("textbox", name=re.compile("^Name")).fill(BANK)
        for pack, wanted in ((FIRST_PACK, True), (WEAK_PACK, True), (STREAMING_PACK, False)):
            box = dialog.get_by_role("checkbox", name=pack, exact=True)
            if await box.is_checked() != wanted:
                await dialog.get_by_text(pack, exact=True).click()
            await expect(box).to_be_checked(checked=wanted)
        await self._crop("14-bank-create", dialog.locator("dialog").first)
        await dialog.get_by_role("button", name="Submit").click()
        await self._finish(dialog)
        await self._open_device(BANK)
        sensors = self._card("Sensors")
        current = await self.row_value("Current", re.compile(NUMBER + " A"), sensors)
        soc = await self.row_value("Battery", re.compile(r"(\d+) ?%"), sensors)
        lowest = await self.row_value("Lowest cell voltage", re.compile(NUMBER + " V"), sensors)
        # the packs: 100 Ah at about 80 %, 280 Ah at 12 %; weighted about 30 %, plain mean 46 %
        if not 25 <= int(re.match(r"\d+", soc)[0]) <= 35:  # type: ignore[index]
            raise AssertionError(f"{BANK}: Battery {soc}, expected about 30 % (by capacity)")
        if current != "-2.50 A":
            raise AssertionError(f"{BANK}: Current {current}, expected -2.50 A + 0.00 A")
        size = page.viewport_size
        await page.set_viewport_size({"width": 1280, "height": 1600})
        await self._crop("15-bank-device", page.locator("ha-config-device-page"))
        info, text = await self._details("Lowest cell voltage", sensors)
        if not re.search(rf"Pack {WEAK_PACK} .*Cell {WEAK_CELL}\b|Cell {WEAK_CELL} .*Pack {WEAK_PACK}",
                         text):
            raise AssertionError(f"{BANK}: Lowest cell voltage does not name {WEAK_PACK} cell"
                                 f" {WEAK_CELL}: {text[:600]!r}")
        await self._crop("16-bank-lowest-cell", info)
        await self._close_dialog()
        if size:
            await page.set_viewport_size(size)
        self.notes.append(f"{BANK}: Current {current}, Battery {soc}, lowest cell {lowest}"
                          f" ({WEAK_PACK} cell {WEAK_CELL})")

    async def battery_control(self) -> None:
        """Allow control (with its warning), then the MOSFET switches show what the BMS reports."""
        page = self.page
        options = await self._options(FIRST_PACK)
        # the options form has more switches (Pair ...): the one labelled Allow control
        field = options.locator("ha-selector-boolean").filter(has_text="Allow control")
        allow = field.get_by_role("switch")
        await expect(allow).not_to_be_checked()  # off by default
        await allow.scroll_into_view_if_needed()
        await field.get_by_text("Allow control", exact=False).first.click()
        await expect(allow).to_be_checked()
        await expect(options.get_by_text(re.compile("Switching discharging off cuts power to"
                                                    " everything the battery supplies"))
                     ).to_be_visible()
        size = page.viewport_size
        await page.set_viewport_size({"width": 1280, "height": 1500})
        await options.get_by_text("Polling, connection and alerts").click()
        await self._crop("17-allow-control", options.locator("dialog").first)
        if size:
            await page.set_viewport_size(size)
        await self._submit_options(options)
        await self._switch_mosfets()

    async def _switch_mosfets(self) -> None:
        """Discharging off and on again: the switch, the MOSFET and the current follow the BMS."""
        page = self.page
        await self._open_device(FIRST_PACK)
        controls = self._card("Controls")
        toggles = {}
        for name in ("Charging", "Discharging"):
            row = controls.locator("hui-toggle-entity-row").filter(
                has=page.get_by_text(name, exact=True)
            ).first
            toggles[name] = row.get_by_role("switch")
            await expect(toggles[name]).to_be_checked(timeout=DATA_TIMEOUT)
        flip = controls.locator("hui-toggle-entity-row").filter(
            has=page.get_by_text("Discharging", exact=True)
        ).first.locator("ha-entity-toggle")
        await flip.click()
        # what the BMS reports after the command: its switch, its MOSFET, no current
        await self._wait_state(FIRST_PACK, "Discharging", "off")
        await self._wait_state(FIRST_PACK, "Discharge MOSFET", "off")
        await expect(toggles["Discharging"]).not_to_be_checked()
        await expect(toggles["Charging"]).to_be_checked()
        await self.row_value("Current", re.compile(r"-?0\.00 A"), self._card("Sensors"))
        await self._crop("18-mosfet-switches", controls)
        await flip.click()
        await self._wait_state(FIRST_PACK, "Discharging", "on")
        await self._wait_state(FIRST_PACK, "Discharge MOSFET", "on")
        await self.row_value("Current", re.compile(r"-2\.50 A"), self._card("Sensors"))
        self.notes.append(f"{FIRST_PACK}: Allow control on; Discharging off → the BMS reported it"
                          " off, no current; on again → -2.50 A")

    async def _wait_state(self, device: str, name: str, wanted: str) -> None:
        deadline = time.monotonic() + DATA_TIMEOUT / 1000
        state = None
        while time.monotonic() < deadline:
            state = (await self._entity(device, name))["state"]
            if state == wanted:
                return
            await self.page.wait_for_timeout(300)
        raise AssertionError(f"{device} {name} is {state!r}, expected {wanted!r}")
