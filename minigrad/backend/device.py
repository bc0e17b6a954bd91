"""Devices: where a tensor's array lives, and which array module (numpy or cupy) and which
kernel table (backend/interface.py: cpu, cuda) serves it."""

import functools

import numpy as np


class Device:
    """A device, `Device("cpu")` or `Device("cuda:0")`; compares equal to its string."""

    __slots__ = ("type", "index")

    def __init__(self, spec="cpu"):
        if isinstance(spec, Device):
            self.type, self.index = spec.type, spec.index
            return
        if not isinstance(spec, str):
            raise TypeError(f"device: expected a string like 'cpu' or 'cuda:0', got {spec!r}")
        name, _, index = spec.strip().lower().partition(":")
        if name not in ("cpu", "cuda"):
            raise ValueError(f"device: unknown device {spec!r} (expected 'cpu', 'cuda' or 'cuda:N')")
        if name == "cpu":
            if index not in ("", "0"):
                raise ValueError(f"device: unknown device {spec!r}")
            self.type, self.index = "cpu", None
        else:
            if index and not index.isdigit():
                raise ValueError(f"device: bad CUDA index in {spec!r}")
            self.type, self.index = "cuda", int(index or 0)

    def __str__(self):
        return "cpu" if self.type == "cpu" else f"cuda:{self.index}"

    def __repr__(self):
        return f"device(type='{self.type}')" if self.index is None else \
            f"device(type='{self.type}', index={self.index})"

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = Device(other)
            except (TypeError, ValueError):
                return False
        if not isinstance(other, Device):
            return NotImplemented
        return (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    @property
    def xp(self):
        """The array module for this device: numpy, or cupy for CUDA."""
        return np if self.type == "cpu" else _cupy()

    @property
    def kernels(self):
        """The kernel table (backend/interface.py: matmul, conv2d_*, *_pool2d_*, scatter_add)."""
        return cpu_kernels() if self.type == "cpu" else cuda_kernels()


CPU = Device("cpu")


def as_device(spec) -> Device:
    """Parse a device spec and check that it is usable (CUDA needs CuPy and a GPU)."""
    if spec is None:
        return CPU
    device = spec if isinstance(spec, Device) else Device(spec)
    if device.type == "cuda":
        from .. import cuda

        cuda.require(device.index)
    return device


def move(array, device):
    """A copy of `array` (of any device) on `device`; CPU <-> CUDA copies are explicit."""
    if device.type == "cpu":
        return array.copy() if isinstance(array, np.ndarray) else array.get()
    xp = device.xp
    with xp.cuda.Device(device.index):
        return xp.asarray(array)


@functools.lru_cache(maxsize=None)
def _cupy():
    """CuPy, or its numpy-backed stand-in under MINIGRAD_FAKE_CUDA."""
    from .. import cuda

    if cuda.FAKE:
        from . import fake_cupy

        return fake_cupy
    import cupy

    return cupy


@functools.lru_cache(maxsize=None)
def cpu_kernels():
    """The CPU kernel table (backend/cpu.py)."""
    from . import cpu

    return cpu.KERNELS


def _cupyx_scatter_add(y, key, g):
    import cupyx

    cupyx.scatter_add(y, key, g)


# How backend_info() names the CUDA backend's own kernels on a GPU and on the emulated device.
CUDA_SOURCE = "cuda"
EMULATED_CUDA_SOURCE = "cuda (host-emulated)"


def _cupyx_erf(x):
    from cupyx.scipy.special import erf

    return erf(x)


@functools.lru_cache(maxsize=None)
def cuda_kernels():
    """The CUDA kernel table, built on first use: backend/cuda.py's launchers (our kernels of
    kernels/cuda/; under MINIGRAD_FAKE_CUDA the same launchers run the host-emulated build), the
    numpy reference on the device's array module for any kernel it does not provide yet."""
    from .. import cuda
    from . import cuda as cuda_backend
    from . import interface

    implemented = {name: getattr(cuda_backend, name) for name in interface.HOT_KERNELS
                   if hasattr(cuda_backend, name)}
    if not cuda.FAKE:
        implemented.update(scatter_add=_cupyx_scatter_add, erf=_cupyx_erf)
    source = EMULATED_CUDA_SOURCE if cuda.FAKE else CUDA_SOURCE
    return interface.build_table("cuda", implemented, source=source)
