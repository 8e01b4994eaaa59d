"""A throwaway Ray cluster of several nodes on this machine, started the way a user starts one.

    with LocalRayCluster(nodes=2, cpus_per_node=1) as cluster:
        subprocess.run(["mechdsl", "sweep", ..., "--backend", "ray", "--address", cluster.address],
                       env=cluster.driver_env())

The head is `ray start --head --port P --num-cpus C --temp-dir D`, every further node
`ray start --address HEAD:P --num-cpus C --temp-dir D`; each `ray start` runs in a session of
its own, and every process Ray starts for that node (GCS, raylet, agents, trial workers) stays
in it. `stop()` ends exactly those sessions' processes: `ray stop` would end every Ray process
on the machine, other users' clusters included.

Node `i` sits on the loopback address 127.0.0.(2+i): Ray replaces 127.0.0.1 and `localhost` by
the machine's outward address (`ray._private.services.resolve_ip_for_localhost`), and a distinct
address per node keeps the nodes apart in `ray.nodes()`. Token authentication (Ray's default)
stays on with a token of the cluster's own in its temp dir (RAY_AUTH_TOKEN_PATH), so `~/.ray`
is not touched. Linux only (it reads /proc and uses 127.0.0.0/8 beyond 127.0.0.1).
"""

from __future__ import annotations

import atexit
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START_SECONDS = 120       # bound on one `ray start`
STOP_GRACE_SECONDS = 5    # SIGTERM, then SIGKILL for what is left
OBJECT_STORE_BYTES = 200 * 1024 * 1024  # per node; Ray's default is 30 % of the RAM


class ClusterError(RuntimeError):
    """A node of the local cluster did not start; the message ends with its `ray start` output."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("", 0))
        return probe.getsockname()[1]


def ray_command() -> str:
    """The `ray` CLI of this interpreter's environment (not whichever one $PATH finds first)."""
    beside = Path(sys.executable).with_name("ray")
    found = str(beside) if beside.is_file() else shutil.which("ray")
    if not found:
        raise ClusterError("the `ray` command is not installed (pip install 'mechdsl[ray]')")
    return found


def session_processes(session_id: int) -> list[int]:
    """Pids of the live (non-zombie) processes of a session, read from /proc/<pid>/stat."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # fields after the parenthesised command name: state ppid pgrp session ...
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == session_id and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def end_sessions(session_ids: list[int], grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM every process of the sessions, SIGKILL what is still alive after `grace` s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for session_id in session_ids:
            for pid in session_processes(session_id):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(session_processes(s) for s in session_ids):
            time.sleep(0.1)


class LocalRayCluster:
    """`nodes` Ray nodes of `cpus_per_node` CPUs each on this machine; `env` is added to the
    environment of every node (e.g. PYTHONPATH, so trial workers import a given mechdsl)."""

    def __init__(self, nodes: int = 2, cpus_per_node: int = 1, env: dict[str, str] | None = None):
        if nodes < 1 or cpus_per_node < 1:
            raise ValueError("a cluster needs at least one node of at least one CPU")
        self.nodes, self.cpus_per_node = nodes, cpus_per_node
        self.temp_dir = Path(tempfile.mkdtemp(prefix="mechdsl-ray-"))  # short: Ray's socket paths
        self.token_path = self.temp_dir / "auth_token"
        self.port = free_port()
        self.head_ip = self.node_ip(0)
        self.address = f"{self.head_ip}:{self.port}"
        self._env = dict(env or {})
        self._sessions: list[int] = []
        atexit.register(self.stop)  # also when the caller never reaches its own clean-up

    @staticmethod
    def node_ip(index: int) -> str:
        return f"127.0.0.{2 + index}"

    def driver_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """The environment a driver needs to join: Ray's token authentication with this cluster's token."""
        env = dict(os.environ if base is None else base)
        env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(self.token_path), RAY_USAGE_STATS_ENABLED="0")
        env.pop("RAY_AUTH_TOKEN", None)
        env.pop("RAY_ADDRESS", None)
        return env

    def start(self) -> "LocalRayCluster":
        self.token_path.write_text(secrets.token_hex(32))
        self.token_path.chmod(0o600)
        try:
            for index in range(self.nodes):
                role = ["--head", "--port", str(self.port), "--include-dashboard", "false",
                        "--dashboard-port", str(free_port())] if index == 0 else ["--address", self.address]
                self._start_node(index, role + [
                    "--node-ip-address", self.node_ip(index), "--num-cpus", str(self.cpus_per_node),
                    "--temp-dir", str(self.temp_dir), "--object-store-memory", str(OBJECT_STORE_BYTES),
                    "--dashboard-agent-listen-port", str(free_port()), "--disable-usage-stats"])
            self._wait_for_nodes()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_node(self, index: int, arguments: list[str]) -> None:
        log = self.temp_dir / f"ray-start-{index}.log"
        with open(log, "w") as output:
            process = subprocess.Popen([ray_command(), "start", *arguments], stdin=subprocess.DEVNULL,
                                       stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
                                       env=self.driver_env() | self._env)
            self._sessions.append(process.pid)  # a new session's id is its leader's pid
            try:
                code = process.wait(timeout=START_SECONDS)
            except subprocess.TimeoutExpired:
                code = None
        if code != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            outcome = f"did not finish in {START_SECONDS} s" if code is None else f"exited {code}"
            raise ClusterError(f"`ray start` of node {index} ({self.node_ip(index)}) {outcome}:\n{tail}")

    def _wait_for_nodes(self) -> None:
        """Until `ray status` lists every node as active: a joined node's `ray start` returns
        before the cluster's status shows it, and a sweep started then would see one node."""
        deadline = time.monotonic() + START_SECONDS
        while len(active := self.node_ids()) < self.nodes:
            if time.monotonic() > deadline:
                raise ClusterError(f"only {len(active)} of {self.nodes} nodes active after {START_SECONDS} s")
            time.sleep(0.5)

    def node_ids(self) -> set[str]:
        """Ids of the cluster's active nodes, as `ray status` lists them (`node_<hex id>`)."""
        status = subprocess.run([ray_command(), "status", "--address", self.address], capture_output=True,
                                text=True, env=self.driver_env(), timeout=60)
        if status.returncode != 0:
            raise ClusterError(f"`ray status` exited {status.returncode}: {status.stderr[-2000:]}")
        active = status.stdout.split("Active:", 1)[-1].split("Pending:", 1)[0]
        return set(re.findall(r"node_([0-9a-f]+)", active))

    def processes(self, name_prefix: str = "", node: int | None = None) -> list[int]:
        """Pids of the processes of every node (or of node `node`) whose command line starts with
        `name_prefix` (Ray names its workers `ray::<task>`)."""
        sessions = self._sessions if node is None else self._sessions[node:node + 1]
        pids = []
        for session_id in sessions:
            for pid in session_processes(session_id):
                try:
                    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                if command.startswith(name_prefix):
                    pids.append(pid)
        return pids

    def stop(self) -> None:
        """End every process of this cluster's nodes (and only those) and remove its temp dir."""
        atexit.unregister(self.stop)
        end_sessions(self._sessions)
        self._sessions = []
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> "LocalRayCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
