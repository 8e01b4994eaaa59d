"""The sweep driver's Ray: join a running cluster, or start a private Ray on this machine.

Joining `HOST:PORT` fails with one `UsageError` (the address and a hint), never a hang:
`ray.init(address=...)` keeps retrying for many minutes when nothing answers (each attempt to
reach the GCS waits about 40 s, 20 attempts; measured with Ray 2.60), so the driver first opens
a TCP connection to HOST:PORT within `PROBE_SECONDS`, and then lets Ray make `GCS_ATTEMPTS`
attempts only (Ray's RAY_gcs_server_port_wait_time_s, unless the user set it). A cluster that
refuses this driver's token (Ray's token authentication is on by default) is told apart from an
address where nothing runs.

A private Ray (no address) is put on a loopback address on Linux: Ray replaces 127.0.0.1 by the
machine's outward address (`ray._private.services.resolve_ip_for_localhost`), so it is given
127.0.0.2, which keeps a one-machine sweep's traffic off the network interface.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from mechdsl.errors import UsageError

PROBE_SECONDS = 5.0
GCS_ATTEMPTS = 2
PRIVATE_NODE_IP = "127.0.0.2"
SCALING_DOC = 'docs/scaling.md, "A Ray cluster"'


def host_and_port(address: str) -> tuple[str, int] | None:
    """`HOST:PORT` -> (host, port); None for addresses Ray resolves itself (`auto`, `ray://...`)."""
    if address == "auto" or "://" in address:
        return None
    host, sep, port = address.rpartition(":")
    host = host.strip("[]")  # [::1]:6379
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--address {address!r} is not HOST:PORT",
                         hint="give the address `ray start --head` printed, e.g. --address 10.0.0.5:6379, or 'auto'")
    return host, int(port)


def probe(address: str, host: str, port: int, timeout: float = PROBE_SECONDS) -> None:
    """A TCP connection to the head's GCS port, or a `UsageError` saying why there is none."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except socket.gaierror:
        reason = f"unknown host {host!r}"
    except TimeoutError:
        reason = f"no answer within {timeout:g} s"
    except ConnectionRefusedError:
        reason = "connection refused (nothing listens on that port)"
    except OSError as error:
        reason = error.strerror or str(error)
    raise UsageError(f"no Ray cluster at {address}: {reason}",
                     hint=f"start one there with `ray start --head --port={port}` and join its nodes with "
                          f"`ray start --address={address}` ({SCALING_DOC}); without --address, "
                          "--backend ray starts a private Ray on this machine")


def _cause_text(error: BaseException) -> str:
    parts, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        parts.append(f"{type(error).__name__}: {error}")
        error = error.__cause__ or error.__context__
    return "\n".join(parts)


def join_error(address: str, error: BaseException) -> UsageError:
    """The `UsageError` for a `ray.init(address=...)` that failed after the TCP probe succeeded."""
    text = _cause_text(error)
    if "InvalidAuthToken" in text or "AuthenticationError" in text:
        return UsageError(f"the Ray cluster at {address} refused this driver: its authentication token is "
                          "missing or not the cluster's",
                          hint="Ray's token authentication is on: give this machine the head's token (copy the "
                               "head node's ~/.ray/auth_token, or set RAY_AUTH_TOKEN_PATH or RAY_AUTH_TOKEN)")
    first = next((line for line in str(error).splitlines() if line.strip()), type(error).__name__)
    return UsageError(f"cannot join the Ray cluster at {address}: {first}",
                      hint=f"check that {address} is a Ray head's port (`ray status --address {address}`) and "
                           "that this machine runs the same Ray and Python as the cluster")


def join(ray, address: str) -> None:
    """`ray.init(address=address)`, bounded: see the module docstring."""
    parsed = host_and_port(address)
    if parsed:
        probe(address, *parsed)
        os.environ.setdefault("RAY_gcs_server_port_wait_time_s", str(GCS_ATTEMPTS))
    try:
        ray.init(address=address, log_to_driver=False)
    except (ConnectionError, RuntimeError) as error:
        if address == "auto" and isinstance(error, ConnectionError):
            raise UsageError("--address auto: no Ray cluster runs on this machine",
                             hint=f"start one with `ray start --head` ({SCALING_DOC}), or drop --address for "
                                  "a private Ray") from None
        raise join_error(address, error) from None


def start_private(ray, num_cpus: int) -> None:
    """A Ray of `num_cpus` CPUs for this sweep alone; its workers import this driver's mechdsl."""
    import mechdsl

    source_root = str(Path(mechdsl.__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (source_root, os.environ.get("PYTHONPATH")) if p)
    loopback = {"_node_ip_address": PRIVATE_NODE_IP} if sys.platform.startswith("linux") else {}
    ray.init(num_cpus=num_cpus, log_to_driver=False, include_dashboard=False,
             runtime_env={"env_vars": {"PYTHONPATH": path}}, **loopback)


def connect(ray, address: str | None, num_cpus: int | None) -> bool:
    """Join the cluster at `address` (or $RAY_ADDRESS), else start a private Ray with an explicit
    CPU count. Returns True when this call started or joined Ray (and so should shut it down)."""
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        join(ray, address)
    else:
        start_private(ray, num_cpus or os.cpu_count() or 1)
    return True
