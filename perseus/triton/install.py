"""Where the ``tritonserver`` of the ``nvidia-pytriton`` wheel lives, and how to run it here.

The wheel ships the server, the Python backend and one backend stub per Python version.
The stub must match the running interpreter, and it links ``libpython3.X.so``: the
running interpreter's ``LIBDIR`` goes first on ``LD_LIBRARY_PATH`` so that the loader
does not pick up another build of the same version (GUIDE.md: a Debian 3.11.2 found
before pyenv's 3.11.7 breaks model loading).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import sysconfig
from functools import cache
from pathlib import Path

from perseus.errors import HostError

_STUB = "triton_python_backend_stub"


@cache
def pytriton_root() -> Path:
    """The installed ``pytriton`` package folder, found without importing it (it is heavy)."""
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise HostError("nvidia-pytriton is not installed (pip install nvidia-pytriton)", host="local")
    return Path(spec.submodule_search_locations[0])


def tritonserver_binary() -> Path:
    return pytriton_root() / "tritonserver" / "bin" / "tritonserver"


def cache_dir() -> Path:
    """Perseus's cache folder (``$PERSEUS_CACHE`` or ``~/.cache/perseus``)."""
    root = os.environ.get("PERSEUS_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "perseus"


@cache
def backend_directory() -> Path:
    """A backend folder with the Python backend and the stub for this interpreter."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    source = pytriton_root() / "tritonserver"
    stub = source / "python_backend_stubs" / version / _STUB
    if not stub.exists():
        raise HostError(f"nvidia-pytriton has no Python backend stub for Python {version}", host="local")
    target = cache_dir() / "backends" / version / "python"
    target.mkdir(parents=True, exist_ok=True)
    for entry in (source / "backends" / "python").iterdir():
        if entry.is_file():
            _link(entry, target / entry.name)
    _link(stub, target / _STUB)
    return target.parent


def _link(source: Path, link: Path) -> None:
    if link.is_symlink() and link.resolve() == source.resolve():
        return
    tmp = link.with_name(f".{link.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(source)
    os.replace(tmp, link)


def server_environment() -> dict[str, str]:
    """The environment ``tritonserver`` (and its Python stubs) need on this machine."""
    env = os.environ.copy()
    libs = [
        sysconfig.get_config_var("LIBDIR") or "",
        str(pytriton_root().parent / "nvidia_pytriton.libs"),
    ]
    if env.get("LD_LIBRARY_PATH"):
        libs.append(env["LD_LIBRARY_PATH"])
    env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in libs if p)
    return env


def site_packages() -> list[str]:
    """Import paths the Python-backend model needs (the stub does not inherit PYTHONPATH)."""
    return [p for p in sys.path if p and Path(p).is_dir()]
