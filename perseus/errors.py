"""The two kinds of failure a user sees, and the exit status each one maps to.

* :class:`InputError` - the user's input is wrong (a file, a field, an option).
  Exit status 2, one message naming the file, the field and what was expected.
* :class:`HostError` - a Triton host or server failed (unreachable, died, refused).
  Exit status 1, one message naming the host.

A long measurement stopped by Ctrl-C keeps what it measured and ends with
:class:`Interrupted` (exit status 130, as a shell reports SIGINT).
"""

from __future__ import annotations

from pathlib import Path


class PerseusError(Exception):
    """Base of every error the CLI turns into a one-line message."""

    exit_code = 1


class InputError(PerseusError):
    """Bad input: names the file, the field path and what was expected."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | Path | None = None, field: str | None = None) -> None:
        self.file = str(file) if file is not None else None
        self.field = field
        where = ": ".join(part for part in (self.file, field) if part)
        super().__init__(f"{where}: {message}" if where else message)


class HostError(PerseusError):
    """A Triton host failed: unreachable, refused a request, or died."""

    exit_code = 1

    def __init__(self, message: str, *, host: str | None = None, url: str | None = None) -> None:
        self.host = host
        self.url = url
        who = f"host {host!r}" if host else "host"
        if url:
            who += f" ({url})"
        super().__init__(f"{who}: {message}")


class Interrupted(PerseusError):
    """Stopped by Ctrl-C, after what was measured was kept."""

    exit_code = 130
