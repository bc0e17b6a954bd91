"""`mg.backend_info()`: which kernel implementation serves each hot op on each device."""

from .. import cuda


def backend_info() -> dict:
    """{"cpu": {"matmul": "cython" | "reference", ...}, "cuda": {...} or "unavailable: why"}."""
    from . import cpu

    info = {"cpu": dict(cpu.kernel_sources())}
    if cuda.is_available():
        info["cuda"] = {op: "reference (cupy)" for op in info["cpu"]}
    else:
        info["cuda"] = "unavailable: " + cuda._probe()[1]
    return info
