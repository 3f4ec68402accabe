"""Rich tables of simulated placements: one row per placement, one per placement and model."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _yes(flag: bool) -> str:
    return "[green]yes[/]" if flag else "[red]no[/]"


def placements_table(results: dict[str, Any]) -> Table:
    """Cost and utilisation of each placement, and whether it meets every SLA."""
    table = Table(title=f"{results['scenario']}: seed {results['seed']}, {results['duration_s']:g} s "
                        f"(first {results.get('warmup_s', 0):g} s excluded)")
    for column in ("placement", "hosts", "cost/h", "$/M req", "host util.", "meets SLA"):
        table.add_column(column, justify="left" if column == "placement" else "right")
    for name, placement in results["placements"].items():
        per_million = placement["cost_per_million"]
        table.add_row(name, str(placement["hosts"]), f"{placement['cost_per_hour']:.3f}",
                      "-" if per_million is None else f"{per_million:.3f}",
                      " ".join(f"{u:.0%}" for u in placement["host_utilization"]), _yes(placement["meets_sla"]))
    return table


def models_table(results: dict[str, Any], slas: dict[str, tuple[float, float]]) -> Table:
    """Latency against SLA, violations and batch size of every model in every placement."""
    table = Table()
    for column in ("placement", "model", "req/s", "p50 ms", "p99 ms", "SLA ms", "violations", "batch", "ok"):
        table.add_column(column, justify="left" if column in ("placement", "model") else "right")
    for name, placement in results["placements"].items():
        for i, (model, stats) in enumerate(placement["models"].items()):
            sla_ms, percentile = slas[model]
            ci = (stats.get("latency_ms_ci95") or {}).get("p99")
            p99 = _ms(stats["latency_ms"]["p99"]) + (f" ±{(ci[1] - ci[0]) / 2:.1f}" if ci else "")
            table.add_row(
                name if i == 0 else "", model, f"{stats['throughput_rps']:.1f}", _ms(stats["latency_ms"]["p50"]),
                p99, f"{sla_ms:g} p{percentile:g}", f"{100 * stats['sla_violation_rate']:.2f}%",
                "-" if stats["mean_batch_size"] is None else f"{stats['mean_batch_size']:.2f}",
                _yes(stats["meets_sla"]),
            )
        table.add_section()
    return table


def verdict(results: dict[str, Any]) -> str:
    best = results["best"]
    if best is None:
        return "[red]no placement meets every SLA[/]"
    cost = results["placements"][best]["cost_per_hour"]
    text = f"best: [bold]{best}[/] at {cost:.3f}/h"
    if results["saving_vs_dedicated"] is not None:
        text += f", {100 * results['saving_vs_dedicated']:.0f}% cheaper than dedicated"
    return text
