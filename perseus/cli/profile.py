"""``perseus profile``: measure a Triton host into ``profiles/NAME.yaml``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from perseus.config.hosts import get_host
from perseus.errors import HostError, InputError, Interrupted
from perseus.profile.plan import FULL, QUICK, Point, Settings
from perseus.profile.runner import command_line, parse_batch_sizes, run_profile
from perseus.triton.hosts import open_target

console = Console(stderr=True)


def profile_command(
    host: str = typer.Option(..., "--host", help="Host name from --hosts; `local` is the embedded CPU host."),
    hosts: Optional[Path] = typer.Option(None, "--hosts", help="hosts.yaml inventory (optional for `local`)."),
    models: Optional[str] = typer.Option(None, "--models", help="Comma-separated models (default: all served)."),
    batch_sizes: Optional[str] = typer.Option(None, "--batch-sizes", help="Batch sizes of the latency curve, e.g. 1,2,4,8,16."),
    out: Optional[Path] = typer.Option(None, "--out", help="Profile to write (default profiles/HOST.yaml); the raw table goes beside it as .csv."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from its raw table."),
    quick: bool = typer.Option(False, "--quick", help="Every part, with fewer batch sizes and shorter windows."),
) -> None:
    """Profile one host: batch-latency curves, instance scaling and the interference matrix."""
    host_config = get_host(host, hosts)
    settings = _settings(quick, batch_sizes)
    out = out or Path("profiles") / f"{host}.yaml"
    model_list = _models(models, embedded=host_config.embedded)
    with open_target(host, host_config, model_list, settings.max_batch_size) as target:
        if not model_list:
            client = target.client()
            model_list = client.model_names()
            client.close()
        with _progress() as bar:
            task = bar.add_task("starting", total=None)

            def report(point: Point, index: int, total: int) -> None:
                bar.update(task, description=point.label, completed=index, total=total)

            try:
                profile = run_profile(target, model_list, settings, out, resume=resume, progress=report,
                                      warn=lambda text: console.print(f"[yellow]warning:[/] {text}"),
                                      command=command_line())
            except HostError as exc:
                raise HostError(f"{str(exc).split(': ', 1)[-1]} - what was measured is kept in "
                                f"{out.with_suffix('.csv')}; rerun with --resume to finish",
                                host=exc.host or host, url=exc.url) from None
            except KeyboardInterrupt:
                raise Interrupted(f"interrupted: what was measured is kept in {out.with_suffix('.csv')}; "
                                  "rerun with --resume to finish") from None
    console.print(f"wrote {out} ({len(profile.models)} models) and {out.with_suffix('.csv')}")


def _settings(quick: bool, batch_sizes: str | None) -> Settings:
    settings = QUICK if quick else FULL
    if batch_sizes:
        sizes = parse_batch_sizes(batch_sizes)
        wanted = tuple(b for b in settings.interference_batch_sizes if b in sizes) or (sizes[0], sizes[-1])
        settings = Settings(**{**settings.__dict__, "batch_sizes": sizes,
                               "interference_batch_sizes": tuple(dict.fromkeys(wanted))})
    return settings


def _models(text: str | None, *, embedded: bool) -> list[str]:
    """The models asked for; by default all zoo models (embedded) or all served (remote: [])."""
    from perseus import zoo

    if text is None:
        return list(zoo.model_names()) if embedded else []
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise InputError(f"expected comma-separated model names, got {text!r}", field="--models")
    unknown = [name for name in names if embedded and name not in zoo.model_names()]
    if unknown:
        raise InputError(f"unknown model(s) {', '.join(unknown)}; the embedded host serves: "
                         f"{', '.join(zoo.model_names())}", field="--models")
    return names


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console)


def register(app: typer.Typer) -> None:
    app.command("profile")(profile_command)
