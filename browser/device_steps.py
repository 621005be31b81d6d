"""Walkthrough steps after the first device is added.

Adding a Renogy BT module (the flow probes it and preselects the charge controller),
releasing a device for the phone app (Connection says until when), and the device
page of a 16-cell pack (cells and probes on the Diagnostic card). Mixed into
`walkthrough.Walkthrough`, which provides `page`, `ha`, `shot`, `notes`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect

# From config/blesim.yaml: a Renogy BT-2 module on a Rover charge controller, and a
# 16-cell JK pack.
RENOGY = "BT-TH-A1B2C3D4"
CONTROLLER = "Renogy solar charge controller (BT-1/BT-2)"
PACK = "JK_B2A8S20P"
PACK_CELLS = 16
RELEASE = "SIM-JBD-SP04S"  # the device added first
RELEASED = "Released for the phone app"
# all text of the page, shadow roots included, text nodes joined by " | "
PAGE_TEXT = """() => {
  const out = [];
  const walk = n => {
    if (n.nodeType === Node.TEXT_NODE) { const t = n.textContent.trim(); if (t) out.push(t); return; }
    if (n.shadowRoot) walk(n.shadowRoot);
    for (const c of n.childNodes) walk(c);
  };
  walk(document.body);
  return out.join(" | ");
}"""
TIMEOUT = 45_000  # ms for one UI expectation
PROBE_TIMEOUT = 60_000  # ms: connect, then the battery's request times out (5 s), then the controller's


class DeviceSteps:
    """Steps after the first device: a Renogy controller, a release, a 16-cell pack."""

    # provided by walkthrough.Walkthrough
    page: Page
    ha: Any
    notes: list[str]
    shot: Callable[..., Awaitable[Path]]

    async def _open_integration_page(self) -> None:
        await self.page.goto(self.ha.url + "/config/integrations/dashboard", timeout=TIMEOUT)
        await expect(self.page.get_by_text("Discovered", exact=True).first).to_be_visible(
            timeout=TIMEOUT
        )

    async def _add_discovered(self, name: str) -> Any:
        """Click Add on a discovered device's card and confirm; the dialog after the probe."""
        page = self.page
        await self._open_integration_page()
        card = page.locator("ha-config-flow-card").filter(has_text=name)
        await expect(card).to_have_count(1, timeout=TIMEOUT)
        await card.get_by_role("button", name="Add").click()
        dialog = page.locator("dialog-data-entry-flow")
        await expect(dialog.get_by_text(f"Add {name}?")).to_be_visible(timeout=TIMEOUT)
        await dialog.get_by_role("button", name="Submit").click()
        return dialog

    async def _finish(self, dialog: Any) -> None:
        await expect(dialog.get_by_text("Name and assign")).to_be_visible(timeout=PROBE_TIMEOUT)
        await dialog.get_by_role("button", name=re.compile(r"^(Finish|Skip and finish)$")).click()
        await expect(dialog.get_by_text("Name and assign")).to_be_hidden(timeout=TIMEOUT)

    async def add_renogy_controller(self) -> None:
        """The BT module was read as battery and as controller: the controller answered."""
        dialog = await self._add_discovered(RENOGY)
        await expect(dialog.get_by_text(f"What is {RENOGY} connected to?")).to_be_visible(
            timeout=PROBE_TIMEOUT
        )
        await expect(dialog.get_by_text(f"answered as a {CONTROLLER}")).to_be_visible(
            timeout=TIMEOUT
        )
        await expect(dialog.get_by_role("radio", name=CONTROLLER)).to_be_checked(timeout=TIMEOUT)
        await self.page.wait_for_timeout(800)
        await self.shot("06-renogy-probed")
        await dialog.get_by_role("button", name="Submit").click()
        await self._finish(dialog)
        self.notes.append(f"{RENOGY}: the flow preselected {CONTROLLER!r} after probing")

    async def _open_device(self, name: str) -> None:
        page = self.page
        if "/config/devices/device/" in page.url and await page.get_by_text(
            name, exact=True
        ).count():
            return
        await page.goto(self.ha.url + "/config/devices/dashboard", timeout=TIMEOUT)
        await page.get_by_text(name, exact=True).first.click()
        await page.wait_for_url(re.compile(r"/config/devices/device/"), timeout=TIMEOUT)

    async def release_device(self) -> None:
        """Release connection: Connection says released, and until when."""
        page = self.page
        await self._open_device(RELEASE)
        row = page.locator("hui-button-entity-row, hui-generic-entity-row").filter(
            has=page.get_by_text("Release connection", exact=True)
        ).first
        await row.get_by_role("button", name=re.compile("^Press$", re.IGNORECASE)).click()
        connection = page.locator("hui-generic-entity-row").filter(
            has=page.get_by_text("Connection", exact=True)
        ).first
        await expect(connection.get_by_text(RELEASED)).to_be_visible(timeout=TIMEOUT)
        # the Released until row: a relative time, e.g. "In 9 minutes"
        text = ""
        for _ in range(90):
            text = await page.evaluate(PAGE_TEXT)
            if re.search(r"Released until\s*\|?\s*in \d+ minutes?", text, re.IGNORECASE):
                break
            await page.wait_for_timeout(500)
        else:
            found = re.search(r"Released until.{0,40}", text)
            raise AssertionError(f"no 'Released until in … minutes' row: {found and found[0]!r}")
        size = page.viewport_size
        await page.set_viewport_size({"width": 1280, "height": 1900})
        await page.wait_for_timeout(1000)
        await self.shot("07-released-until")
        if size:
            await page.set_viewport_size(size)
        self.notes.append(f"{RELEASE}: released, Connection shows {RELEASED!r} with its end")

    async def pack_device_page(self) -> None:
        """A 16-cell pack: the pack on the Sensors card, its cells on the Diagnostic card."""
        page = self.page
        dialog = await self._add_discovered(PACK)
        await self._finish(dialog)
        await self._open_device(PACK)
        sensors = page.locator("ha-card").filter(has=page.get_by_text("Sensors", exact=True))
        diagnostic = page.locator("ha-card").filter(
            has=page.get_by_text("Diagnostic", exact=True)
        )
        await expect(sensors.get_by_text("Lowest cell voltage", exact=True).first).to_be_visible(
            timeout=TIMEOUT
        )
        for i in (1, PACK_CELLS):
            await expect(
                diagnostic.get_by_text(f"Cell {i} voltage", exact=True).first
            ).to_be_visible(timeout=TIMEOUT)
        if await sensors.get_by_text("Cell 1 voltage", exact=True).count():
            raise AssertionError("cell voltages are on the Sensors card, not on Diagnostic")
        size = page.viewport_size
        await page.set_viewport_size({"width": 1280, "height": 2400})
        await page.wait_for_timeout(1500)
        await self.shot("08-pack-16-cells")
        if size:
            await page.set_viewport_size(size)
        self.notes.append(f"{PACK}: {PACK_CELLS} cells on the Diagnostic card")
