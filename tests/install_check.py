"""Is the minigrad that the tests import the one installed in this environment, with the
kernels the run asks for? conftest.py fails the session (not a skip) on any problem found here.

Two ways a test run can silently test something else:
- a non-editable `pip install .` plus `python -m pytest` in the checkout imports the checkout's
  minigrad/, which has no compiled kernels; with plain `pytest` the run imports the installed
  copy, but the child processes the tests start in the checkout import the checkout's;
- kernels that failed to build: their tests skip and the rest runs on the numpy reference.
  MINIGRAD_REQUIRE_EXT=1 (set in CI) turns that into a failure.
"""

import importlib
import importlib.metadata
import json
import os
import pathlib
import urllib.parse
import urllib.request

KERNEL_MODULES = ("gemm", "conv", "pool", "hello")
FIX = "install this checkout with `pip install -e \".[test]\"` and run pytest from it"


def _flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def installed_package_dir():
    """(folder of the minigrad package pip installed here, how) or (None, why not)."""
    # What pip installed has a .dist-info; a minigrad.egg-info left in a checkout by a build
    # (found when the checkout is on sys.path, as with `python -m pytest`) is not an install.
    found = list(importlib.metadata.distributions(name="minigrad"))
    installed = [d for d in found if str(getattr(d, "_path", "")).endswith(".dist-info")]
    if not (installed or found):
        return None, "minigrad is not installed in this environment"
    dist = (installed or found)[0]
    direct = dist.read_text("direct_url.json")
    info = json.loads(direct) if direct else {}
    if info.get("dir_info", {}).get("editable"):
        url = urllib.parse.urlparse(info["url"])
        source = pathlib.Path(urllib.request.url2pathname(url.path))
        return source / "minigrad", f"editable install of {source}"
    return pathlib.Path(dist.locate_file("minigrad")), "non-editable install"


def problems(mg, checkout, require_ext=None):
    """Everything wrong with testing `checkout` (the folder holding tests/) through the
    imported module `mg`; an empty list when all is well."""
    found = []
    imported = pathlib.Path(mg.__file__).resolve().parent
    installed, how = installed_package_dir()
    if installed is None:
        found.append(f"{how}; the tests imported {imported}: {FIX}")
    elif installed.resolve() != imported:
        found.append(f"the tests imported minigrad from {imported}, but the minigrad installed "
                     f"in this environment ({how}) is {installed}: {FIX}")
    local = pathlib.Path(checkout) / "minigrad"
    if local.is_dir() and local.resolve() != imported:
        found.append(f"the tests imported minigrad from {imported}, but child processes that "
                     f"the tests start in {checkout} would import {local}: {FIX}")
    if require_ext is None:
        require_ext = _flag("MINIGRAD_REQUIRE_EXT")
    if require_ext:
        from minigrad.backend import cpu

        if cpu.DISABLED:
            found.append(f"MINIGRAD_REQUIRE_EXT=1, but {cpu.DISABLED_BY} makes the numpy "
                         "reference kernels serve")
        reference = sorted(op for op, src in cpu.kernel_sources().items() if src != "cython")
        if reference and not cpu.DISABLED:
            found.append("MINIGRAD_REQUIRE_EXT=1, but the numpy reference serves "
                         + ", ".join(reference))
        for name in KERNEL_MODULES:
            try:
                importlib.import_module(f"minigrad.kernels.cpu.{name}")
            except ImportError as e:
                found.append(f"MINIGRAD_REQUIRE_EXT=1, but minigrad.kernels.cpu.{name} does "
                             f"not import: {e}")
    return found
