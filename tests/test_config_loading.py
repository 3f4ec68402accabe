"""Atomic file writes (profiles, raw tables, results)."""

from __future__ import annotations

import os
import stat

from perseus.config.loading import write_atomic


def test_atomic_write_replaces_the_file_with_the_usual_permissions(tmp_path):
    path = tmp_path / "deep" / "result.json"
    write_atomic(path, "old")
    write_atomic(path, "new")
    assert path.read_text() == "new"
    assert os.listdir(path.parent) == ["result.json"]                 # no temporary file left behind
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask         # as open() gives, not mkstemp's 0600
