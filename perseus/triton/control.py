"""Model control on a live server: load a model with Perseus's settings, check, restore.

The override starts from the model's current config (so inputs, outputs, backend and
parameters stay the server's own) and replaces the scheduling part: ``max_batch_size``,
``instance_group`` and ``dynamic_batching``. After loading, the config the server
reports is checked against the settings. A server that does not allow model control
(not in explicit mode) is used as loaded, and :attr:`ModelControl.allowed` says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from perseus.config.scenario import ModelConfig
from perseus.errors import HostError
from perseus.triton.client import TritonClient

_SCHEDULING = ("dynamic_batching", "sequence_batching", "instance_group", "max_batch_size")


def dynamic_batching(settings: ModelConfig) -> dict[str, Any] | None:
    """Triton's ``dynamic_batching`` block for ``settings`` (None: the default scheduler)."""
    if not settings.dynamic_batching:
        return None
    block: dict[str, Any] = {"max_queue_delay_microseconds": round(settings.queue_delay_s * 1e6)}
    if settings.preferred_batch_sizes:
        block["preferred_batch_size"] = list(settings.preferred_batch_sizes)
    if settings.max_queue_size:
        block["default_queue_policy"] = {"max_queue_size": settings.max_queue_size}
    return block


def with_settings(config: dict[str, Any], settings: ModelConfig) -> dict[str, Any]:
    """``config`` with its scheduling replaced by ``settings``."""
    override = {key: value for key, value in config.items() if key not in _SCHEDULING}
    override["max_batch_size"] = max(settings.max_batch_size, 1)
    kind = (config.get("instance_group") or [{}])[0].get("kind", "KIND_CPU")
    override["instance_group"] = [{"count": settings.instances, "kind": kind}]
    batching = dynamic_batching(settings)
    if batching is not None:
        override["dynamic_batching"] = batching
    return override


def mismatches(config: dict[str, Any], settings: ModelConfig) -> list[str]:
    """Where a loaded config differs from ``settings`` (empty when it matches)."""
    found = []
    groups = config.get("instance_group") or [{}]
    count = sum(int(group.get("count", 1)) for group in groups)
    if count != settings.instances:
        found.append(f"instances {count} != {settings.instances}")
    if int(config.get("max_batch_size", 0)) != max(settings.max_batch_size, 1):
        found.append(f"max_batch_size {config.get('max_batch_size')} != {settings.max_batch_size}")
    batching = config.get("dynamic_batching")
    if settings.dynamic_batching != (batching is not None):
        found.append(f"dynamic batching {'on' if batching is not None else 'off'}")
    elif batching is not None:
        delay = int(batching.get("max_queue_delay_microseconds", 0))
        if delay != round(settings.queue_delay_s * 1e6):
            found.append(f"max_queue_delay {delay} us != {settings.queue_delay_s * 1e6:.0f} us")
        preferred = sorted(int(size) for size in batching.get("preferred_batch_size", []))
        if preferred and preferred != settings.preferred_sizes:
            found.append(f"preferred_batch_size {preferred} != {settings.preferred_sizes}")
    return found


def mismatches_config(loaded: dict[str, Any], original: dict[str, Any]) -> bool:
    """Whether the scheduling part of two configs differs."""
    return any(loaded.get(key) != original.get(key) for key in _SCHEDULING)


@dataclass
class ModelControl:
    """Loads models with settings and restores them from the repository afterwards."""

    client: TritonClient
    warn: Callable[[str], None] = lambda text: None
    allowed: bool = True
    originals: dict[str, dict[str, Any]] = field(default_factory=dict)

    def configure(self, model: str, settings: ModelConfig) -> None:
        """Load ``model`` with ``settings`` (no reload when already so) and check the result."""
        if not self.allowed:
            return
        config = self.client.model_config(model)
        self.originals.setdefault(model, config)
        if not mismatches(config, settings):
            return
        try:
            self.client.load_model(model, with_settings(config, settings))
        except HostError as exc:
            if "explicit" not in str(exc) and "not allowed" not in str(exc):
                raise
            self.allowed = False
            self.warn(f"{self.client.host}: the server does not allow model control; using the models as loaded")
            return
        wrong = mismatches(self.client.model_config(model), settings)
        if wrong:
            raise self.client.error(f"{model!r} loaded with other settings than asked: {'; '.join(wrong)}")

    def restore(self) -> None:
        """Reload every touched model with the config it had before.

        Loading without a config does not undo an override: Triton skips the reload of a
        model whose repository files did not change, so the old config is sent back.
        """
        if self.allowed:
            for model, config in self.originals.items():
                if mismatches_config(self.client.model_config(model), config):
                    self.client.load_model(model, config)
