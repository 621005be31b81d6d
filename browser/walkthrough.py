"""Real-browser walkthrough of the integration in a fresh Home Assistant.

Starts Home Assistant on a fresh copy of config/configuration.yaml and
config/blesim.yaml (blesim's simulated Bluetooth proxies and devices), drives
Debian's headless Chromium through playwright the way a person would:
onboarding, logging in on the real login page, Home Assistant's discovery
flows for every simulated device, Settings -> Devices & services listing them,
adding one through the config flow dialog,
its device page and a dashboard with its sensors. Saves screenshots and fails
(exit 1) with the failing step's name, a screenshot and Home Assistant's log
when anything is not as expected. Always stops its Home Assistant.

Run it through scripts/browser-check, which installs what it needs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from device_steps import DeviceSteps
from insight_steps import InsightSteps
from page_js import DEEP_TEXT
from playwright.async_api import Page, async_playwright, expect

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("BROWSER_CHECK_CHROMIUM", "/usr/bin/chromium")
# Without these, Chromium on a machine with no network hangs on connection attempts.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
USER = {"name": "Browser Check", "username": "check", "password": "check-password-1234"}
DOMAIN = "ble_battery_solar"
# The simulated device added through the config flow (from config/blesim.yaml).
ADD_DEVICE = "SIM-JBD-SP04S"
# Every device of config/blesim.yaml that Home Assistant must offer as
# discovered: all but "SIM Battery" (the standard Battery Service, which the
# integration never pushes as a discovery; it is added from the user step).
DISCOVERED = [
    "SIM-JBD-SP04S", "JK_B2A8S20P", "DL-40160901534C", "BT-TH-66EDFC11", "BT-TH-A1B2C3D4",
    "SP51B2407270006", "NWJ20221223010388", "L-12100BNNA70-A09683", "TP_123456",
    "Z122002264", "ANT-BLE24C-001",
]
# Sensor names the JBD device page must show.
DEVICE_SENSORS = ["Voltage", "Current", "Battery", "Cell 1 voltage", "Charge cycles"]
# Values the device page must show (entity row text).
NUMBER = r"-?\d+(?:\.\d+)?"
VALUES = {
    "Voltage": re.compile(NUMBER + r" V"),
    "Cell 1 voltage": re.compile(NUMBER + r" V"),
    "Current": re.compile(NUMBER + r" A"),
    "Battery": re.compile(NUMBER + r" ?%"),
}
# The area the device is put in, in the config flow's last step.
AREA = "Living Room"

START_TIMEOUT = 180  # seconds for Home Assistant to answer HTTP
# Seconds for Home Assistant to have the discovery flows of all the simulated
# devices. On a fresh .venv the first flow waits for requirements Home
# Assistant installs at run time (see docs/browser-check.md).
DISCOVERY_TIMEOUT = 180
UI_TIMEOUT = 45_000  # ms for one UI expectation
DATA_TIMEOUT = 90_000  # ms for the first reading of the simulated device




# Home Assistant's discovery flows of the integration (websocket
# config_entries/flow/progress, through the logged-in frontend's connection):
# the name each flow shows.
DISCOVERY_FLOWS = """async domain => {
  const hass = document.querySelector("home-assistant").hass;
  const flows = await hass.callWS({type: "config_entries/flow/progress"});
  return flows
    .filter(f => f.handler === domain && f.context.source === "bluetooth")
    .map(f => (f.context.title_placeholders || {}).name || f.context.unique_id);
}"""


class CheckFailed(Exception):
    """A step of the walkthrough did not see what it expected."""


def log(msg: str) -> None:
    print(f"browser-check: {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def strip_http_section(yaml_text: str) -> str:
    """Remove the top-level `http:` block of configuration.yaml.

    Home Assistant 2026.10 migrates `http:` from YAML into storage as a
    "pending" config that must be confirmed in a dialog within five minutes
    (or it reverts and restarts), and raises a repairs issue. The port is set
    with the SETUP_PORT environment variable instead, which only changes the
    default and needs no confirmation.
    """
    out: list[str] = []
    skipping = False
    for line in yaml_text.splitlines(keepends=True):
        if re.match(r"^http:", line):
            skipping = True
            continue
        if skipping and (line.startswith((" ", "\t")) or not line.strip()):
            continue
        skipping = False
        out.append(line)
    return "".join(out)


def make_config(config_dir: Path) -> None:
    """A fresh config dir laid out like scripts/develop's config/."""
    for name in ("configuration.yaml", "blesim.yaml"):
        src = ROOT / "config" / name
        if not src.exists():
            raise CheckFailed(f"{src} is missing")
        text = src.read_text()
        if name == "configuration.yaml":
            text = strip_http_section(text)
        if name == "blesim.yaml" and (gone := [d for d in DISCOVERED if f'"{d}"' not in text]):
            raise CheckFailed(f"{src} has no device named {gone}: update DISCOVERED in {Path(__file__).name}")
        (config_dir / name).write_text(text)
    (config_dir / "custom_components").mkdir()
    (config_dir / "custom_components" / "ble_battery_solar").symlink_to(
        ROOT / "custom_components" / "ble_battery_solar"
    )
    (config_dir / "custom_components" / "blesim").symlink_to(ROOT / "blesim" / "ha" / "blesim")
    # blesim importable without the repository root (its custom_components
    # package would shadow config/custom_components), as in scripts/develop.
    (config_dir / "pylib").mkdir()
    (config_dir / "pylib" / "blesim").symlink_to(ROOT / "blesim")


