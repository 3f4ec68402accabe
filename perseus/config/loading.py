"""Reading YAML into pydantic models, with errors that name file, field and expectation."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from perseus.errors import InputError

M = TypeVar("M", bound=BaseModel)


def field_path(loc: tuple[Any, ...]) -> str:
    """``('models', 'resnet18', 'sla', 'latency_ms')`` -> ``models.resnet18.sla.latency_ms``."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif str(item).startswith(("function-", "tagged-union", "union[")):
            continue
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def input_error_from(error: ValidationError, file: str | Path) -> InputError:
    """The first problem of a pydantic error, as one readable :class:`InputError`."""
    first = error.errors()[0]
    message = first["msg"]
    if first["type"] == "missing":
        message = "required field is missing"
    elif first["type"] == "extra_forbidden":
        message = "unknown field"
    elif "input" in first and first["type"] not in ("value_error", "assertion_error"):
        message = f"{message} (got {first['input']!r})"
    message = message.removeprefix("Value error, ")
    more = len(error.errors()) - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return InputError(message, file=file, field=field_path(tuple(first["loc"])))


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file; a missing or malformed file is an :class:`InputError`."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputError("file not found", file=path) from None
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror})", file=path) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"not valid YAML{where}: {problem}", file=path) from None


def load_model(path: str | Path, model: type[M], context: dict[str, Any] | None = None) -> M:
    """Read ``path`` as YAML and validate it as ``model``."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise InputError(f"expected a mapping at the top level, got {type(data).__name__}", file=path)
    return validate(data, model, path, context)


def validate(data: Any, model: type[M], file: str | Path, context: dict[str, Any] | None = None) -> M:
    """Validate already-parsed data, reporting problems against ``file``."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise input_error_from(exc, file) from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


UMASK = _umask()   # read once, at import: setting it is process-wide


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never half of one.
    The file gets the permissions a plain ``open`` would give it (``mkstemp``'s are 0600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(fd, 0o666 & ~UMASK)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dump_yaml(data: Any) -> str:
    """YAML in the block style the SPEC shows, keys in insertion order."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)
