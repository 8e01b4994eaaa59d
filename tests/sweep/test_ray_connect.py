"""Joining a Ray cluster: address parsing, the bounded probe, and the errors a failed join gives."""

import time
from pathlib import Path

import pytest

from mechdsl.cli.output import UsageError
from mechdsl.sweep.ray_cluster import LocalRayCluster, free_port
from mechdsl.sweep.ray_connect import host_and_port, join_error, probe

ROOT = Path(__file__).resolve().parents[2]
SPEC = str(ROOT / "specs" / "static_contract.mech")
GRID = ["--grid", "M=6,12", "--algos", "amortized", "--seeds", "1", "--steps", "10", "--eval-states", "10"]


@pytest.mark.parametrize("address, expected", [
    ("10.0.0.5:6379", ("10.0.0.5", 6379)),
    ("head.example:1", ("head.example", 1)),
    ("[::1]:6380", ("::1", 6380)),
    ("auto", None),
    ("ray://head:10001", None),
])
def test_addresses(address, expected):
    assert host_and_port(address) == expected


@pytest.mark.parametrize("address", ["head", "head:", ":6379", "head:port", "head:0", "head:65536"])
def test_malformed_addresses_are_usage_errors(address):
    with pytest.raises(UsageError, match="is not HOST:PORT") as info:
        host_and_port(address)
    assert "ray start --head" in info.value.hint


def test_probe_of_a_port_where_nothing_listens_is_refused_at_once():
    port = free_port()
    start = time.monotonic()
    with pytest.raises(UsageError) as info:
        probe(f"127.0.0.2:{port}", "127.0.0.2", port)
    assert time.monotonic() - start < 2
    assert str(info.value) == f"no Ray cluster at 127.0.0.2:{port}: connection refused (nothing listens on that port)"
    assert f"`ray start --head --port={port}`" in info.value.hint


def test_join_errors_tell_a_refused_token_from_other_failures():
    try:
        try:
            raise RuntimeError("Failed to connect to GCS. Last connection error: ... ray.exceptions."
                               "AuthenticationError: RPC error: InvalidAuthToken: Authentication token is missing")
        except RuntimeError as cause:
            raise ConnectionError("Failed to connect to Ray cluster at 127.0.0.2:6379") from cause
    except ConnectionError as error:
        refused = join_error("127.0.0.2:6379", error)
    assert str(refused).startswith("the Ray cluster at 127.0.0.2:6379 refused this driver")
    assert "~/.ray/auth_token" in refused.hint and "RAY_AUTH_TOKEN_PATH" in refused.hint
    other = join_error("127.0.0.2:6379", RuntimeError("Version mismatch: The cluster was started with Ray 2.9\nmore"))
    assert str(other) == "cannot join the Ray cluster at 127.0.0.2:6379: Version mismatch: The cluster was started with Ray 2.9"
    assert "same Ray" in other.hint


@pytest.fixture
def no_ray_running():
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.tune")
    assert not ray.is_initialized()
    yield
    assert not ray.is_initialized()  # a failed join leaves nothing connected


@pytest.mark.parametrize("from_environment", [False, True])
def test_an_address_without_a_cluster_is_one_clear_error(no_ray_running, mechdsl_main, capsys, tmp_path,
                                                         monkeypatch, from_environment):
    address = f"{LocalRayCluster.node_ip(0)}:{free_port()}"  # nothing listens there
    argv = ["sweep", SPEC, *GRID, "--backend", "ray", "--out", str(tmp_path / "o")]
    if from_environment:
        monkeypatch.setenv("RAY_ADDRESS", address)
    else:
        argv += ["--address", address]
    start = time.monotonic()
    assert mechdsl_main(argv) == 2
    assert time.monotonic() - start < 30
    err = capsys.readouterr().err
    assert err.startswith(f"mechdsl: error: no Ray cluster at {address}: connection refused")
    assert "hint: start one there with `ray start --head --port=" in err and "Traceback" not in err
    assert not any(p.is_dir() for p in (tmp_path / "o").iterdir())  # nothing trained


def test_malformed_address_exits_2(no_ray_running, mechdsl_main, capsys, tmp_path):
    assert mechdsl_main(["sweep", SPEC, *GRID, "--backend", "ray", "--address", "headnode",
                         "--out", str(tmp_path / "o")]) == 2
    assert "mechdsl: error: --address 'headnode' is not HOST:PORT" in capsys.readouterr().err
