"""Gradient clipping with PyTorch's numbers: the total norm is the norm of the per-tensor
norms, the scale is min(1, max_norm / (total_norm + 1e-6)), and every gradient is multiplied
by it in place (also when it is 1), in the gradient's own dtype and on its own device."""

import math
import numbers

import numpy as np

from ...backend.device import move
from ...tensor import Tensor


def _as_list(tensors, what):
    if isinstance(tensors, Tensor):
        return [tensors]
    try:
        tensors = list(tensors)
    except TypeError:
        raise TypeError(f"{what}: expected a Tensor or an iterable of Tensors, got "
                        f"{type(tensors).__name__}") from None
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{what}: expected Tensors, got {type(t).__name__}")
    return tensors


def _grads(parameters, what):
    return [p.grad for p in _as_list(parameters, what) if p.grad is not None]


def _number(value, name, what):
    if isinstance(value, Tensor) and value.numel() == 1 and value.dtype.kind in "fi":
        return float(value.item())
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what}: {name} must be a number, got {value!r}")
    return float(value)


def _vector_norm(xp, a, p):
    """The p-norm of all entries of array `a` (torch.linalg.vector_norm), a 0-d array."""
    a = xp.abs(a)
    if a.size == 0:
        return xp.zeros((), a.dtype)
    if p == math.inf:
        return a.max()
    if p == -math.inf:
        return a.min()
    if p == 0:
        return (a != 0).sum().astype(a.dtype)
    if p == 1:
        return a.sum()
    if p == 2:
        return xp.sqrt((a * a).sum())
    return (a ** p).sum() ** (1.0 / p)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The `norm_type`-norm of all entries of `tensors` taken together (a 0-d Tensor on the
    first tensor's device): the norm of the per-tensor norms, as torch.nn.utils.get_total_norm.
    `norm_type` may be any float, `inf` (largest |entry|) or `-inf`. `foreach` is accepted
    for PyTorch compatibility and ignored."""
    del foreach
    tensors = _as_list(tensors, "get_total_norm")
    norm_type = _number(norm_type, "norm_type", "get_total_norm")
    if not tensors:
        return Tensor._make(np.zeros((), np.float32))
    first = tensors[0].device
    norms = []
    for t in tensors:
        norm = t.device.xp.asarray(_vector_norm(t.device.xp, t._data, norm_type))
        norms.append(norm if t.device == first else move(norm, first))
    xp = first.xp
    dtype = xp.result_type(*[n.dtype for n in norms])
    total = _vector_norm(xp, xp.stack([n.astype(dtype) for n in norms]), norm_type)
    total_t = Tensor._make(xp.asarray(total), first)
    if error_if_nonfinite and not bool(xp.isfinite(total).item()):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the "
            "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`")
    return total_t


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale the gradients of `parameters` in place by min(1, max_norm / (total_norm + 1e-6))
    (torch.nn.utils.clip_grads_with_norm_)."""
    del foreach
    grads = _grads(parameters, "clip_grads_with_norm_")
    max_norm = _number(max_norm, "max_norm", "clip_grads_with_norm_")
    if not grads:
        return
    total = total_norm._data if isinstance(total_norm, Tensor) else total_norm
    device = total_norm.device if isinstance(total_norm, Tensor) else None
    xp = device.xp if device is not None else grads[0].device.xp
    coef = xp.minimum(max_norm / (total + 1e-6), 1.0)
    for g in grads:
        c = coef if device is None or g.device == device else move(coef, g.device)
        with np.errstate(invalid="ignore"):  # inf * 0 = nan, as PyTorch (which does not warn)
            g._data *= c.astype(g.dtype) if hasattr(c, "astype") else c
        g._version_counter.value += 1


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Clip the gradients of `parameters` so that their total `norm_type`-norm is at most
    `max_norm`, in place, and return the total norm before clipping (a 0-d Tensor), as
    torch.nn.utils.clip_grad_norm_.

    Args:
        parameters: a Tensor or an iterable of Tensors (e.g. `model.parameters()`);
            those without a `.grad` are skipped.
        max_norm: the largest allowed total norm.
        norm_type: p of the p-norm; `float("inf")` for the largest absolute entry.
        error_if_nonfinite: raise RuntimeError when the total norm is NaN or infinite
            (by default the gradients are then scaled by it anyway, as PyTorch).
    """
    parameters = _as_list(parameters, "clip_grad_norm_")
    max_norm = _number(max_norm, "max_norm", "clip_grad_norm_")
    grads = [p.grad for p in parameters if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient of `parameters` into [-clip_value, clip_value] in place
    (torch.nn.utils.clip_grad_value_)."""
    del foreach
    clip_value = _number(clip_value, "clip_value", "clip_grad_value_")
    for g in _grads(parameters, "clip_grad_value_"):
        xp = g.device.xp
        g._data[...] = xp.clip(g._data, -clip_value, clip_value)
        g._version_counter.value += 1
