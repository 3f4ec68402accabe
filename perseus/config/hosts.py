"""``hosts.yaml``: where the Triton servers are (SPEC, "hosts.yaml").

The host ``local`` is built in: the embedded CPU host, started on demand, so that
``perseus profile --host local`` works with no file at all. ``${VAR}`` in header values
is read from the environment when the inventory is loaded and is never written back
anywhere: use :meth:`Host.public_dict` for anything that ends in a file or a log.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveInt, model_validator

from perseus.config.loading import read_yaml, validate
from perseus.errors import InputError

LOCAL = "local"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Host(BaseModel):
    """One Triton server: remote (``url``) or embedded (``embedded: true``)."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    protocol: Literal["grpc", "http"] = "grpc"
    hardware: str = ""
    price_per_hour: NonNegativeFloat = 0.0
    type: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    embedded: bool = False
    cores: PositiveInt = 1
    resolution: PositiveInt | None = None  # embedded host: input resolution of the zoo models
    device: Literal["cpu", "gpu"] = "cpu"   # embedded host: KIND_CPU or KIND_GPU instances
    ssl: bool = False
    root_certificates: str | None = None
    private_key: str | None = None
    certificate_chain: str | None = None
    insecure: bool = False  # HTTPS without verifying the server's certificate

    @model_validator(mode="after")
    def _url_or_embedded(self) -> "Host":
        if not self.embedded and not self.url:
            raise ValueError("a host needs `url` (host:port of a Triton server) or `embedded: true`")
        return self

    def public_dict(self) -> dict[str, object]:
        """The host's settings without header values (tokens must never reach a file or log)."""
        data = self.model_dump(exclude_none=True)
        data["headers"] = {key: "***" for key in self.headers}
        return data


class Inventory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hosts: dict[str, Host] = Field(default_factory=dict)


def builtin_local() -> Host:
    """The embedded CPU host every user has."""
    return Host(embedded=True, cores=1, hardware="embedded CPU host", price_per_hour=0.05, type="cpu-small")


def expand_env(value: str, *, file: str | Path, field: str) -> str:
    """Replace each ``${VAR}`` by the environment's value; an unset variable is an error."""

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise InputError(f"environment variable {name} is not set", file=file, field=field)
        return os.environ[name]

    return _VAR.sub(lookup, value)


def load_inventory(path: str | Path | None, builtin: bool = True) -> dict[str, Host]:
    """The hosts of ``path``, plus the built-in ``local`` (which the file may redefine)
    unless ``builtin`` is False."""
    hosts = {LOCAL: builtin_local()} if builtin else {}
    if path is None:
        return hosts
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise InputError("expected a mapping with a `hosts:` key", file=path)
    inventory = validate(data, Inventory, path)
    for name, host in inventory.hosts.items():
        headers = {
            key: expand_env(value, file=path, field=f"hosts.{name}.headers.{key}")
            for key, value in host.headers.items()
        }
        hosts[name] = host.model_copy(update={"headers": headers})
    return hosts


def get_host(name: str, path: str | Path | None) -> Host:
    """The host called ``name``; an unknown name lists the known ones."""
    hosts = load_inventory(path)
    if name not in hosts:
        where = str(path) if path else "(no --hosts file; only the built-in host)"
        raise InputError(f"unknown host {name!r}; known hosts: {', '.join(sorted(hosts))}", file=where, field="--host")
    return hosts[name]
