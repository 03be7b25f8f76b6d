"""The systemd units shipped in deploy/systemd/ parse, start real commands, and are hardened.

`systemd-analyze verify` must be on the machine (Debian's systemd package): without it the test
fails, it does not skip.  It checks the files as written, with the install paths pointed at this
checkout (its commands must exist) and its settings files at an empty one."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from robocall.cli import cli

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
SERVICES = ["robocall-web.service", "robocall-worker@.service", "robocall-fastagi.service", "robocall-purge.service"]
HARDENING = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
             "CapabilityBoundingSet": "", "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX"}


def _installed_here(tmp_path: Path) -> list[Path]:
    """The units as a host would have them, /opt/robocall being this checkout; the template as instance 1."""
    (tmp_path / "robocall.env").write_text("LOG_LEVEL=INFO\n")
    out = []
    for unit in sorted(UNITS.iterdir()):
        text = unit.read_text().replace("/opt/robocall", str(ROOT)).replace("/etc/robocall/", f"{tmp_path}/")
        name = unit.name.replace("@.", "@1.")
        (tmp_path / name).write_text(text)
        out.append(tmp_path / name)
    return out


def test_units_pass_systemd_analyze_verify_without_a_warning(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is needed to check deploy/systemd (apt-get install systemd)"
    assert (ROOT / ".venv" / "bin" / "robocall").exists(), "run `make setup`: the units' commands must exist"
    units = _installed_here(tmp_path)
    result = subprocess.run([analyze, "verify", "--man=no", *map(str, units)], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    # Unknown keys and bad values are only warnings (exit 0): any line about our files fails too.
    about_ours = [line for line in (result.stdout + result.stderr).splitlines()
                  if any(unit.name in line for unit in units) or str(tmp_path) in line]
    assert result.returncode == 0 and about_ours == [], result.stdout + result.stderr


def _service(name: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((UNITS / name).read_text())
    return parser["Service"]


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_is_hardened_and_runs_as_its_own_user(name: str) -> None:
    service = _service(name)
    assert service["User"] == "robocall"
    for key, value in HARDENING.items():
        assert service.get(key) == value, f"{name}: {key}={value} expected"


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_starts_a_real_robocall_command(name: str) -> None:
    argv = shlex.split(_service(name)["ExecStart"])
    assert argv[0] == "/opt/robocall/.venv/bin/robocall"
    args = [arg for arg in argv[1:] if not arg.startswith("$")]
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, result.output
