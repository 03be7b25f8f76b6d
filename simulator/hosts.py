"""Several "hosts" on one machine: Linux network namespaces on a private bridge (root only).

Used by the multi-host test (tests/test_multihost.py) and bench/scale.py; `local_host()` is this machine's
loopback (no namespace, no root needed but for PostgreSQL run by root), where the SMS drills
(simulator/sms_drills.py) start a private Redis and PostgreSQL they can restart.  Each host is a network
namespace with one veth on the bridge `<prefix>br` in the root namespace, which holds 10.213.N.1/24
itself, so the test process (in the root namespace) reaches every host and every host reaches the
others.  A host runs processes with `ip netns exec`; cutting it off is `ip link set ... down` on its
veth (or killing its processes).  Services bound inside (a private redis-server, a private PostgreSQL
cluster) never touch the machine's own.
"""

from __future__ import annotations

import os
import shutil
import signal
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
        prefix = (["ip", "netns", "exec", self.name] if self.name else []) + (["runuser", "-u", user, "--"] if user else [])
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


def local_host() -> Host:
    """This machine's loopback as a host: processes run in the root namespace."""
    return Host("", "127.0.0.1", "")


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


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


@dataclass
class Service:
    """A server process on a host that can be stopped and started again on the same port and data
    (the drills restart Redis and PostgreSQL under a running campaign)."""

    host: Host
    port: int
    argv: list[str]
    user: str | None = None
    pid_file: Path | None = None  # the server's own pid (runuser in between would not pass every signal on)
    ready_argv: list[str] | None = None  # exits 0 once the server takes clients (its port opens earlier)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        self.process = self.host.spawn(self.argv, user=self.user, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        wait_port(self.host.address, self.port, [self.process])
        deadline = time.monotonic() + 60
        while self.ready_argv and subprocess.run(self.ready_argv, capture_output=True).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.argv[0]} on port {self.port} never became ready")
            time.sleep(0.05)
        return self

    def stop(self, signal_number: int = signal.SIGTERM, timeout: float = 60) -> None:
        """SIGTERM: Redis saves and exits (PostgreSQL's smart shutdown waits for its clients); SIGINT:
        PostgreSQL's fast shutdown (`pg_ctl restart`'s: clients cut off); SIGKILL: a crash."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        if self.pid_file is not None and self.pid_file.exists():
            os.kill(int(self.pid_file.read_text().split()[0]), signal_number)
        else:
            process.send_signal(signal_number)
        process.wait(timeout=timeout)
        self.host.processes.remove(process)

    def restart(self, down_seconds: float = 0.0, signal_number: int = signal.SIGTERM) -> None:
        self.stop(signal_number)
        time.sleep(down_seconds)
        self.start()


def redis_service(host: Host, port: int = 6379, workdir: Path | None = None) -> Service:
    """A private redis-server on the host: no persistence, or with `workdir` an append-only file
    there (what docs/deploy.md recommends), so that a restart keeps queues and receipts."""
    persistence = ["--dir", str(workdir), "--appendonly", "yes", "--appendfsync", "everysec"] if workdir \
        else ["--appendonly", "no"]
    return Service(host, port, ["redis-server", "--bind", host.address, "--port", str(port), "--save", "",
                                *persistence, "--protected-mode", "no"])


def start_redis(host: Host, port: int = 6379) -> str:
    """A private redis-server on the host (no persistence); its URL."""
    redis_service(host, port).start()
    return f"redis://{host.address}:{port}/0"


def postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise NetnsUnavailable("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    return found[-1].parent


def postgres_service(host: Host, workdir: Path, port: int = 5432) -> Service:
    """A private PostgreSQL cluster (initdb into `workdir`; run as the postgres user when we are root:
    initdb refuses root) listening on the host's address, trusting the bridge's subnet; start() it."""
    bindir = postgres_bin()
    data = workdir / "pgdata"
    user = "postgres" if os.geteuid() == 0 else None
    as_user = ["runuser", "-u", user, "--"] if user else []
    if user:
        os.chmod(workdir, 0o755)
        shutil.chown(workdir, user)  # its socket goes there too
    made = subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust",
                           "-U", "postgres", "--no-sync"], capture_output=True, text=True)
    if made.returncode != 0:
        raise NetnsUnavailable(f"initdb failed: {made.stderr.strip()}")
    with (data / "pg_hba.conf").open("a") as handle:
        handle.write("host all all 10.213.0.0/16 trust\n")
    return Service(host, port, [str(bindir / "postgres"), "-D", str(data), "-c", f"listen_addresses={host.address}",
                                "-c", f"port={port}", "-c", f"unix_socket_directories={workdir}", "-c", "fsync=off",
                                "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                                "-c", "max_connections=200"], user=user, pid_file=data / "postmaster.pid",
                   ready_argv=[str(bindir / "pg_isready"), "-q", "-h", host.address, "-p", str(port)])


def create_postgres_database(service: Service, workdir: Path, name: str = "robocall") -> str:
    """CREATE DATABASE `name` on a running `postgres_service`; the URL of that database."""
    as_user = ["runuser", "-u", service.user, "--"] if service.user else []
    subprocess.run([*as_user, str(postgres_bin() / "psql"), "-h", str(workdir), "-p", str(service.port),
                    "-U", "postgres", "-c", f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
    return f"postgresql+psycopg://postgres@{service.host.address}:{service.port}/{name}"


def start_postgres(host: Host, workdir: Path, port: int = 5432) -> str:
    """A private PostgreSQL cluster started on the host; the URL of database robocall."""
    service = postgres_service(host, workdir, port).start()
    return create_postgres_database(service, workdir)


def temp_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="robocall-hosts-"))
