"""The back end of the auction_design kind (`mechdsl.kinds.kind` lists its four functions).

Two routes, chosen by the algorithm (`configure`):

* the learned library (the default; `algorithm = ...` in the train block or `--algo` naming a
  family of `mechdsl.auction_design.training`): `train` learns the mechanism family and
  certifies it (`mechdsl.auction_design.learned.report.certify`: revenue, regret by gradient
  ascent and by grid enumeration, ex post IR, the setting's reference revenue). A run folder holds
      run.json          the configuration (`mechdsl.rl.runs.RunConfig`)
      mechanism.pt      the mechanism's state dict (none for Myerson's auction)
      evaluation.json   the certificate
      report.md         the certificate in words
  `eval` re-certifies the saved mechanism on fresh profiles.
* the RL route (`--algo` naming an RL algorithm: amortized, edmsac, ppo, ...; one item, or
  several with additive values): `compile` generates the reserve-price env
  (`mechdsl.auction_design.codegen`: one reserve per bidder and item, each item sold by a
  second-price auction, reward = the exact expected objective with those reserves, optimum =
  item-wise Myerson), and the RL learner trains it like a contract
  (`mechdsl.rl.train`); the run folder is a contract run's (package/, checkpoint.pt,
  metrics.csv, evaluation.json with the optimality ratio, report.md)."""

from __future__ import annotations

import json
from pathlib import Path

REGRET_PROFILES = 256    # profiles each regret estimate searches misreports at (at most the evaluated ones)
GRID_POINTS = 101        # misreports per value dimension of the grid estimate
GRADIENT_STEPS = 200     # Adam steps per restart of the gradient estimate; fewer (one per profile) for a
                         # smoke-test evaluation of fewer profiles, whose cost is per step, not per profile


def compile(model, target: Path, *, source: str, force: bool = False) -> list[Path]:  # noqa: A001 - the back-end interface
    from mechdsl.auction_design.codegen import compile_auction

    return compile_auction(model, target, force=force, source=source)


def is_rl(algo: str) -> bool:
    """Whether `algo` is one of the RL learners (trained on the compiled reserve-price env)."""
    from mechdsl.rl.algorithms import ALGORITHMS

    return algo in ALGORITHMS


def uses_package(config) -> bool:
    """Whether the run compiles a package (the RL route) or trains the learned library without one."""
    return is_rl(config.algo)


def build_env(config, run_dir: Path, model, dtype=None):
    """Compile the reserve-price env into `run_dir/package` (idempotent) and instantiate it."""
    import torch

    from mechdsl.auction_design.codegen import compile_auction
    from mechdsl.rl.runs import load_package

    compile_auction(model, Path(run_dir) / "package", source=config.source)
    return load_package(Path(run_dir) / "package").Env(device=config.device, dtype=dtype or torch.float32)


def configure(spec_path: str, source: str, model, *, algo: str | None, steps: int | None, seed: int | None,
              device: str, preset: str | None, overrides: dict):
    """The spec's train block merged with the command line (which wins), as a `RunConfig`;
    the family is checked against the setting here, before a run folder is made. An RL
    algorithm (`--algo amortized`, ...) trains the compiled reserve-price env instead: the train
    block's settings are the learned families', so that run takes only its seed (and steps from
    --steps, else the RL default)."""
    from mechdsl.auction_design.training import default_algorithm, require_family, setting_of
    from mechdsl.errors import UsageError
    from mechdsl.rl.runs import DEFAULT_STEPS, RunConfig

    settings = dict(model.train)
    algo = algo or settings.get("algorithm") or default_algorithm(model)
    if is_rl(algo):
        from mechdsl.auction_design.codegen import require_compilable

        require_compilable(model)
        return RunConfig(spec=spec_path, source=source, algo=algo, steps=int(steps or DEFAULT_STEPS),
                         seed=int(seed if seed is not None else settings.get("seed", 0)), device=device,
                         preset=preset or "default", hparams={}, overrides=overrides)
    require_family(algo, setting_of(model))
    if preset not in (None, "default"):
        raise UsageError(f"--preset {preset} is for the RL algorithms; auction mechanisms have no presets")
    hparams = {k: v for k, v in settings.items() if k not in ("algorithm", "steps", "seed")}
    return RunConfig(spec=spec_path, source=source, algo=algo, steps=int(steps or settings.get("steps", DEFAULT_STEPS)),
                     seed=int(seed if seed is not None else settings.get("seed", 0)), device=device,
                     preset="default", hparams=hparams, overrides=overrides)


