"""Fixed helpers that generated packages import at run time (spec-independent code).

`sampling` (distributions and state-entity blocks, also behind `mechdsl.solve.state`),
`batching` (the batch-last layout), `action_map` (range maps of the action map and their
inverses), `certificate` (incentive slacks, later play, the rounding allowance),
`linear_program`, `dual_simplex`, `sparse_rows` and `repair` (the payment LPs and the
feasibility repair), `payment_root` (payments without a closed-form inverse), `bandit_env` and
`contract_env`
(env base classes), `optimum` (the per-state optimum loop), `package` (importing a
generated folder). These modules import only torch, NumPy, the standard library and each
other, never mechdsl's compiler stages (`tests/runtime/test_layering.py`).
"""
