"""`mechdsl sweep --backend ray` on a module-scoped local Ray (skipped without Ray)."""

import csv
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.tune")

ROOT = Path(__file__).resolve().parents[2]
SPEC = str(ROOT / "specs" / "static_contract.mech")


@pytest.fixture(scope="module")
def local_ray():
    from mechdsl.sweep.ray_connect import PRIVATE_NODE_IP, connect

    assert connect(ray, None, 2)
    assert {node["NodeManagerAddress"] for node in ray.nodes()} == {PRIVATE_NODE_IP}  # loopback only
    yield
    ray.shutdown()


def test_ray_backend_gives_the_local_table_layout(local_ray, mechdsl_main, tmp_path, capsys):
    from mechdsl.sweep.results import columns
    from mechdsl.sweep.grid import GridAxis

    out = tmp_path / "ray"
    # the layout, not learning: the spec's train block gives amortized a (32, 32) policy and 2 updates per step
    source = Path(SPEC).read_text(encoding="utf-8")
    assert source.count("train {\n") == 1
    spec = tmp_path / "static_contract.mech"
    spec.write_text(source.replace("train {\n", "train {\n  hidden = 32\n  updates_per_step = 2\n"), encoding="utf-8")
    argv = ["sweep", str(spec), "--grid", "M=6,12", "--algos", "amortized", "--seeds", "1", "--steps", "10",
            "--eval-states", "10", "--backend", "ray", "--out", str(out)]
    assert mechdsl_main(argv) == 0
    with open(out / "results.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == columns([GridAxis("M", "constant", (6.0, 12.0))])
    assert [r["trial"] for r in rows] == ["M=6,algo=amortized,seed=0", "M=12,algo=amortized,seed=0"]
    assert all(r["status"] == "trained" and 0 < float(r["optimality_ratio"]) <= 1.0 + 1e-6 for r in rows)
    assert float(rows[1]["mean_optimum"]) == pytest.approx(2 * float(rows[0]["mean_optimum"]), rel=1e-4)
    assert (out / "ray_tune").is_dir() and (out / "optimality_ratio_vs_M.png").is_file()
    capsys.readouterr()
    assert mechdsl_main(argv) == 0  # resumes: nothing left for Ray
    assert "2 already finished, 0 to train" in capsys.readouterr().out


def test_missing_ray_is_a_usage_error(monkeypatch):
    import builtins

    from mechdsl.cli.output import UsageError
    from mechdsl.sweep.ray_backend import import_ray

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(UsageError, match="not installed") as info:
        import_ray()
    assert "pip install 'mechdsl[ray]'" in info.value.hint
