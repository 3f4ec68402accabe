"""``perseus validate``: replay a scenario on live Triton hosts and measure the simulator's error."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from perseus.config.hosts import load_inventory
from perseus.config.scenario import load_scenario
from perseus.errors import HostError, Interrupted
from perseus.validate.compare import worst_p99_error
from perseus.validate.run import SEED_RUNS, run, write_outputs

console = Console()
err = Console(stderr=True)
SPEED_DRIFT_WARN = 0.05   # warn when the replay computed this much slower or faster than its profile
SPEED_NOISE_WARN = 0.05   # warn when the spread of the replays' speeds alone moves a p99 this much
WIDE_REPLAYS = 2.0        # warn when replays land this many times as far apart at p99 as simulations at other seeds


def validate_command(
    scenario: Path = typer.Argument(..., help="Scenario YAML (see scenarios/)."),
    hosts: Optional[Path] = typer.Option(None, "--hosts", help="hosts.yaml; without it every host of a placement is an embedded local host on its own core."),
    placement: Optional[str] = typer.Option(None, "--placement", help="Validate only this placement."),
    duration: Optional[float] = typer.Option(None, "--duration", min=0.001, help="Seconds of trace to replay (default: the scenario's)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (default: the scenario's)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write measured, simulated and error here; the requests go beside it as .requests.csv."),
    fail_above: Optional[float] = typer.Option(None, "--fail-above", min=0, help="Exit 1 when any p99 error exceeds this many percent."),
    repeat: int = typer.Option(1, "--repeat", min=1, help="Replay the trace this many times, each on freshly deployed hosts, and compare the simulation with the mean of the replays."),
    calibrate: Optional[float] = typer.Option(None, "--calibrate", min=1, help="Before the replays, replay this many seconds of another draw of the scenario's workload on the deployed placement, and also simulate at the speeds it measured: a prediction calibrated on the host minutes before, of a run it has not seen."),
) -> None:
    """Replay a scenario's trace on live Triton hosts and compare with the simulation."""
    loaded = load_scenario(scenario)
    inventory = load_inventory(hosts, builtin=False) if hosts else None
    csv_path = (json_out.with_suffix(".requests.csv") if json_out else
                Path(f"{loaded.scenario.name}-validate.requests.csv"))
    with Progress(TextColumn("[bold]replaying {task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err) as bar:
        tasks: dict[str, Any] = {}

        def progress(name: str, sent: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=sent)

        outcome = run(loaded, inventory, placement=placement, seed=seed, duration_s=duration, progress=progress,
                      warn=lambda text: err.print(f"[yellow]warning:[/] {text}"), repeat=repeat,
                      calibrate_s=calibrate)
    sent = bool(outcome.replays())
    if sent:
        write_outputs(outcome, json_out, csv_path)
        err.print(f"requests: {csv_path}" + (f", results: {json_out}" if json_out else ""))
    if outcome.interrupted:
        raise Interrupted("interrupted: the hosts were restored" + (f"; the requests sent are in {csv_path}"
                                                                     if sent else ""))
    for name, result in outcome.results["placements"].items():
        console.print(error_table(name, result))
        console.print(diagnosis_table(result))
        drifted = {m: e["at_replay_speed"]["factor"] - 1 for m, e in result["models"].items()
                   if e["at_replay_speed"] and abs(e["at_replay_speed"]["factor"] - 1) > SPEED_DRIFT_WARN}
        if drifted:
            err.print("[yellow]warning:[/] the host computed batches of one of " + ", ".join(
                f"{m} {100 * d:+.0f}%" for m, d in drifted.items()) + " against the simulation of its profile "
                "during the replay: part of the error is the machine's, not the model's; the rows at replay speed "
                "(the profile rescaled to it) show the model's, and re-profiling brings the profile up to date")
        for line in [*speed_noise(result), *wide_replays(result)]:
            err.print(f"[yellow]warning:[/] {line}")
        if result["load_generator_limited"]:
            err.print(f"[yellow]warning:[/] requests left up to {result['lateness_ms_p99']:.2f} ms late (p99): "
                      "the load generator, not the server, limited this run")
    if outcome.failure is not None:
        raise outcome.failure
    worst = worst_p99_error(outcome.results["placements"])
    if fail_above is not None and worst * 100 > fail_above:
        raise HostError(f"p99 error {worst:.1%} is above --fail-above {fail_above:g}%", host="validate")


def speed_noise(result: dict[str, Any]) -> list[str]:
    """The models whose replays ran at speeds far enough apart, at a load where the p99
    follows the speed steeply enough, that the machine alone moves their p99 by over
    ``SPEED_NOISE_WARN``."""
    lines = []
    for model, entry in result["models"].items():
        replays = [r["at_replay_speed"]["factor"] for r in entry.get("replays", []) if r["at_replay_speed"]]
        steep = (entry["at_replay_speed"] or {}).get("sensitivity") or {}
        if len(replays) < 2 or steep.get("p99") is None:
            continue
        spread = 100 * (max(replays) - min(replays))
        if spread * abs(steep["p99"]) / 100 > SPEED_NOISE_WARN:
            lines.append(f"{model}'s replays computed at {min(replays):.2f}-{max(replays):.2f} times its profile, "
                         f"and at this load its simulated p99 moves {steep['p99']:+.1f}% per 1% slower host: the "
                         f"machine's drift alone moves its p99 by about {spread * abs(steep['p99']):.0f}%")
    return lines


def wide_replays(result: dict[str, Any]) -> list[str]:
    """The models whose replays landed ``WIDE_REPLAYS`` times as far apart at p99 as the
    simulations of the same arrivals at other seeds: the host varied more than its profile
    measured, so no one simulation follows every replay."""
    lines = []
    for model, entry in result["models"].items():
        live, simulated = (entry.get("replay_spread") or {}).get("p99"), entry["seed_spread"]["p99"]
        if live is not None and simulated is not None and live > WIDE_REPLAYS * simulated:
            lines.append(f"{model}'s replays of the same arrivals landed {100 * live:.1f}% apart at p99, its "
                         f"simulations at {SEED_RUNS} seeds {100 * simulated:.1f}%: the host varied more between "
                         "replays than its profile measured within one, an error up to that spread is the host's")
    return lines


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:+.1f}%"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def error_table(name: str, result: dict[str, Any]) -> Table:
    """Measured against simulated latency and throughput per model, with the errors."""
    replays = result["replays"]
    measured = "measured" if replays == 1 else f"measured (mean of {replays} replays)"
    table = Table(title=f"placement {name}: {measured} / simulated (error); send lateness p99 "
                        f"{_ms(result['lateness_ms_p99'])} ms, failed requests {result['failed_requests']}")
    for column in ("model", "requests", "p50 ms", "p95 ms", "p99 ms", "req/s", "SLA viol."):
        table.add_column(column, justify="left" if column == "model" else "right")
    for model, entry in result["models"].items():
        speed = entry["at_replay_speed"]
        table.add_row(model, *_comparison_cells(entry["measured"], entry["simulated"], entry["error"]))
        for label, at in (("at replay speed", speed), ("calibrated", entry.get("calibrated"))):
            if at:
                front = at.get("front_end_factor")
                table.add_row(f"  {label} x{at['factor']:.2f} size^{at['slope']:+.2f}"
                              + (f", front end x{front:.2f}" if front else ""),
                              *_comparison_cells(entry["measured"], at["simulated"], at["error"]))
        if speed and speed.get("sensitivity"):
            table.add_row("  simulated, per 1% slower host", "", *_sensitivity_cells(speed["sensitivity"]), "", "")
        if "latency_ms_ci95" in entry["measured"]:
            table.add_row("  live 95% interval", "", *_interval_cells(entry["measured"]), "", "")
    return table


def _sensitivity_cells(sensitivity: dict[str, float | None]) -> list[str]:
    return ["-" if sensitivity[key] is None else f"{sensitivity[key]:+.1f}%" for key in ("p50", "p95", "p99")]


def _interval_cells(measured: dict[str, Any]) -> list[str]:
    """How far the mean of the replays may be off, at 95% confidence: +-% of the mean."""
    def cell(key: str) -> str:
        interval, mean = measured["latency_ms_ci95"][key], measured["latency_ms"][key]
        return "-" if not interval or not mean else f"+-{50 * (interval[1] - interval[0]) / mean:.1f}%"

    return [cell("p50"), cell("p95"), cell("p99")]


def _comparison_cells(m: dict[str, Any], s: dict[str, Any], e: dict[str, Any]) -> list[str]:
    def cell(key: str) -> str:
        return f"{_ms(m['latency_ms'][key])} / {_ms(s['latency_ms'][key])} ({_pct(e[key])})"

    return [f"{m['requests']:g} / {s['requests']:g}", cell("p50"), cell("p95"), cell("p99"),
            f"{m['throughput_rps']:.2f} / {s['throughput_rps']:.2f} ({_pct(e['throughput'])})",
            f"{100 * m['sla_violation_rate']:.2f}% / {100 * s['sla_violation_rate']:.2f}%"]


def diagnosis_table(result: dict[str, Any]) -> Table:
    """Where a large error comes from: batch sizes and utilisation, measured against simulated."""
    table = Table(title="batch sizes (size:batches), batch compute (size:ms), where the latency goes "
                        "(live: Triton's request traces) and host utilisation")
    table.add_column("model")
    table.add_column("measured", justify="right")
    table.add_column("simulated", justify="right")
    for model, entry in result["models"].items():
        hist, times = entry["batch_sizes"], entry["batch_ms"]
        table.add_row(model, _histogram(hist["measured"]), _histogram(hist["simulated"]))
        table.add_row("  batch ms", _times(times["measured"]), _times(times["simulated"]))
        table.add_row("  batch ms back to back (profile)", "", _times(times["profile"]))
        ones = entry.get("batch_of_one_ms") or {}
        for kind, label in (("alone", "alone"), ("joined", "joining another model's")):
            table.add_row(f"  batch of 1 ms, {label} (p5 p50 p95)", _spread(ones.get("measured"), kind),
                          _spread(ones.get("simulated"), kind))
        table.add_row(f"  apart: replays (noise floor) / {SEED_RUNS} seeds (p50 p95 p99)",
                      _apart(entry.get("replay_spread")), _apart(entry["seed_spread"]))
        stages = entry["stages"]
        for stage in ("front_end", "queue", "compute"):
            table.add_row(f"  {stage.replace('_', ' ')} ms (mean p50 p95)", _stage(stages["measured"], stage),
                          _stage(stages["simulated"], stage))
    util = result["host_utilization"]
    table.add_row("host utilisation", " ".join(f"{u:.0%}" for u in util["measured"]),
                  " ".join(f"{u:.0%}" for u in util["simulated"]))
    work = result.get("arrival_work_ms") or {}
    table.add_row("lone batch ms longer per arrival", _work(work.get("measured")), _work(work.get("simulated")))
    spread = result.get("batch_spread") or {}
    table.add_row("lone batch over its neighbours' median (p5 p95 p99)", _ratios(spread.get("measured")),
                  _ratios(spread.get("simulated")))
    drift = result.get("speed_drift") or {}
    table.add_row("host speed over seconds (sigma tau s)", _drift(drift.get("measured")), _drift(drift.get("simulated")))
    law = result.get("wake_law") or {}
    table.add_row("batch woken beside another model (preempt, slice ms, sharing)", _law(law.get("measured")),
                  _law(law.get("simulated")))
    return table


def _law(law: dict[str, float] | None) -> str:
    return "-" if law is None else f"{law['preempt']:.2f} {law['slice_ms']:.2f} {law['sharing_factor']:.2f}"


def _drift(drift: dict[str, float] | None) -> str:
    return "-" if drift is None else f"{drift['sigma']:.3f} {drift['tau_s']:.1f}"


def _apart(spread: dict[str, float | None] | None) -> str:
    return " ".join(_pct(spread[key]).lstrip("+") for key in ("p50", "p95", "p99")) if spread else "-"


def _ratios(spread: dict[str, float] | None) -> str:
    return "-" if spread is None else " ".join(f"{spread[key]:.2f}" for key in ("p5", "p95", "p99"))


def _work(ms: float | None) -> str:
    return "-" if ms is None else f"{ms:.3f}"


def _stage(stages: dict[str, dict[str, float]] | None, stage: str) -> str:
    if not stages:
        return "-"
    return f"{stages[stage]['mean']:.2f} {stages[stage]['p50']:.2f} {stages[stage]['p95']:.2f}"


def _spread(ones: dict[str, dict[str, float]] | None, kind: str) -> str:
    if not ones or kind not in ones:
        return "-"
    q = ones[kind]
    return f"{q['p5']:.2f} {q['p50']:.2f} {q['p95']:.2f} (n={q['n']:g})"


def _times(times: dict[int, float] | None) -> str:
    if not times:
        return "-"
    return " ".join(f"{size}:{ms:.1f}" for size, ms in sorted(times.items()))


def _histogram(hist: dict[int, int] | None) -> str:
    if not hist:
        return "-"
    return " ".join(f"{size}:{count:g}" for size, count in sorted(hist.items()))


def register(app: typer.Typer) -> None:
    app.command("validate")(validate_command)
