"""`mg.cuda`: is a CUDA GPU usable here? (CuPy installed *and* a device present.)"""

import functools


@functools.lru_cache(maxsize=None)
def _probe():
    """(usable, reason, count). Cached: device detection can be slow."""
    try:
        import cupy
    except Exception as exc:  # ImportError, or a broken CUDA install raising anything
        return False, f"CuPy is not installed or failed to import ({exc}); " \
                      "install the 'cuda' extra: pip install 'minigrad[cuda]'", 0
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
