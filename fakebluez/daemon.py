"""A private, system-bus-like dbus-daemon for tests and leak checks.

The daemon listens on a unix socket in a temporary directory, allows
everything, and keeps the system bus's per-user connection limit
(`max_connections_per_user`, 256 by default), so a process that leaks
D-Bus connections hits exactly the error that BlueZ users see:
"The maximum number of active connections for UID 0 has been reached".
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from dbus_fast import BusType, Message, MessageType
from dbus_fast._private.unmarshaller import Unmarshaller
from dbus_fast.aio import MessageBus

INSTALL_HINT = (
    "dbus-daemon not found: install the Debian/Ubuntu package 'dbus' "
    "(apt-get update && apt-get install -y dbus) or set FAKEBLUEZ_DBUS_DAEMON "
    "to the path of a dbus-daemon binary"
)

CONFIG_TEMPLATE = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
  <limit name="max_connections_per_user">{max_connections_per_user}</limit>
  <limit name="max_completed_connections">{max_completed_connections}</limit>
  <limit name="max_incomplete_connections">64</limit>
  <limit name="max_match_rules_per_connection">4096</limit>
  <limit name="max_replies_per_connection">4096</limit>
</busconfig>
"""

LIMIT_ERROR = "org.freedesktop.DBus.Error.LimitsExceeded"


class DBusDaemonNotFoundError(RuntimeError):
    """No dbus-daemon binary is available on this machine."""


def find_dbus_daemon() -> str:
    """Path of a dbus-daemon binary, or raise DBusDaemonNotFoundError saying how to get one."""
    candidates = [os.environ.get("FAKEBLUEZ_DBUS_DAEMON"), shutil.which("dbus-daemon"),
                  "/usr/bin/dbus-daemon", "/bin/dbus-daemon"]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise DBusDaemonNotFoundError(INSTALL_HINT)


class PrivateSystemBus:
    """A dbus-daemon child process configured like a system bus, on a temp socket.

    Use as a context manager or call start()/stop(). `address` is what
    DBUS_SYSTEM_BUS_ADDRESS must be set to for bleak and dbus-fast to use it.
    """

    def __init__(self, *, max_connections_per_user: int = 256) -> None:
        self.max_connections_per_user = max_connections_per_user
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self.socket_path = ""
        self.address = ""
        self.log_path = ""

    def start(self, timeout: float = 10.0) -> PrivateSystemBus:
        """Write the config, start the daemon and wait until its socket accepts."""
        binary = find_dbus_daemon()
        self._tmp = tempfile.TemporaryDirectory(prefix="fakebluez-")
        tmp = Path(self._tmp.name)
        self.socket_path = str(tmp / "system_bus_socket")
        config = tmp / "system.conf"
        config.write_text(CONFIG_TEMPLATE.format(
            socket=self.socket_path,
            max_connections_per_user=self.max_connections_per_user,
            max_completed_connections=max(2048, self.max_connections_per_user * 2),
        ))
        self.log_path = str(tmp / "dbus-daemon.log")
        with open(self.log_path, "wb") as log:
            self._proc = subprocess.Popen(
                [binary, f"--config-file={config}", "--nofork", "--nopidfile",
                 "--print-address"],
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
            )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().decode().strip()
        if not line:
            err = self.log()
            self.stop()
            raise RuntimeError(f"dbus-daemon did not start: {err.strip()}")
        self.address = line.split(",guid=")[0]
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.socket_path):
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("dbus-daemon socket did not appear")
            time.sleep(0.01)
        return self

    def log(self) -> str:
        """What the daemon wrote to stderr so far (limit refusals are logged there)."""
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        return Path(self.log_path).read_text(errors="replace")

    def probe_hello(self, timeout: float = 5.0) -> tuple[str | None, str]:
        """Open one raw connection and say Hello; (error name or None, message or unique name).

        dbus-fast 5.0.x does not check the Hello reply for errors (a refused
        connection "connects" with the error text as its unique name), so this
        reads the daemon's answer byte for byte instead.
        """
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(self.socket_path)
            uid_hex = str(os.getuid()).encode().hex()
            sock.sendall(b"\0AUTH EXTERNAL " + uid_hex.encode() + b"\r\n")
            answer = sock.recv(256)
            if not answer.startswith(b"OK"):
                return "auth-rejected", answer.decode(errors="replace").strip()
            sock.sendall(b"BEGIN\r\n")
            hello = Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                            interface="org.freedesktop.DBus", member="Hello", serial=1)
            sock.sendall(bytes(hello._marshall(False)))
            reader = sock.makefile("rb")
            reply = Unmarshaller(reader, None, False).unmarshall()  # type: ignore[arg-type]
            reader.close()
        if reply is None:
            return "no-reply", ""
        if reply.message_type == MessageType.ERROR:
            return reply.error_name, str(reply.body[0]) if reply.body else ""
        return None, str(reply.body[0])

    @property
    def pid(self) -> int | None:
        """Process id of the daemon while it runs."""
        return self._proc.pid if self._proc is not None else None

    def stop(self) -> None:
        """Kill the daemon and remove its directory (idempotent)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            if proc.stdout is not None:
                proc.stdout.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> PrivateSystemBus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def connect_system_bus() -> MessageBus:
    """A new connection to the system bus (DBUS_SYSTEM_BUS_ADDRESS)."""
    return await MessageBus(bus_type=BusType.SYSTEM).connect()


async def connections_of_pid(bus: MessageBus, pid: int | None = None) -> int:
    """Number of connections the bus daemon has from process `pid` (default: this one).

    Counted from the daemon's side: every unique name (one per connection)
    whose org.freedesktop.DBus.GetConnectionUnixProcessID is `pid`. The
    connection `bus` itself is included when it belongs to `pid`.
    """
    pid = os.getpid() if pid is None else pid
    reply = await bus.call(Message(
        destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
        interface="org.freedesktop.DBus", member="ListNames",
    ))
    assert reply is not None
    if reply.message_type == MessageType.ERROR:
        raise RuntimeError(f"ListNames failed: {reply.error_name} {reply.body}")
    count = 0
    for name in reply.body[0]:
        if not name.startswith(":"):
            continue
        answer = await bus.call(Message(
            destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
            interface="org.freedesktop.DBus", member="GetConnectionUnixProcessID",
            signature="s", body=[name],
        ))
        if answer is not None and answer.message_type == MessageType.METHOD_RETURN:
            count += answer.body[0] == pid
    return count


def ensure_dbus_daemon(*, allow_install: bool = False, timeout: float = 300.0) -> str:
    """Locate dbus-daemon; optionally install Debian's 'dbus' package when it is missing.

    Installing needs root and apt-get; anything else raises
    DBusDaemonNotFoundError with the command to run.
    """
    try:
        return find_dbus_daemon()
    except DBusDaemonNotFoundError:
        if not allow_install or os.geteuid() != 0 or shutil.which("apt-get") is None:
            raise
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"],
                 ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "dbus"]):
        result = subprocess.run(argv, env=env, capture_output=True, timeout=timeout,
                                check=False)
        if result.returncode != 0:
            raise DBusDaemonNotFoundError(
                f"{INSTALL_HINT}; '{' '.join(argv)}' failed: {result.stderr.decode()[-500:]}"
            )
    return find_dbus_daemon()
