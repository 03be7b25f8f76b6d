"""Several "hosts" on one machine: Linux network namespaces on a private bridge (root only).

Used by the multi-host test (tests/test_multihost.py) and bench/scale.py.  Each host is a network
namespace with one veth on the bridge `<prefix>br` in the root namespace, which holds 10.213.N.1/24
itself, so the test process (in the root namespace) reaches every host and every host reaches the
others.  A host runs processes with `ip netns exec`; cutting it off is `ip link set ... down` on its
veth (or killing its processes).  Services bound inside (a private redis-server, a private PostgreSQL
cluster) never touch the machine's own.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


class NetnsUnavailable(RuntimeError):
    pass


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise NetnsUnavailable(f"`ip {' '.join(args)}` failed: {result.stderr.strip()}")


@dataclass
class Host:
    name: str  # the namespace
    address: str
    veth: str  # the end in the root namespace (on the bridge)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def spawn(self, argv: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | None = None,
              user: str | None = None, **popen: object) -> subprocess.Popen[bytes]:
        prefix = ["ip", "netns", "exec", self.name] + (["runuser", "-u", user, "--"] if user else [])
        process = subprocess.Popen([*prefix, *argv], env=dict(env) if env is not None else None, cwd=cwd,
                                   **popen)  # type: ignore[call-overload]
        self.processes.append(process)
        return process

    def cut(self) -> None:
        """The host's cable pulled: its processes live on but reach nothing."""
        _ip("link", "set", self.veth, "down")

    def reconnect(self) -> None:
        """The cable plugged back in."""
        _ip("link", "set", self.veth, "up")

    def kill(self) -> None:
        """The host's power cut: every process it runs killed with SIGKILL."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
        for process in self.processes:
            process.wait(timeout=10)


class Network:
    """Namespaces `<prefix>-<name>` on bridge `<prefix>br`, subnet 10.213.`subnet`.0/24.  Use as a
    context manager: everything made is removed on exit, also after a failure."""

    def __init__(self, prefix: str = "rcs", subnet: int = 0) -> None:
        if os.geteuid() != 0 or shutil.which("ip") is None:
            raise NetnsUnavailable("network namespaces need root and iproute2's `ip`")
        self.prefix, self.subnet = prefix, subnet
        self.bridge = f"{prefix}br"
        self.gateway = f"10.213.{subnet}.1"
        self.hosts: dict[str, Host] = {}

    def __enter__(self) -> Network:
        self.close()  # leftovers of a run killed before its cleanup
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, name: str) -> Host:
        number = len(self.hosts) + 2
        namespace, outside = f"{self.prefix}-{name}", f"{self.prefix}{number}a"
        inside = f"{self.prefix}{number}b"
        _ip("netns", "add", namespace)
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", namespace)
        _ip("link", "set", outside, "master", self.bridge)
        _ip("link", "set", outside, "up")
        address = f"10.213.{self.subnet}.{number}"
        _ip("-n", namespace, "addr", "add", f"{address}/24", "dev", inside)
        _ip("-n", namespace, "link", "set", inside, "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        host = Host(namespace, address, outside)
        self.hosts[name] = host
        return host

    def close(self) -> None:
        # The last made first: the hosts holding the databases are made first, and their clients
        # (workers) stop more promptly while those still answer.
        for host in reversed(self.hosts.values()):
            for process in host.processes:
                if process.poll() is None:
                    process.terminate()
            for process in host.processes:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
        for namespace in listed:
            if namespace.startswith(f"{self.prefix}-"):
                # Whatever still runs inside (a postgres started as another user) goes with it.
                pids = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True).stdout.split()
                for pid in pids:
                    try:
                        os.kill(int(pid), 9)
                    except (ProcessLookupError, ValueError):
                        pass
                subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        self.hosts = {}


def wait_port(address: str, port: int, processes: Sequence[subprocess.Popen[bytes]] = (), timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if any(p.poll() is not None for p in processes):
            raise RuntimeError(f"a process meant to listen on {address}:{port} ended")
        try:
            socket.create_connection((address, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {address}:{port}") from None
            time.sleep(0.1)


def start_redis(host: Host, port: int = 6379) -> str:
    """A private redis-server on the host (no persistence); its URL."""
    process = host.spawn(["redis-server", "--bind", host.address, "--port", str(port), "--save", "",
                          "--appendonly", "no", "--protected-mode", "no"], stdout=subprocess.DEVNULL)
    wait_port(host.address, port, [process])
    return f"redis://{host.address}:{port}/0"


def postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise NetnsUnavailable("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    return found[-1].parent


def start_postgres(host: Host, workdir: Path, port: int = 5432) -> str:
    """A private PostgreSQL cluster (initdb into `workdir`, run as the postgres user: initdb refuses
    root) listening on the host's address, trusting the bridge's subnet; the URL of database robocall."""
    bindir = postgres_bin()
    data = workdir / "pgdata"
    os.chmod(workdir, 0o755)
    shutil.chown(workdir, "postgres")  # its socket goes there too
    made = subprocess.run(["runuser", "-u", "postgres", "--", str(bindir / "initdb"), "-D", str(data), "-A", "trust",
                           "-U", "postgres", "--no-sync"], capture_output=True, text=True)
    if made.returncode != 0:
        raise NetnsUnavailable(f"initdb failed: {made.stderr.strip()}")
    with (data / "pg_hba.conf").open("a") as handle:
        handle.write("host all all 10.213.0.0/16 trust\n")
    process = host.spawn([str(bindir / "postgres"), "-D", str(data), "-c", f"listen_addresses={host.address}",
                          "-c", f"port={port}", "-c", f"unix_socket_directories={workdir}", "-c", "fsync=off",
                          "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200"],
                         user="postgres", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(host.address, port, [process])
    subprocess.run(["runuser", "-u", "postgres", "--", str(bindir / "psql"), "-h", str(workdir), "-p", str(port),
                    "-c", "CREATE DATABASE robocall"], check=True, capture_output=True)
    return f"postgresql+psycopg://postgres@{host.address}:{port}/robocall"


def temp_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="robocall-hosts-"))
