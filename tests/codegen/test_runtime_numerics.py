"""Moving the generated envs' fixed helpers into `mechdsl.runtime` changed no number.

Two independent witnesses of the code before the move (main at `env_reference.BASELINE_COMMIT`):
* the packages committed under generated/ at that commit, extracted with git and run on the
  same seeds in the same process: every output must be bit-identical (same dtype, same bits);
* `fixtures/env_reference.json`, recorded from the old templates for every bundled spec, the
  codegen STRUCTURES and two_period at K = 5 (`env_reference.py --update`): each output's
  weighted sum, largest magnitude and nonzero count, within a float tolerance (so the test
  also holds on a machine whose BLAS rounds differently).
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys

import pytest
import torch

import env_reference as reference

COMMITTED = ("two_period", "static_contract", "iot_offloading")
TOLERANCE = {"float64": 1e-9, "float32": 2e-5}  # relative, of the weighted sum and the largest magnitude


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("runtime_numerics")


def _package_at_baseline(case: str, folder):
    """generated/<case>/ at BASELINE_COMMIT, imported as its own package (skip without git history)."""
    target = folder / f"{case}_at_baseline"
    target.mkdir(parents=True, exist_ok=True)
    try:
        names = subprocess.run(["git", "ls-tree", "--name-only", f"{reference.BASELINE_COMMIT}:generated/{case}"],
                               cwd=reference.ROOT, check=True, capture_output=True, text=True).stdout.split()
        for name in names:
            text = subprocess.run(["git", "show", f"{reference.BASELINE_COMMIT}:generated/{case}/{name}"],
                                  cwd=reference.ROOT, check=True, capture_output=True, text=True).stdout
            (target / name).write_text(text, encoding="utf-8")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"no git history with {reference.BASELINE_COMMIT}")
    module_name = f"mechdsl_baseline_{case}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, target / "__init__.py",
                                                      submodule_search_locations=[str(target)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


@pytest.mark.parametrize("dtype", list(reference.DTYPES))
@pytest.mark.parametrize("case", COMMITTED)
def test_committed_packages_are_bit_identical_to_the_baseline(case, dtype, scratch):
    new = reference.outputs(case, reference.package_of(case, scratch), reference.DTYPES[dtype])
    old = reference.outputs(case, _package_at_baseline(case, scratch), reference.DTYPES[dtype])
    assert sorted(new) == sorted(old)
    for name in old:
        assert new[name].dtype == old[name].dtype, name
        assert torch.equal(new[name], old[name]), name


RECORDED = json.loads(reference.FIXTURE.read_text(encoding="utf-8"))


def _close(new: float, old: float, rel: float, scale: float) -> bool:
    return math.isclose(new, old, rel_tol=rel, abs_tol=rel * scale)


@pytest.mark.parametrize("dtype", list(reference.DTYPES))
@pytest.mark.parametrize("case", reference.CONTRACT_CASES + reference.GAME_CASES)
def test_outputs_match_the_recording_from_before_the_runtime(case, dtype, scratch):
    assert RECORDED["batch"] == reference.BATCH and RECORDED["seed"] == reference.SEED
    recorded = RECORDED["cases"][case][dtype]
    new = reference.outputs(case, reference.package_of(case, scratch), reference.DTYPES[dtype])
    assert sorted(new) == sorted(recorded)
    rel = TOLERANCE[dtype]
    for name, value in new.items():
        (weighted, largest, nonzero), (old_weighted, old_largest, old_nonzero) = reference.summary(value), recorded[name]
        scale = old_largest * value.numel() ** 2
        assert _close(weighted, old_weighted, rel, scale), (name, weighted, old_weighted)
        assert _close(largest, old_largest, rel, old_largest), (name, largest, old_largest)
        if dtype == "float64":
            assert nonzero == old_nonzero, (name, nonzero, old_nonzero)
