"""``perseus simulate``: predict every placement's latency, SLA violations and cost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from perseus import simulation
from perseus.config.loading import write_atomic
from perseus.config.scenario import load_scenario
from perseus.report.tables import models_table, placements_table, verdict

console = Console()


def simulate_command(
    scenario: Path = typer.Argument(..., help="Scenario YAML (see scenarios/)."),
    placement: Optional[str] = typer.Option(None, "--placement", help="Simulate only this placement."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (default: the scenario's)."),
    duration: Optional[float] = typer.Option(None, "--duration", min=0.001, help="Seconds of workload (default: the scenario's)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the results JSON here."),
    replications: int = typer.Option(1, "--replications", min=1, help="Runs with seeds seed..seed+N-1; adds 95% confidence intervals."),
) -> None:
    """Simulate every placement of a scenario and compare latency, SLA violations and cost."""
    loaded = load_scenario(scenario)
    with Progress(SpinnerColumn(), TextColumn("simulating {task.description}"), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("", total=None)
        results = simulation.run(loaded, placement=placement, seed=seed, duration_s=duration,
                                 replications=replications, progress=lambda text: bar.update(task, description=text))
    slas = {name: (spec.sla.latency_ms, spec.sla.percentile) for name, spec in loaded.scenario.models.items()}
    console.print(models_table(results, slas))
    console.print(placements_table(results))
    console.print(verdict(results))
    if json_out is not None:
        write_atomic(json_out, json.dumps(results, indent=2))
        console.print(f"wrote {json_out}")


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_command)