# Every Home Assistant started, so main() can stop them whatever happened.
STARTED: list[HomeAssistant] = []
# Temporary dirs to remove at the end (again: Chromium may still write its
# profile while it exits).
TMPDIRS: list[Path] = []


class HomeAssistant:
    """`hass --config <fresh dir>` in its own process group."""

    def __init__(self, config_dir: Path, port: int) -> None:
        self.config_dir = config_dir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.stdout_path = config_dir / "hass-stdout.log"

    def start(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(self.config_dir / "pylib") + (
            ":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
        )
        env["SETUP_PORT"] = str(self.port)
        # HA installs missing component requirements at start-up with uv: into our
        # venv, not into the interpreter UV_PYTHON names (CI exports it for setup).
        env.pop("UV_PYTHON", None)
        env["VIRTUAL_ENV"] = str(ROOT / ".venv")
        hass = ROOT / ".venv" / "bin" / "hass"
        if not hass.exists():
            raise CheckFailed(f"{hass} is missing: run scripts/setup")
        with open(self.stdout_path, "wb") as out:
            # The hass entry point, not `python -m` (see scripts/develop).
            self.proc = subprocess.Popen(
                [str(hass), "--config", str(self.config_dir)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self.config_dir,
                start_new_session=True,
            )
        STARTED.append(self)

    def wait_ready(self) -> float:
        assert self.proc is not None
        t0 = time.monotonic()
        while time.monotonic() - t0 < START_TIMEOUT:
            if self.proc.poll() is not None:
                raise CheckFailed(f"Home Assistant exited with code {self.proc.returncode} while starting")
            try:
                with urllib.request.urlopen(self.url + "/api/onboarding", timeout=5) as resp:
                    steps = json.load(resp)
                if any(s["step"] == "user" and not s["done"] for s in steps):
                    return time.monotonic() - t0
                raise CheckFailed(f"Home Assistant is not fresh: onboarding is {steps}")
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        raise CheckFailed(f"Home Assistant did not answer on {self.url} within {START_TIMEOUT} s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            log("Home Assistant did not stop within 60 s; killing it")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def log_text(self) -> str:
        path = self.config_dir / "home-assistant.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_text() or (
            self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""
        )
        return "\n".join(text.splitlines()[-lines:])


class Walkthrough(DeviceSteps, InsightSteps):
    """The steps, in one browser page."""

    def __init__(self, page: Page, ha: HomeAssistant, shots: Path, debug: Path) -> None:
        self.page = page
        self.ha = ha
        self.shots = shots
        self.debug = debug
        self.timings: list[tuple[str, float]] = []
        self.notes: list[str] = []

    async def shot(self, name: str, where: Path | None = None) -> Path:
        path = (where or self.shots) / f"{name}.png"
        await self.page.screenshot(path=str(path))
        log(f"  screenshot {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        return path

    async def step(self, name: str, fn: Callable[[], Awaitable[None]]) -> None:
        log(f"step: {name}")
        t0 = time.monotonic()
        await fn()
        self.timings.append((name, time.monotonic() - t0))

    # -- steps ---------------------------------------------------------------

    async def onboarding(self) -> None:
        page = self.page
        await page.goto(self.ha.url + "/", timeout=UI_TIMEOUT)
        await page.wait_for_url(re.compile(r"/onboarding\.html"), timeout=UI_TIMEOUT)
        await page.get_by_role("button", name="Create my smart home").click()
        for field in ("name", "username", "password"):
            await page.locator(f"input[name={field}]").fill(USER[field])
        await page.locator("input[name=password_confirm]").fill(USER["password"])
        await page.get_by_role("button", name="Create account").click()
        # Home location, country, analytics: Next; discovered integrations:
        # Finish, which opens the frontend.
        button = page.get_by_role("button", name=re.compile(r"^(Next|Finish)$"))
        deadline = time.monotonic() + UI_TIMEOUT / 1000 * 3
        while "onboarding" in page.url:
            if time.monotonic() > deadline:
                raise CheckFailed("onboarding did not finish")
            if await button.count() == 1 and await button.is_visible():
                with contextlib.suppress(Exception):
                    await button.click(timeout=5_000)
            await page.wait_for_timeout(500)
        await page.wait_for_url(lambda url: "onboarding" not in url, timeout=UI_TIMEOUT)

    async def login(self) -> None:
        """Forget the onboarding session and log in on the real login page."""
        page = self.page
        # Onboarding's Finish leaves the page at `/?auth_callback=1…`, where the
        # frontend trades the code for tokens and stores them. Clearing the
        # storage before that is done lets the stored tokens log `/` in again,
        # so wait for the logged-in frontend (the user's name in the sidebar).
        await expect(page.get_by_text(USER["name"]).first).to_be_visible(timeout=UI_TIMEOUT)
        await page.evaluate("() => { localStorage.clear(); sessionStorage.clear(); }")
        await page.context.clear_cookies()
        await page.goto(self.ha.url + "/", timeout=UI_TIMEOUT)
        await page.wait_for_url(re.compile(r"/auth/authorize"), timeout=UI_TIMEOUT)
        await page.locator("input[name=username]").fill(USER["username"])
        await page.locator("input[name=password]").fill(USER["password"])
        await page.get_by_role("button", name="Log in").click()
        await page.wait_for_url(lambda url: "/auth/" not in url, timeout=UI_TIMEOUT)
        await expect(page.get_by_text(USER["name"]).first).to_be_visible(timeout=UI_TIMEOUT)

    async def discovery(self) -> None:
        """Home Assistant has a Bluetooth discovery flow for every simulated device.

        Asked of Home Assistant itself, before Devices & services is opened:
        that page lists the flows that exist when it opens, but of several
        flows added while it is open it can keep only one (its handler of the
        "added" events is not safe against a burst of them; see
        docs/browser-check.md). On a fresh .venv the flows come up to a few
        seconds after login, because the first one waits for requirements
        Home Assistant installs at run time.
        """
        t0 = time.monotonic()
        while True:
            flows: list[str] = await self.page.evaluate(DISCOVERY_FLOWS, DOMAIN)
            if not (missing := [n for n in DISCOVERED if n not in flows]):
                break
            if time.monotonic() - t0 > DISCOVERY_TIMEOUT:
                raise CheckFailed(
                    f"after {DISCOVERY_TIMEOUT} s Home Assistant has Bluetooth discovery flows "
                    f"for {sorted(flows) or 'no device'}, none for {missing}"
                )
            await self.page.wait_for_timeout(500)
        if len(flows) != len(set(flows)):
            raise CheckFailed(f"more than one discovery flow for a device: {sorted(flows)}")
        self.notes.append(
            f"discovery flows for all {len(DISCOVERED)} devices after {time.monotonic() - t0:.1f} s of the step"
        )

    async def discovered(self) -> None:
        page = self.page
        await page.get_by_role("link", name="Settings").or_(page.get_by_text("Settings", exact=True)).first.click()
        await page.wait_for_url(re.compile(r"/config"), timeout=UI_TIMEOUT)
        await page.get_by_text("Devices & services", exact=True).first.click()
        await page.wait_for_url(re.compile(r"/config/integrations"), timeout=UI_TIMEOUT)
        await expect(page.get_by_text("Discovered", exact=True).first).to_be_visible(timeout=UI_TIMEOUT)
        cards = page.locator("ha-config-flow-card")
        await expect(cards.filter(has_text=ADD_DEVICE)).to_have_count(1, timeout=UI_TIMEOUT)
        missing = []
        for name in DISCOVERED:
            with contextlib.suppress(AssertionError):
                await expect(cards.filter(has_text=name)).to_have_count(1, timeout=5_000)
                continue
            missing.append(name)
        if missing:
            shown = [n for n in DISCOVERED if n not in missing]
            raise CheckFailed(
                f"Home Assistant has a discovery flow for each of the {len(DISCOVERED)} devices, "
                f"but Devices & services lists only {shown}; missing {missing}"
            )
        self.notes.append(f"Devices & services lists all {len(DISCOVERED)} discovered devices")
        await self.shot("01-discovered-devices")

    async def add_device(self) -> None:
        page = self.page
        card = page.locator("ha-config-flow-card").filter(has_text=ADD_DEVICE)
        await expect(card).to_have_count(1, timeout=UI_TIMEOUT)
        await card.get_by_role("button", name="Add").click()
        dialog = page.locator("dialog-data-entry-flow")
        await expect(dialog.get_by_text(f"Add {ADD_DEVICE}?")).to_be_visible(timeout=UI_TIMEOUT)
        await page.wait_for_timeout(1000)
        await self.shot("02-config-flow-dialog")
        await dialog.get_by_role("button", name="Submit").click()
        # The flow created the entry: name the device and put it in an area.
        await expect(dialog.get_by_text("Name and assign")).to_be_visible(timeout=UI_TIMEOUT)
        await dialog.get_by_text("Area", exact=True).first.click()
        await page.get_by_role("option", name=AREA).or_(page.get_by_text(AREA, exact=True)).first.click()
        await page.wait_for_timeout(1000)
        await self.shot("03-config-flow-area")
        await dialog.get_by_role("button", name=re.compile(r"^(Finish|Skip and finish)$")).click()
        await expect(dialog.get_by_text("Name and assign")).to_be_hidden(timeout=UI_TIMEOUT)

    async def device_page(self) -> None:
        page = self.page
        # Finishing the flow opens the new device's page; if this frontend
        # does not, open it from the Devices tab.
        with contextlib.suppress(Exception):
            await page.wait_for_url(re.compile(r"/config/devices/device/"), timeout=10_000)
        if "/config/devices/device/" not in page.url:
            self.notes.append("finishing the flow did not open the device page; opened it from Devices")
            await page.goto(self.ha.url + "/config/devices/dashboard", timeout=UI_TIMEOUT)
            await page.get_by_text(ADD_DEVICE, exact=True).first.click()
            await page.wait_for_url(re.compile(r"/config/devices/device/"), timeout=UI_TIMEOUT)
        await expect(page.get_by_text(ADD_DEVICE, exact=True).first).to_be_visible(timeout=UI_TIMEOUT)
        for name in DEVICE_SENSORS:
            await expect(page.get_by_text(name, exact=True).first).to_be_visible(timeout=DATA_TIMEOUT)
        # Readings, not "Unavailable"/"Unknown": e.g. "3.312 V" for Cell 1 voltage.
        readings = {}
        for name, pattern in VALUES.items():
            readings[name] = await self.row_value(name, pattern)
        self.notes.append("device page: " + ", ".join(f"{k} = {v}" for k, v in readings.items()))
        # Tall enough to show every sensor of the device in one picture.
        size = page.viewport_size
        await page.set_viewport_size({"width": 1280, "height": 1900})
        await page.wait_for_timeout(1000)
        await self.shot("04-device-page")
        if size:
            await page.set_viewport_size(size)

    async def row_value(self, name: str, pattern: re.Pattern[str], scope: Any = None) -> str:
        """The state shown in the entity row named `name`, once it matches."""
        scope = scope or self.page
        row = scope.locator("hui-generic-entity-row").filter(
            has=self.page.get_by_text(name, exact=True)
        ).first
        deadline = time.monotonic() + DATA_TIMEOUT / 1000
        text = ""
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                text = " ".join((await row.inner_text(timeout=2_000)).split())
                if pattern.fullmatch(text):
                    return text
            await self.page.wait_for_timeout(500)
        raise CheckFailed(f"{name!r} shows {text!r}, expected {pattern.pattern}")

    async def dashboard(self) -> None:
        """The Overview dashboard (auto-generated) and the device's area on it."""
        page = self.page
        await page.get_by_role("link", name="Overview").click()
        await page.wait_for_url(re.compile(r"/home"), timeout=UI_TIMEOUT)
        await page.get_by_role("button", name=AREA).first.click()
        await expect(page.get_by_text(ADD_DEVICE, exact=True).first).to_be_visible(timeout=UI_TIMEOUT)
        readings = {}
        for name, pattern in VALUES.items():
            if name == "Battery":  # shown as the device's battery badge, not a tile
                continue
            if name.startswith("Cell "):  # diagnostic: on the device page, not on dashboards
                continue
            readings[name] = await self.tile_value(name, pattern)
        if await page.locator("hui-tile-card").filter(
            has=page.get_by_text("Cell 1 voltage", exact=True)
        ).count():
            raise CheckFailed("the generated dashboard shows cell voltages (diagnostic entities)")
        self.notes.append("dashboard: " + ", ".join(f"{k} = {v}" for k, v in readings.items()))
        await page.wait_for_timeout(1000)
        await self.shot("05-dashboard")

    async def tile_value(self, name: str, pattern: re.Pattern[str]) -> str:
        """The state shown on the dashboard tile named `name`, once it matches."""
        tile = self.page.locator("hui-tile-card").filter(
            has=self.page.get_by_text(name, exact=True)
        ).first
        # The tile's text lives in shadow DOM, which get_by_text pierces.
        state = tile.get_by_text(re.compile(rf"^\s*{pattern.pattern}\s*$"))
        with contextlib.suppress(AssertionError):
            await expect(state.first).to_be_visible(timeout=DATA_TIMEOUT)
            return " ".join((await state.first.text_content() or "").split())
        text = await tile.evaluate(DEEP_TEXT) if await tile.count() else "(no such tile)"
        raise CheckFailed(f"dashboard tile {name!r} shows {text!r}, expected {pattern.pattern}")


STEPS = ["onboarding", "login", "discovery", "discovered", "add_device", "device_page", "dashboard",
         "release_device", "add_renogy_controller", "pack_device_page",
         "cell_health_and_alarms", "time_to_full_and_empty", "live_data", "battery_bank",
         "battery_control"]


def integration_errors(log_text: str) -> list[str]:
    """ERROR records of this integration (or with its code in the traceback)."""
    out: list[str] = []
    for record in re.split(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ )", log_text):
        if " ERROR " in record.split("\n", 1)[0] and "ble_battery_solar" in record:
            out.append(record)
    return out


def prepare(args: argparse.Namespace) -> None:
    args.screenshots.mkdir(parents=True, exist_ok=True)
    args.artifacts.mkdir(parents=True, exist_ok=True)
    for old in args.artifacts.glob("*"):
        if old.is_file():
            old.unlink()
    if not Path(CHROMIUM).exists():
        raise CheckFailed(f"{CHROMIUM} is missing (apt-get install chromium chromium-driver)")


def check_log(log_text: str) -> None:
    if errors := integration_errors(log_text):
        raise CheckFailed(
            "the integration logged errors:\n" + "\n".join(e[:3000] for e in errors)
        )


async def run(args: argparse.Namespace) -> int:
    t_start = time.monotonic()
    shots: Path = args.screenshots
    artifacts: Path = args.artifacts
    tmp = Path(tempfile.mkdtemp(prefix="browser-check-"))
    if not args.keep:
        TMPDIRS.append(tmp)
    config_dir = tmp / "config"
    config_dir.mkdir()
    ha: HomeAssistant | None = None
    failed: Exception | None = None
    log_at_stop = ""
    wk: Walkthrough | None = None
    console: list[str] = []
    final_log = ""
    try:
        make_config(config_dir)
        ha = HomeAssistant(config_dir, free_port())
        log(f"starting Home Assistant on {ha.url} with a fresh config in {config_dir}")
        ha.start()
        started = ha.wait_ready()
        log(f"Home Assistant answers after {started:.1f} s")
        async with async_playwright() as pw:
            ctx = await pw.chromium.launch_persistent_context(
                str(tmp / "chromium-profile"),  # a fresh --user-data-dir
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1280, "height": 900},
                # en-GB: onboarding then proposes a metric country, as
                # configuration.yaml's unit_system: metric intends.
                locale="en-GB",
                timezone_id="UTC",
                timeout=60_000,
            )
            try:
                page = ctx.pages[0] if ctx.pages else await ctx.new_page()
                page.set_default_timeout(UI_TIMEOUT)
                page.on(
                    "pageerror",
                    lambda err: console.append(
                        f"page error on {page.url}: {err.name}: {err.message} "
                        f"{(err.stack or '').splitlines()[1:2]}"
                    ),
                )
                page.on(
                    "console",
                    lambda msg: console.append(f"console {msg.type}: {msg.text}")
                    if msg.type == "error"
                    else None,
                )
                page.on(
                    "response",
                    lambda resp: console.append(f"HTTP {resp.status} {resp.url.split('?')[0]}")
                    if resp.status >= 400
                    else None,
                )
                wk = Walkthrough(page, ha, shots, artifacts)
                wk.timings.append(("start Home Assistant", started))
                current = ""
                try:
                    for current in STEPS:
                        await wk.step(current, getattr(wk, current))
                except Exception as err:
                    with contextlib.suppress(Exception):
                        await page.screenshot(path=str(artifacts / f"failed-{current}.png"))
                    raise CheckFailed(f"step {current!r} failed: {err}") from err
            finally:
                await ctx.close()
        log_at_stop = ha.log_text()
        check_log(log_at_stop)
    except Exception as err:  # reported below, then exit 1
        failed = err
    finally:
        if ha is not None:
            log_at_stop = log_at_stop or ha.log_text()
            ha.stop()
            final_log = ha.log_text()
            with contextlib.suppress(OSError):
                shutil.copy(config_dir / "home-assistant.log", artifacts / "home-assistant.log")
            with contextlib.suppress(OSError):
                shutil.copy(ha.stdout_path, artifacts / "hass-stdout.log")
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    total = time.monotonic() - t_start
    if wk is not None:
        for name, secs in wk.timings:
            log(f"  {secs:6.1f} s  {name}")
        for note in wk.notes:
            log(f"  {note}")
    if console:
        log(f"browser console errors ({len(console)}):")
        for line in dict.fromkeys(console):
            log(f"  {line[:300]}")
    if ha is not None:
        after = final_log[len(log_at_stop):]
        if stop_errors := integration_errors(after):
            log(f"{len(stop_errors)} error(s) of the integration while Home Assistant stopped "
                f"(not failing the check), first:\n{stop_errors[0][:2000]}")
    if failed is not None:
        if ha is not None:
            log("Home Assistant log (tail):\n" + ha.log_tail(40))
        log(f"FAILED after {total:.0f} s: {type(failed).__name__}: {failed}")
        log(f"screenshot of the failure and logs in {artifacts}")
        return 1
    log(f"PASSED in {total:.0f} s; screenshots in {shots}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--screenshots", type=Path, default=ROOT / "docs" / "screenshots",
                        help="where the walkthrough's screenshots go (default docs/screenshots)")
    parser.add_argument("--artifacts", type=Path, default=ROOT / "browser" / "out",
                        help="failure screenshot and Home Assistant's log (default browser/out)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary Home Assistant config dir")
    args = parser.parse_args(argv)
    args.screenshots = args.screenshots.resolve()
    args.artifacts = args.artifacts.resolve()

    def on_term(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    # `timeout` (scripts/browser-check) or CI stops us with SIGTERM: unwind so
    # Home Assistant is stopped too.
    signal.signal(signal.SIGTERM, on_term)
    try:
        prepare(args)
        return asyncio.run(run(args))
    except CheckFailed as err:
        log(f"FAILED: {err}")
        return 1
    except KeyboardInterrupt as err:
        log(f"interrupted ({err or 'SIGINT'})")
        return 130
    finally:
        for ha in STARTED:
            ha.stop()
        for tmp in TMPDIRS:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
