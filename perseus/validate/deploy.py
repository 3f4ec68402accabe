"""Putting a placement on live hosts: embedded ones Perseus starts, or those of hosts.yaml.

Without an inventory, every host of the placement is an embedded local host, each
pinned to its own core, and one core is kept for the load generator; a placement that
needs more cores than the machine has is refused with a clear message. With an
inventory, the placement's host types are matched to hosts by their ``type`` in order;
embedded hosts of the inventory are started, remote ones must be reachable and serve
the models. Every model is loaded with the placement's settings (instance group, max
batch size, dynamic batcher), the loaded config is checked, and remote hosts are
restored afterwards, also on error and on Ctrl-C. Embedded hosts can trace every request
(:mod:`perseus.triton.trace`); remote ones are not traced, since their trace file lies on
their own machine. A host that is other hardware than its host type's profile was
measured on is named before the replay (:func:`hardware_differences`): the simulation as
profiled then predicts another machine.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from perseus.config.hosts import Host, builtin_local
from perseus.config.profile import Profile
from perseus.config.scenario import HostPlacement
from perseus.errors import HostError, InputError
from perseus.triton.client import TritonClient
from perseus.triton.control import ModelControl
from perseus.triton.cores import pinned_away_from
from perseus.triton.hosts import embedded_hardware
from perseus.triton.server import EmbeddedServer
from perseus.replay import Endpoint


class DoesNotFit(InputError):
    """The placement needs more embedded hosts than this machine has cores for."""


@dataclass(frozen=True)
class Assignment:
    """Which inventory host stands in for host ``index`` of the placement."""

    index: int
    name: str
    host: Host
    placement: HostPlacement


def assign(placement_name: str, hosts: list[HostPlacement], inventory: dict[str, Host] | None) -> list[Assignment]:
    """Map the placement's hosts to inventory hosts (embedded local hosts without one)."""
    if inventory is None:
        return [Assignment(i, f"local-{i}", builtin_local(), h) for i, h in enumerate(hosts)]
    free = dict(inventory)
    chosen = []
    for i, placed in enumerate(hosts):
        match = next((name for name, host in free.items() if host.type == placed.host_type), None)
        if match is None:
            wanted = sum(1 for h in hosts if h.host_type == placed.host_type)
            raise InputError(f"placement {placement_name!r} needs {wanted} host(s) of type {placed.host_type!r}; "
                             f"the inventory has {sum(1 for h in inventory.values() if h.type == placed.host_type)}",
                             field=f"hosts (type: {placed.host_type})")
        chosen.append(Assignment(i, match, free.pop(match), placed))
    return chosen


def hardware_differences(placement_name: str, assignments: list[Assignment], profiles: dict[str, Profile]
                         ) -> list[str]:
    """One line per host of the placement whose hardware is not the one its host type's
    profile names: an embedded host runs on this machine, a remote one is what its
    ``hardware`` in hosts.yaml says (unchecked when that is empty)."""
    lines = []
    for a in assignments:
        profiled = profiles[a.placement.host_type].hardware.name
        live = embedded_hardware(a.host).name if a.host.embedded else a.host.hardware
        if live and profiled and live != profiled:
            how = "perseus profile --host local" if a.host.embedded else f"perseus profile --hosts ... ({a.name})"
            lines.append(f"host {a.name} of placement {placement_name!r} is {live!r}, but the profile of host type "
                         f"{a.placement.host_type!r} was measured on {profiled!r}: the simulation as profiled "
                         "predicts that machine, so its error includes the difference between the two (the rows at "
                         f"replay speed take out their speed); `{how}` profiles this one")
    return lines


def core_plan(assignments: list[Assignment]) -> dict[int, list[int]]:
    """Cores for each embedded host, leaving at least one for the load generator."""
    available = sorted(os.sched_getaffinity(0))
    embedded = [a for a in assignments if a.host.embedded]
    needed = sum(a.host.cores for a in embedded)
    if embedded and needed + 1 > len(available):
        raise DoesNotFit(
            f"this placement needs {len(embedded)} embedded host(s) on {needed} core(s) plus one core for the "
            f"load generator, and this machine gives {len(available)}: validate it on remote hosts (--hosts) "
            "or choose a placement with fewer hosts (--placement)", field="placement")
    plan, next_core = {}, 0
    for a in embedded:
        plan[a.index] = available[next_core: next_core + a.host.cores]
        next_core += a.host.cores
    return plan


@contextmanager
def deploy(assignments: list[Assignment], cores: dict[int, list[int]], warn: Callable[[str], None] = lambda text: None,
           trace_dir: Path | None = None) -> Iterator[list[Endpoint]]:
    """Live endpoints serving the placement's hosts (:func:`assign`), the embedded ones on
    their ``cores`` (:func:`core_plan`); everything is stopped or restored on exit.
    Embedded hosts write request traces into ``trace_dir`` when given (complete once the
    context has exited and the servers have stopped)."""
    with ExitStack() as stack:
        endpoints = [_bring_up(a, cores.get(a.index), stack, warn, trace_dir) for a in assignments]
        stack.enter_context(pinned_away_from([core for used in cores.values() for core in used]))
        yield endpoints


def _restore(control: ModelControl, warn: Callable[[str], None]) -> None:
    """Put a remote host's models back as they were; a host that died cannot be, and says so."""
    try:
        control.restore()
    except HostError as exc:
        warn(f"could not restore the models of {control.client.host}: {exc}")


def _bring_up(a: Assignment, cores: list[int] | None, stack: ExitStack, warn: Callable[[str], None],
              trace_dir: Path | None) -> Endpoint:
    models = list(a.placement.models)
    trace_file, exit_reason = None, None
    if a.host.embedded:
        trace_file = trace_dir / f"{a.index}.json" if trace_dir else None
        server = EmbeddedServer(models, settings=dict(a.placement.models), cores=cores, name=a.name,
                                resolution=a.host.resolution, trace_file=trace_file)
        stack.enter_context(server)
        url, exit_reason = server.grpc_url, server.exit_reason
        host = a.host.model_copy(update={"url": url, "protocol": "grpc"})
    else:
        assert a.host.url is not None
        url, host = a.host.url, a.host
        if host.protocol != "grpc":
            raise InputError(f"host {a.name!r}: validate replays over gRPC; set protocol: grpc", field="protocol")
    client = TritonClient.for_host(a.name, host)
    stack.callback(client.close)
    client.check_reachable()
    served = client.model_names()
    missing = [m for m in models if m not in served]
    if missing:
        raise InputError(f"host {a.name!r} ({url}) does not serve {', '.join(missing)}, which the placement puts "
                         f"there (it serves: {', '.join(served) or 'nothing'})", field=f"host_type {a.placement.host_type}")
    control = ModelControl(client, warn)
    if not a.host.embedded:
        stack.callback(_restore, control, warn)
    for model, settings in a.placement.models.items():
        control.configure(model, settings)
    shapes = {m: tuple(int(d) for d in client.model_config(m)["input"][0]["dims"]) for m in models}
    return Endpoint(a.name, url, host, shapes, trace_file, exit_reason)