def _certify(mechanism, setting, config, profiles: int, seed: int, training_seconds: float | None):
    from mechdsl.auction_design.learned import certify

    regret_profiles = min(profiles, REGRET_PROFILES)
    return certify(mechanism, setting, config.algo, samples=profiles, gradient_samples=regret_profiles,
                   restarts=int(config.hparams.get("restarts", 16)), steps=min(GRADIENT_STEPS, profiles),
                   grid_samples=regret_profiles,
                   grid_points=GRID_POINTS, seed=seed, device=config.device, training_seconds=training_seconds)


def summary_of(certificate) -> dict:
    """evaluation.json: the certificate plus the keys every kind's summary has."""
    out = certificate.as_dict()
    out.update(n_states=certificate.samples, objective=certificate.revenue,
               violation_rate=certificate.ir_violation_rate,
               reference_revenue=None if certificate.reference is None else certificate.reference.value)
    return out


def train_run(config, run_dir: Path, model, *, resume: bool = False, log: str = "rich", eval_states: int = 1000,
              curve_states: int = 256, stages=None) -> dict:
    """Train the spec's mechanism family, save its weights, certify it on `eval_states` fresh
    profiles (the regret estimates on at most REGRET_PROFILES of them) and write the report."""
    from mechdsl.auction_design.training import save_weights, setting_of, train_mechanism
    from mechdsl.errors import UsageError
    from mechdsl.rl.checkpoint import atomic_write_text
    from mechdsl.rl.stages import StageClock
    from mechdsl.seeds import HELDOUT_SEED

    stages = stages if stages is not None else StageClock()
    if is_rl(config.algo):
        return train_reserves(config, run_dir, model, resume=resume, log=log, eval_states=eval_states,
                              curve_states=curve_states, stages=stages)
    if resume:
        raise UsageError("an auction mechanism's training cannot be resumed", hint="use --overwrite to train anew")
    setting = setting_of(model)
    with stages.stage("train"):
        trained = train_mechanism(config.algo, setting, config.hparams, config.steps, config.seed, config.device)
        save_weights(trained.mechanism, run_dir)
    with stages.stage("evaluate"):
        certificate = _certify(trained.mechanism, setting, config, eval_states, HELDOUT_SEED,
                               trained.training_seconds)
    summary = summary_of(certificate)
    summary["history"] = trained.history
    atomic_write_text(Path(run_dir) / "evaluation.json", json.dumps(summary, indent=2, sort_keys=True))
    with stages.stage("report"):
        atomic_write_text(Path(run_dir) / "report.md", report_text(model, config, certificate, trained.history))
    return summary


