"""`mg.cuda`: is a CUDA GPU usable here? (CuPy installed *and* a device present.)

MINIGRAD_FAKE_CUDA=1 (or =N), read once at import, makes "cuda" available without a GPU: an
emulated device whose arrays are backend/fake_cupy.py's numpy-backed stand-in for CuPy. It is
for testing the CUDA code paths; mg.backend_info() says when it is in use.
"""

import functools
import os

# The CuPy wheels for each CUDA major version (the "minigrad" on the public package index is an
# unrelated project, so never suggest installing minigrad's extra from there).
INSTALL_HINT = ("install the CuPy wheel for your CUDA driver: pip install cupy-cuda12x "
                "(CUDA 12.x) or pip install cupy-cuda13x (CUDA 13.x)")


def _fake_requested():
    value = os.environ.get("MINIGRAD_FAKE_CUDA", "").strip().lower()
    return value not in ("", "0", "false", "no", "off")


FAKE = _fake_requested()


def is_emulated() -> bool:
    """True when "cuda" is the emulated device of MINIGRAD_FAKE_CUDA (no GPU involved)."""
    return FAKE


@functools.lru_cache(maxsize=None)
def _probe():
    """(usable, reason, count). Cached: device detection can be slow."""
    if FAKE:
        from .backend import fake_cupy

        count = fake_cupy.runtime.getDeviceCount()
        return True, "emulated CUDA device (MINIGRAD_FAKE_CUDA): numpy-backed, no GPU", count
    try:
        import cupy
    except Exception as exc:  # ImportError, or a broken CUDA install raising anything
        return False, f"CuPy is not installed or failed to import ({exc}); {INSTALL_HINT}", 0
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return False, f"CuPy found no usable CUDA device ({exc})", 0
    if count == 0:
        return False, "CuPy found no CUDA device on this machine", 0
    return True, "", count


def is_available() -> bool:
    """True when tensors can be placed on "cuda"."""
    return _probe()[0]


def device_count() -> int:
    """Number of CUDA devices CuPy can see (0 without CuPy or a GPU)."""
    return _probe()[2]


def require(index=0):
    """Raise a RuntimeError that says why, unless cuda:index is usable."""
    usable, reason, count = _probe()
    if not usable:
        raise RuntimeError(f"cuda is not available: {reason}")
    if index is not None and index >= count:
        raise RuntimeError(f"cuda:{index} is not available: only {count} CUDA device(s)")
