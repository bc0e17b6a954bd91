"""Plumbing shared by the gradient checks: private input copies, outputs, numpy snapshots,
the tolerance rule and the error class."""

import warnings

import numpy as np

from ..autograd import Function
from ..tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised by `gradcheck` when an analytical gradient disagrees with finite differences."""


class CheckFailure(Exception):
    """A problem found before any comparison (wrong shape/dtype, non-reentrant backward...)."""


def as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def fn_name(fn, name=None):
    if name:
        return name
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, type) and issubclass(owner, Function):
        return owner.__name__  # `MyFunction.apply` -> "MyFunction", not "apply"
    return getattr(fn, "__name__", type(fn).__name__)


def prepare_inputs(inputs, who="gradcheck", warn=True):
    """Private copies of the inputs (so perturbing them is safe and stride-0 views become
    real arrays), and the positions of the ones to check (float64, requires_grad)."""
    prepared, checked = [], []
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor):
            if warn and x.requires_grad and x.dtype != np.float64:
                warnings.warn(
                    f"{who}: input {i} is {x.dtype}; only float64 inputs are checked "
                    "(finite differences are not accurate enough in lower precision; "
                    "mg.gradcheck_precision compares float32 against float64)",
                    stacklevel=4,
                )
            copy = Tensor._make(x.device.xp.array(x._data, copy=True, order="K"), x.device)
            if x.requires_grad and x.dtype == np.float64:
                copy.requires_grad = True
                checked.append(i)
            prepared.append(copy)
        else:
            prepared.append(x)
    if not checked:
        raise ValueError(f"{who}: no input is a float64 Tensor with requires_grad=True")
    return prepared, checked


def outputs_of(fn, inputs):
    outs = as_tuple(fn(*inputs))
    for j, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: output {j} of the function is a {type(o).__name__}, not a Tensor")
    return outs


def differentiable(output):
    return output.requires_grad and output.dtype.kind == "f"


def to_numpy(a):
    return a.get() if hasattr(a, "get") else np.asarray(a)


def snapshot(t):
    """A flat float64 numpy copy of a Tensor's values (never a view of its buffer: a view
    op's output shares memory with the input, which is perturbed next)."""
    return np.array(to_numpy(t._data), dtype=np.float64, copy=True).reshape(-1)


def tolerance(numerical, atol, rtol):
    """The allowed |analytical - numerical|: atol + rtol * |numerical| (as PyTorch's allclose)."""
    return atol + rtol * np.abs(numerical)


def index_tuple(flat, shape):
    return tuple(int(k) for k in np.unravel_index(int(flat), shape)) if shape else ()


def fmt(value):
    """A Jacobian value for a message: 6 significant digits, integers without a fraction."""
    return f"{float(value):.6g}"
