"""`mg.backend_info()`: which kernel implementation serves each hot op on each device."""

from .. import cuda
from .device import cpu_kernels, cuda_kernels


def backend_info() -> dict:
    """{"cpu": {"matmul": "cython" | "reference", ...}, "cuda": {...} or "unavailable: why",
    "cuda_device": what "cuda" is (a GPU, or the emulated device of MINIGRAD_FAKE_CUDA)}.

    The op rows come from each backend's kernel table, so they are what actually runs.
    """
    info = {"cpu": cpu_kernels().kernel_sources()}
    if cuda.is_available():
        info["cuda"] = cuda_kernels().kernel_sources()
        info["cuda_device"] = (
            f"emulated: {cuda._probe()[1]}; hot ops run as host code" if cuda.is_emulated()
            else f"GPU ({cuda.device_count()} device(s))")
    else:
        info["cuda"] = "unavailable: " + cuda._probe()[1]
        info["cuda_device"] = "none"
    return info
