"""The kernel interface: what every backend (cpu, cuda, the emulated cuda) provides.

The numpy reference (backend/reference.py) is the specification. Each kernel named in KERNELS
takes and returns arrays of the device it serves (numpy on the CPU, CuPy on CUDA) and has the
reference function's signature and results:

    matmul(a, b, *, trans_a=False, trans_b=False)               op(a) @ op(b), batch-broadcast
    conv2d_forward(x, w, b, stride, padding)                    y (N, O, OH, OW)
    conv2d_grad_input(gy, w, x_shape, stride, padding)          gx
    conv2d_grad_weight(x, gy, w_shape, stride, padding)         gw
    max_pool2d_forward(x, kernel_size, stride, padding)         (y, argmax int64)
    max_pool2d_backward(gy, argmax, x_shape, kernel_size, stride, padding)    gx
    avg_pool2d_forward(x, kernel_size, stride, padding)         y
    avg_pool2d_backward(gy, x_shape, kernel_size, stride, padding)            gx
    scatter_add(y, key, g)                                      y[key] += g in place, repeated
                                                                indices accumulating
    erf(x)                                                      the error function, elementwise
    relu(x)                                                     max(x, 0), NaN kept
    relu_backward(y, gy)                                        gy where y > 0 else 0 (y: relu's output)

A backend builds its table once, at import, with build_table(): the kernels it implements
itself, the reference for the rest. The table's `sources` then says which implementation serves
each hot op, true by construction (backend_info() reports it).
"""

import inspect
from types import MappingProxyType

from . import reference

# The hot ops whose implementation backend_info() reports.
HOT_KERNELS = (
    "matmul",
    "conv2d_forward",
    "conv2d_grad_input",
    "conv2d_grad_weight",
    "max_pool2d_forward",
    "max_pool2d_backward",
    "avg_pool2d_forward",
    "avg_pool2d_backward",
)
# Helpers whose numpy and CuPy spellings differ (np.add.at vs cupyx.scatter_add, math.erf vs
# cupyx.scipy.special.erf); ops call them through the table so no op branches on the array module.
# relu / relu_backward: fused, threaded on the CPU (one pass each instead of numpy's 1 and 3).
HELPER_KERNELS = ("scatter_add", "erf", "relu", "relu_backward")
KERNELS = HOT_KERNELS + HELPER_KERNELS

REFERENCE_SOURCE = "reference"


def signature(name):
    """The signature every backend's `name` must have: the reference function's."""
    if name not in KERNELS:
        raise KeyError(f"kernel interface: no kernel named {name!r} (known: {', '.join(KERNELS)})")
    return inspect.signature(getattr(reference, name))


class KernelTable:
    """One backend's kernels, as attributes (`table.matmul(a, b)`), plus where each came from.

    Built once by build_table(); immutable afterwards.
    """

    __slots__ = ("backend", "_functions", "_sources")

    def __init__(self, backend, functions, sources):
        object.__setattr__(self, "backend", backend)
        object.__setattr__(self, "_functions", MappingProxyType(dict(functions)))
        object.__setattr__(self, "_sources", MappingProxyType(dict(sources)))

    def __getattr__(self, name):
        try:
            return self._functions[name]
        except KeyError:
            raise AttributeError(f"{self.backend} kernels have no {name!r}") from None

    def __setattr__(self, name, value):
        raise AttributeError("a kernel table is built once, at import, and not changed after")

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._functions))

    @property
    def functions(self):
        """Kernel name -> callable, for every name in KERNELS."""
        return self._functions

    @property
    def sources(self):
        """Kernel name -> implementation ("cython", "reference", ...), for every name in KERNELS."""
        return self._sources

    def kernel_sources(self):
        """Hot op name -> implementation: the rows of backend_info()."""
        return {name: self._sources[name] for name in HOT_KERNELS}

    def __repr__(self):
        return f"KernelTable({self.backend!r}, {dict(self.kernel_sources())})"


def build_table(backend, implemented, source, fallback=None):
    """The KernelTable of `backend`: `implemented` (name -> callable) served as `source`, every
    other kernel by `fallback` (name -> callable; default the numpy reference) as "reference".

    Raises TypeError when an implementation's signature differs from the interface's, so a
    backend that drifts from the contract fails at import, not at the first call.
    """
    unknown = sorted(set(implemented) - set(KERNELS))
    if unknown:
        raise TypeError(f"{backend} kernels: {', '.join(unknown)} are not in the kernel interface")
    fallback = fallback or {}
    functions, sources = {}, {}
    for name in KERNELS:
        if name in implemented:
            functions[name], sources[name] = implemented[name], source
        else:
            functions[name] = fallback.get(name, getattr(reference, name))
            sources[name] = REFERENCE_SOURCE
        check_signature(backend, name, functions[name])
    return KernelTable(backend, functions, sources)


def check_signature(backend, name, function):
    """TypeError unless `function` has the interface's signature for `name` (parameter names,
    kinds and defaults)."""
    want, got = signature(name), inspect.signature(function)
    if _shape(want) != _shape(got):
        raise TypeError(f"{backend} kernel {name}{got} does not match the interface {name}{want}")


def _shape(sig):
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]
