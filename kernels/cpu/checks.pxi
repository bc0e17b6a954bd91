# Argument checks for the compiled kernels' entry points (included by conv.pyx, pool.pyx and gemm.pyx).
#
# The kernels are importable on their own (minigrad.kernels.cpu.*), so each public function
# checks its own arguments with the GIL held before its typed core drops it: a bad call raises
# TypeError / ValueError naming the function instead of reading out of bounds, segfaulting or
# returning wrong numbers. What is checked:
#   * every array is a numpy array of the expected dtype (float32/float64 in native byte order,
#     the same for all float arguments; int64 for argmax) and number of dimensions;
#   * arrays the core walks with plain pointers are C-contiguous; a strided one (conv's cols)
#     has strides that are whole multiples of its item size;
#   * outputs are writeable, do not overlap themselves (a stride-0 or interleaved view) and
#     share no memory with any input or other output, as PyTorch refuses for out= arguments.
# Shapes and window parameters are checked by each function (see _check / _check_geometry).

import numpy as np

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_INT64 = np.dtype(np.int64)


def _arg_array(str op, str name, a, int ndim, dtype=None, bint out=False,
               bint contiguous=True):
    """a, checked: an ndarray of `dtype` (None: float32/float64) with `ndim` dimensions,
    C-contiguous (or, if not `contiguous`, with item-size-multiple strides), writeable if out."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{op}: {name} must be a numpy array, got {type(a).__name__}")
    if dtype is None:
        if a.dtype not in _FLOAT_DTYPES:
            raise TypeError(f"{op}: {name} has dtype {a.dtype}; expected float32 or float64")
    elif a.dtype != dtype:
        raise TypeError(f"{op}: {name} has dtype {a.dtype}; expected {np.dtype(dtype)}")
    if a.ndim != ndim:
        raise ValueError(f"{op}: {name} must be {ndim}-D, got shape {a.shape}")
    if contiguous:
        if not a.flags.c_contiguous:
            raise ValueError(f"{op}: {name} must be C-contiguous, got strides {a.strides} for "
                             f"shape {a.shape}")
    elif any(s % a.itemsize for s in a.strides):
        raise ValueError(f"{op}: {name} strides {a.strides} must be multiples of its item size "
                         f"{a.itemsize}")
    if out:
        if not a.flags.writeable:
            raise ValueError(f"{op}: output {name} is read-only")
        _no_self_overlap(op, name, a)
    return a


def _same_dtype(str op, **arrays):
    """All the (float) arrays given have one dtype."""
    dtypes = {name: a.dtype for name, a in arrays.items() if a is not None}
    if len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{name} {dt}" for name, dt in dtypes.items())
        raise TypeError(f"{op}: dtypes differ ({listed}); all must be the same")


def _no_self_overlap(str op, str name, a):
    """ValueError unless the axes of `a` nest (each stride at least the extent of the smaller
    ones), which guarantees that no two elements share memory. C-contiguous arrays always do;
    a swapaxes view of a C-contiguous buffer does too."""
    if a.flags.c_contiguous or a.size <= 1:
        return
    extent = a.itemsize
    for s, n in sorted((abs(s), n) for n, s in zip(a.shape, a.strides) if n > 1):
        if s < extent:
            raise ValueError(f"{op}: output {name} (shape {a.shape}, strides {a.strides}) "
                             "overlaps itself in memory")
        extent = s * (n - 1) + extent


def _no_overlap(str op, str out_name, out, **others):
    """ValueError if output `out` shares memory with any of `others` (None entries skipped)."""
    for name, a in others.items():
        if a is None or not np.may_share_memory(out, a):
            continue
        try:
            shared = np.shares_memory(out, a)
        except np.exceptions.TooHardError:
            shared = True
        if shared:
            raise ValueError(f"{op}: output {out_name} shares memory with {name}; pass a "
                             "separate output array")


def _pairs(str op, kernel_size, stride, padding):
    """kernel_size, stride, padding as tuples (check_window then checks their values)."""
    out = []
    for name, v in (("kernel_size", kernel_size), ("stride", stride), ("padding", padding)):
        try:
            out.append(tuple(v))
        except TypeError:
            raise TypeError(f"{op}: {name} must be a pair of ints, got {v!r}") from None
    return out
