"""Run a local Asterisk from an unpacked prefix with rendered configuration (development, tests, demo).

Started in the foreground (`-f -n -q`) as a child process, ready once `core waitfullybooted`
answers on the control socket, and stopped by its pid (SIGTERM: Asterisk ends cleanly).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from robocall.telephony.asterisk.conf import AsteriskLayout, render

BOOT_TIMEOUT = 30.0


def find_prefix(root: Path) -> Path | None:
    """The Asterisk unpacked by scripts/install_asterisk.sh under root/var/asterisk, or $ASTERISK_PREFIX."""
    if os.environ.get("ASTERISK_PREFIX"):
        return Path(os.environ["ASTERISK_PREFIX"])
    found = sorted((root / "var" / "asterisk").glob("asterisk-*/bin/asterisk"))
    return found[-1].parents[1] if found else None


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AsteriskProcess:
    def __init__(self, layout: AsteriskLayout) -> None:
        self.layout = layout
        self.process: subprocess.Popen[bytes] | None = None
        self.binary = layout.prefix / "bin" / "asterisk"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> None:
        conf = render(self.layout)
        console = open(self.layout.run / "console.log", "ab")  # noqa: SIM115 - owned by the child
        self.process = subprocess.Popen(
            [str(self.binary), "-C", str(conf.resolve()), "-f", "-n", "-q"],
            stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
        )
        console.close()
        self.wait_booted()

    def wait_booted(self, timeout: float = BOOT_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"Asterisk exited with {self.process.returncode} while starting; "
                                   f"see {self.layout.run / 'console.log'}")
            try:
                self.rx("core waitfullybooted", timeout=5)
                return
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                time.sleep(0.1)
        raise TimeoutError(f"Asterisk did not finish booting within {timeout:.0f} s")

    def rx(self, command: str, timeout: float = 10) -> str:
        """Run one CLI command through the control socket; returns its output."""
        done = subprocess.run([str(self.binary), "-C", str(self.layout.asterisk_conf.resolve()), "-rx", command],
                              capture_output=True, timeout=timeout, check=True, text=True)
        if "Unable to connect to remote asterisk" in done.stdout + done.stderr:
            raise subprocess.CalledProcessError(1, command, done.stdout, done.stderr)
        return done.stdout

    def stop(self, timeout: float = 15) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
