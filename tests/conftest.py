"""The `slow` marker of the whole suite, in one place.

`python -m pytest -m "not slow"` runs the fast subset; CI (`.ci/run`) and the README's test
command run everything. A test is listed here when it took more than ~10 s (call or module
setup) in a full run on a 2-core machine (`python -m pytest --durations=0`, load average 4-8
from other jobs); a test that needs a listed module fixture is listed with it. Entries are
node ids, with or without the parametrization.
"""

from __future__ import annotations

import os

import pytest

SLOW_TESTS = frozenset({
    "tests/benchmarks/test_gpu_check.py::test_gpu_check_runs_every_job_on_the_cpu_with_a_tiny_budget",  # ~1.5-3 min
    "tests/cli/test_no_overwrite.py::test_default_run_folder_is_never_replaced",
    "tests/cli/test_train_eval_run.py::test_run_command_and_resume",
    "tests/cli/test_train_eval_run.py::test_train_then_eval_json",
    "tests/codegen/test_generate.py::test_generated_train_script_runs",
    "tests/codegen/test_repair.py::test_float32_repair_leaves_no_violation[three_period]",
    "tests/games/test_certificate.py::test_certificate_on_20_full_spec_states",
    "tests/games/test_certificate.py::test_certificate_on_20_states_small",
    "tests/games/test_follower.py::test_best_response_matches_scipy_on_100_price_vectors",
    "tests/games/test_run_cli.py::test_run_then_eval",
    "tests/games/test_training.py::test_edmsac_beats_random_and_greedy_in_100_steps",
    "tests/lang/test_fmt.py::test_any_layout_of_a_bundled_spec_formats_to_the_same_spec",
    "tests/lang/test_fuzz_mutants.py::test_mutants_exit_0_or_2",  # 30-45 s per kind
    "tests/lang/test_long_expressions.py::test_a_sum_of_100000_terms_checks",
    "tests/lang/test_mutations.py::test_mutated_large_scenario_checks_or_reports_positioned_errors",
    "tests/lang/test_mutations.py::test_mutated_specs_check_or_report_positioned_errors",
    "tests/rl/test_rl_algorithms.py::test_beats_random_contract[dmsac]",
    "tests/rl/test_rl_algorithms.py::test_beats_random_contract[edmsac]",
    "tests/rl/test_rl_algorithms.py::test_beats_random_on_the_compiled_static_contract[edmsac]",
    "tests/rl/test_rl_loop.py::test_cosine_schedule_reaches_every_optimizer_and_resumes",
    "tests/rl/test_rl_loop.py::test_resume_continues_the_same_run[edmsac-hparams0]",
    "tests/rl/test_rl_loop.py::test_same_seed_same_curve_and_other_seed_differs",
    "tests/scenario/test_cli_scenario.py::test_tiny_run_and_eval",
    "tests/solve/test_exact.py::test_examples_solve_and_certify[examples/three_period.mech]",
    "tests/solve/test_exact.py::test_reduced_equals_unreduced_two_period[5]",
    "tests/sweep/test_sweep_ray.py::test_ray_backend_gives_the_local_table_layout",
    # these share the module fixture `swept` (a whole sweep, ~70 s)
    "tests/sweep/test_sweep_local.py::test_every_trial_is_a_run_folder_and_a_row",
    "tests/sweep/test_sweep_local.py::test_grid_values_reach_the_spec_and_the_optimizer",
    "tests/sweep/test_sweep_local.py::test_summary_is_mean_and_std_over_seeds",
    "tests/sweep/test_sweep_local.py::test_markdown_table_and_plots",
    "tests/sweep/test_sweep_local.py::test_rerun_skips_finished_trials",
    "tests/sweep/test_sweep_local.py::test_changed_configuration_in_the_same_folder_is_refused",
    "tests/test_api.py::test_compile_and_train_from_python",
})


def pytest_configure(config) -> None:
    """Under pytest-xdist (pyproject's addopts), the cores are shared by the workers: each
    worker's torch gets its share of the threads instead of all of them."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if item.nodeid in SLOW_TESTS or item.nodeid.split("[")[0] in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