def train_reserves(config, run_dir: Path, model, *, resume: bool, log: str, eval_states: int, curve_states: int,
                   stages) -> dict:
    """The RL route: train `config.algo` on the compiled reserve-price env, evaluate it against
    Myerson's optimum on held-out states (all alike: the spec draws no parameters) and report."""
    from mechdsl.rl.contract_pipeline import compile_and_train
    from mechdsl.rl.evaluate import evaluate_policy
    from mechdsl.rl.report import write_report

    env, result = compile_and_train(build_env, config, run_dir, model, resume=resume, log=log,
                                    curve_states=curve_states, stages=stages)
    with stages.stage("evaluate"):
        evaluation = evaluate_policy(env, result.agent, n_states=eval_states)
        learned = learned_reserves(env, result.agent, config.seed)
    summary = evaluation.as_dict()
    summary.update(learned)
    (Path(run_dir) / "evaluation.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
    with stages.stage("report"):
        write_report(run_dir, {config.algo: result.rows}, {config.algo: evaluation}, optimum=evaluation.mean_optimum,
                     title=f"{model.name}: {config.algo} reserve prices, seed {config.seed}",
                     notes=reserve_notes(model, config, evaluation, learned))
    return summary


def reserve_notes(model, config, evaluation, learned: dict) -> str:
    """The report's words on an RL run of the reserve-price env: the family, the ratio's
    denominator, the learned and Myerson's reserves, and the setting's reference revenue when
    the library has one (for several items above the family's optimum)."""
    reserves = ", ".join(f"{name} {value:.4f}" for name, value in learned["reserves"].items())
    myerson = ", ".join(f"{value:.4f}" for value in learned["myerson_reserves"])
    if model.items == 1:
        family = ("The policy sets one reserve per bidder of a second-price auction (DSIC and ex post IR for any "
                  "reserves)")
        optimum = "Myerson's optimal auction's"
        caveat = "equal to the optimum for i.i.d. regular bidders, below it for asymmetric ones"
    else:
        family = (f"The policy sets one reserve per bidder and item; each of the {model.items} items is sold "
                  "separately by a second-price auction (DSIC and ex post IR for any reserves)")
        optimum = "the family's best objective (item-wise Myerson, summed over the items)"
        caveat = "the family's optimum for i.i.d. regular bidders"
    text = (f"Spec `{config.spec}`, {config.steps} steps, preset `{config.preset}`, device `{config.device}`. "
            f"{family}; reward = the exact expected {model.objective}; optimality ratio = its mean over {optimum} "
            f"on {evaluation.n_states} held-out states (all alike). Learned reserves: {reserves}; Myerson's: "
            f"{myerson}, objective {learned['objective_at_myerson_reserves']:.6f} there ({caveat}).")
    reference = learned.get("reference")
    if reference is not None:
        kind = "the optimal revenue over all mechanisms" if reference["optimal"] else "a published mechanism's revenue"
        text += (f" The setting's reference: {reference['value']:.4f}, {kind} ({reference['source']}); the "
                 f"family's optimum {evaluation.mean_optimum:.4f} is {evaluation.mean_optimum / reference['value']:.4f}"
                 " of it.")
    return text


def learned_reserves(env, agent, seed: int) -> dict:
    """The deterministic policy's reserves (one state: all are alike) and the objective at Myerson's."""
    import torch

    from mechdsl.rl.env import observation
    from mechdsl.rl.evaluate import heldout_states

    state = heldout_states(env, 1)
    action = agent.act(observation(env, state), explore=False,
                       generator=torch.Generator(device=env.device).manual_seed(seed))
    package = env_package(env)
    reserves = package.reserves(action.to(state.dtype))[0].double().cpu().tolist()
    at_myerson = float(env.evaluate(state, env.myerson_action(state)).reward[0])
    return {"reserves": dict(zip(package.ACTION_LAYOUT, reserves)), "reference": reference_of_package(package),
            "myerson_reserves": list(package.MYERSON_RESERVES), "objective_at_myerson_reserves": at_myerson}


def reference_of_package(package) -> dict | None:
    """The compiled env's reference revenue {value, source, optimal}, None where it has none."""
    if package.REFERENCE is None:
        return None
    return {"value": package.REFERENCE, "source": package.REFERENCE_SOURCE, "optimal": package.REFERENCE_OPTIMAL}


def env_package(env):
    """The generated env.py module of a compiled reserve-price env (layouts, `reserves`)."""
    from mechdsl.rl.runs import load_package_of

    return load_package_of(env)


def evaluate_run(config, run_dir: Path, model, n_states: int, seed: int) -> dict:
    """Re-certify a finished run's mechanism on `n_states` fresh profiles drawn with `seed`; an
    RL run: its reserves' objective against Myerson's optimum on `n_states` held-out states."""
    from mechdsl.auction_design.training import load_mechanism, setting_of

    if is_rl(config.algo):
        return evaluate_reserves(config, run_dir, model, n_states, seed)

    setting = setting_of(model)
    mechanism = load_mechanism(config.algo, setting, config.hparams, run_dir, config.device)
    return summary_of(_certify(mechanism, setting, config, n_states, seed, None))


def evaluate_reserves(config, run_dir: Path, model, n_states: int, seed: int) -> dict:
    """`mechdsl eval` of an RL run: per state the objective ("objective"), the family's optimum
    ("optimum": Myerson's, item-wise for several items), the learned reserves, the optimality
    ratio, the violation rate (0: DSIC and IR hold for any reserves) and the setting's reference
    revenue ("reference", null where the library has none)."""
    from mechdsl.rl.contract_pipeline import deployed_policy
    from mechdsl.tolerances import VIOLATION_TOLERANCE

    env, state, result = deployed_policy(build_env, config, run_dir, model, n_states, seed)
    objective, optimum = result.reward.double(), env.optimum(state).double()
    package = env_package(env)
    names = package.ACTION_LAYOUT
    return {"reference": reference_of_package(package),
            "states": [dict(zip(env.state_names, row)) for row in state.double().cpu().tolist()],
            "reserves": [dict(zip(names, (float(result.info[n][b]) for n in names))) for b in range(n_states)],
            "objective": objective.cpu().tolist(), "revenue": result.info["revenue"].double().cpu().tolist(),
            "optimum": optimum.cpu().tolist(), "optimality_ratio": float(objective.mean() / optimum.mean()),
            "violation_rate": float((result.violation > VIOLATION_TOLERANCE).double().mean())}


def certificate_lines(evaluation: dict) -> list[str]:
    """The certificate for the terminal (train, run and eval print it)."""
    def regrets(values) -> str:
        return ", ".join(f"{v:.2e}" for v in values)

    lines = [f"  setting              {evaluation['setting']}",
             f"  profiles             {evaluation['samples']}",
             f"  revenue              {evaluation['revenue']:.4f} +- {evaluation['revenue_standard_error']:.4f}",
             f"  regret (gradient)    {regrets(evaluation['regret_gradient'])}  ({evaluation['gradient_detail']})"]
    if evaluation.get("regret_grid") is not None:
        lines.append(f"  regret (grid)        {regrets(evaluation['regret_grid'])}  ({evaluation['grid_detail']})")
    lines.append(f"  regret-adjusted      {evaluation['regret_adjusted_revenue']:.4f}")
    lines.append(f"  IR violation rate    {evaluation['ir_violation_rate']:.4f} (mean shortfall "
                 f"{evaluation['ir_violation_mean']:.2e})")
    reference = evaluation.get("reference")
    if reference:
        word = "optimum" if reference["optimal"] else "published"
        lines.append(f"  {'reference (' + word + ')':<21}{reference['value']:.4f}  {reference['source']}")
    return lines


def report_text(model, config, certificate, history: list[dict]) -> str:
    """report.md: what was trained and its certificate."""
    evaluation = summary_of(certificate)
    reference = certificate.reference
    rows = [("revenue", f"{certificate.revenue:.4f} ± {certificate.revenue_standard_error:.4f}"),
            ("regret per bidder (gradient ascent)", ", ".join(f"{v:.2e}" for v in certificate.regret_gradient)),
            ("regret per bidder (grid)", "not computed (more than 2 items)" if certificate.regret_grid is None
             else ", ".join(f"{v:.2e}" for v in certificate.regret_grid)),
            ("regret-adjusted revenue", f"{certificate.regret_adjusted_revenue:.4f}"),
            ("IR violation rate", f"{certificate.ir_violation_rate:.4f}"),
            ("reference revenue", "none on file" if reference is None
             else f"{reference.value:.4f} ({'optimal' if reference.optimal else 'published'}: {reference.source})"),
            ("training seconds", f"{certificate.training_seconds or 0.0:.1f}")]
    curve = [f"| {row.get('step')} | " + ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k != "step") + " |"
             for row in history]
    return "\n".join([
        f"# {model.name}: {config.algo}, seed {config.seed}", "",
        f"Spec `{config.spec}`, {config.steps} steps on `{config.device}`; setting {certificate.setting}. "
        f"Certificate on {certificate.samples} fresh value profiles; regret is the mean ex post regret, "
        f"{evaluation['gradient_detail']} and {evaluation['grid_detail'] or 'no grid'} on at most "
        f"{REGRET_PROFILES} of them (each estimate is a lower bound; regret-adjusted revenue subtracts the larger).",
        "", "| quantity | value |", "|---|---|", *[f"| {k} | {v} |" for k, v in rows], "",
        "## Training", "", "| step | values |", "|---|---|", *curve, ""])
