"""Sequential scenarios: `scenario NAME` specs compiled to batched multi-slot torch envs.

Stages: `mechdsl.lang.scenario_checker` (spec -> `model.ScenarioModel`), `codegen`
(model -> generated package), `pipeline` (compile / train / evaluate for the CLI),
`rollout` (episode evaluation, baselines and reports). See docs/scenarios.md.
"""
