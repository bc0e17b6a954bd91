"""`mg.nn.functional` (import as F): the stateless forms of the layers and losses.

conv2d / max_pool2d / avg_pool2d / pad are the core ops; linear is one GEMM that reads the
weight transposed in place; cross_entropy and the binary cross-entropies are fused ops
(see fused.py); everything else is composed from Tensor ops.
"""

import numbers
import warnings

import numpy as np

from .. import ops
from ..autograd import no_grad
from ..ops.conv import avg_pool2d, conv2d, max_pool2d  # noqa: F401  (re-exports)
from ..ops.linalg import MatMul
from ..ops.shape import pad  # noqa: F401
from ..random import generator
from ..tensor import Tensor
from . import fused
from .adaptive_pool import adaptive_avg_pool2d  # noqa: F401  (re-exports)
from .embedding import embedding, one_hot  # noqa: F401
from .layer_norm import layer_norm  # noqa: F401
from .smooth_activations import elu, gelu, logsigmoid, silu, softplus  # noqa: F401
from .smooth_activations import maybe_inplace as _maybe_inplace

__all__ = [
    "linear", "conv2d", "max_pool2d", "avg_pool2d", "relu", "leaky_relu", "sigmoid", "tanh",
    "softmax", "log_softmax", "dropout", "batch_norm", "cross_entropy", "nll_loss", "mse_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "pad", "flatten",
    "gelu", "silu", "elu", "softplus", "logsigmoid", "layer_norm", "embedding", "one_hot",
    "dropout2d", "adaptive_avg_pool2d",
]

_REDUCTIONS = ("mean", "sum", "none")


def _check_tensor(x, name, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")


# ---------------------------------------------------------------------------- layers


def linear(x, weight, bias=None):
    """y = x @ weight.T + bias.

    Args:
        x: (..., in_features); weight: (out_features, in_features); bias: (out_features,).
    Returns:
        (..., out_features).
    """
    _check_tensor(x, "input", "linear")
    _check_tensor(weight, "weight", "linear")
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out, in), got shape {weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input shape {x.shape} does not match weight shape {weight.shape} "
            f"(last dim of input must be {weight.shape[1]})"
        )
    if x.dtype != weight.dtype:
        raise TypeError(f"linear: input dtype {x.dtype} and weight dtype {weight.dtype} differ")
    squeeze = x.ndim == 1
    if squeeze:
        x = x.unsqueeze(0)
    y = MatMul.apply(x, weight, trans_b=True)
    if bias is not None:
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"linear: bias shape {bias.shape} should be ({weight.shape[0]},)")
        y = y + bias
    return y.squeeze(0) if squeeze else y


def relu(input, inplace=False):  # noqa: A002  (PyTorch's argument names)
    """max(x, 0). inplace=True overwrites input (and bumps its version, as PyTorch)."""
    _check_tensor(input, "input", "relu")
    return _maybe_inplace(input, ops.relu(input), inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):  # noqa: A002
    """x if x > 0 else negative_slope * x; inplace=True overwrites input."""
    _check_tensor(input, "input", "leaky_relu")
    return _maybe_inplace(input, ops.leaky_relu(input, negative_slope), inplace)


def sigmoid(x):
    return ops.sigmoid(x)


def tanh(x):
    return ops.tanh(x)


def softmax(x, dim):
    return ops.softmax(x, dim)


def log_softmax(x, dim):
    return ops.log_softmax(x, dim)


def flatten(x, start_dim=0, end_dim=-1):
    return ops.flatten(x, start_dim, end_dim)


def dropout(x, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only).

    The mask comes from minigrad's generator, so `mg.manual_seed` makes it reproducible.
    """
    _check_tensor(x, "input", "dropout")
    if not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return x
    if p == 1:
        return _maybe_inplace(x, x * 0, inplace)
    keep = generator().random(x.shape) >= p
    mask = (keep / (1 - p)).astype(x.dtype)
    return _maybe_inplace(x, x * Tensor._make(x.device.xp.asarray(mask), x.device), inplace)


def dropout2d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """Zero whole channels: each (sample, channel) plane of an (N, C, H, W) input is dropped
    with probability p and the rest scaled by 1/(1-p) (training only).

    A 3-D input is taken as (N, C, L) with a warning, as PyTorch does today.
    """
    _check_tensor(input, "input", "dropout2d")
    if not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is "
                      "deprecated; use dropout instead (dropout2d expects (N, C, H, W) inputs)",
                      stacklevel=2)
    elif input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
                      "1D dropout behavior is desired - input is interpreted as shape (N, C, L)",
                      stacklevel=2)
    if not training or p == 0:
        return input
    if input.ndim < 2:
        raise ValueError(f"dropout2d: expected an input with at least 2 dims, got {input.shape}")
    if p == 1:
        result = input * 0
    else:
        plane_shape = input.shape[:2] + (1,) * (input.ndim - 2)
        keep = generator().random(plane_shape) >= p
        mask = (keep / (1 - p)).astype(input.dtype)
        result = input * Tensor._make(input.device.xp.asarray(mask), input.device)
    return _maybe_inplace(input, result, inplace)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalise each channel (dim 1) of x: (x - mean) / sqrt(var + eps) * weight + bias.

    In training, mean/var are the batch's (biased var), and running_mean/running_var (when
    given) move towards the batch mean and the *unbiased* batch var by `momentum`, as in
    PyTorch. Otherwise the running statistics are used.
    """
    _check_tensor(x, "input", "batch_norm")
    if x.ndim < 2:
        raise ValueError(
            f"batch_norm: expected an input with at least 2 dims (N, C, ...), got {x.shape}"
        )
    channels = x.shape[1]
    dims = (0,) + tuple(range(2, x.ndim))
    shape = (1, channels) + (1,) * (x.ndim - 2)
    if training:
        count = x.numel() // channels
        if count <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, got input "
                f"size {x.shape}"
            )
        mean = x.mean(dims, keepdim=True)
        centered = x - mean
        var = (centered * centered).mean(dims, keepdim=True)
        if running_mean is not None and running_var is not None:
            with no_grad():
                m = momentum
                rm, rv = running_mean._data, running_var._data
                rm *= 1 - m
                rm += m * mean._data.reshape(channels).astype(rm.dtype)
                rv *= 1 - m
                rv += m * (var._data.reshape(channels) * (count / (count - 1))).astype(rv.dtype)
                running_mean._version_counter.value += 1
                running_var._version_counter.value += 1
        y = centered / (var + eps).sqrt()
    else:
        if running_mean is None or running_var is None:
            raise ValueError(
                "batch_norm: running_mean and running_var are needed when not training"
            )
        mean = running_mean.detach().reshape(shape)
        var = running_var.detach().reshape(shape)
        y = (x - mean) / (var + eps).sqrt()
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


# ---------------------------------------------------------------------------- losses


def _check_reduction(reduction, op):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(losses, reduction):
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def _same_shape(x, y, op):
    _check_tensor(x, "input", op)
    if not isinstance(y, Tensor):
        y = Tensor(np.asarray(y), dtype=x.dtype, device=x.device)
    if x.shape != y.shape:
        raise ValueError(
            f"{op}: input shape {x.shape} and target shape {y.shape} differ (they must match)"
        )
    if y.dtype != x.dtype:
        y = y.to(x.dtype)
    return y


def _class_targets(x, target, op, weight, ignore_index):
    """Validate integer class targets for (N, C) scores; returns (target array, per-row weights)."""
    if isinstance(target, Tensor):
        t = target._data
    else:
        t = x.device.xp.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got dtype {t.dtype}")
    n, num_classes = x.shape
    if t.shape != (n,):
        raise ValueError(
            f"{op}: input shape {x.shape} needs a target of shape ({n},), got {t.shape}"
        )
    xp = x.device.xp
    ignored = t == ignore_index
    any_ignored = bool(ignored.any())
    bad = (t < 0) | (t >= num_classes)
    if any_ignored:
        bad &= ~ignored
    if bool(bad.any()):
        value = int(t[xp.argmax(bad)])
        raise IndexError(
            f"{op}: target {value} is out of bounds for {num_classes} classes "
            f"(valid: 0..{num_classes - 1})"
        )
    if any_ignored:
        t = xp.where(ignored, 0, t)
    weights = None
    if weight is not None:
        w = weight._data if isinstance(weight, Tensor) else xp.asarray(weight)
        if w.shape != (num_classes,):
            raise ValueError(f"{op}: weight should have shape ({num_classes},), got {w.shape}")
        weights = w[t].astype(x.dtype)
    if any_ignored:
        weights = (xp.ones(n, x.dtype) if weights is None else weights) * (~ignored)
    return t.astype(np.int64, copy=False), weights


def _move_classes_last(x, target, op):
    """(N, C, d1, ...) scores -> (N*d1*..., C); (C,) -> (1, C). Returns x, target, out shape."""
    if x.ndim == 1:
        tgt = target.reshape(1) if isinstance(target, Tensor) else np.asarray(target).reshape(1)
        return x.unsqueeze(0), tgt, ()
    if x.ndim == 2:
        return x, target, None
    perm = (0,) + tuple(range(2, x.ndim)) + (1,)
    out_shape = (x.shape[0],) + x.shape[2:]
    tgt = target if isinstance(target, Tensor) else Tensor(np.asarray(target))
    if tgt.shape != out_shape:
        raise ValueError(
            f"{op}: input shape {x.shape} needs a target of shape {out_shape}, got {tgt.shape}"
        )
    return x.permute(*perm).reshape(-1, x.shape[1]), tgt.reshape(-1), out_shape


def cross_entropy(x, target, weight=None, ignore_index=-100, reduction="mean"):
    """Softmax cross-entropy of logits against integer class targets (numerically stable).

    Args:
        x: logits (N, C) (also (C,) or (N, C, d1, ...)).
        target: int64 class indices (N,) in [0, C) (or ignore_index); or class
            probabilities with x's shape.
        weight: optional (C,) class weights; reduction: "mean" | "sum" | "none".
    Returns:
        a scalar (mean/sum) or the (N,) losses.
    """
    _check_tensor(x, "input", "cross_entropy")
    _check_reduction(reduction, "cross_entropy")
    if x.dtype.kind != "f":
        raise TypeError(f"cross_entropy: input must be floating point, got {x.dtype}")
    if isinstance(target, Tensor) and target.dtype.kind == "f":
        if target.shape != x.shape:
            raise TypeError(
                f"cross_entropy: target must hold integer class indices, or class "
                f"probabilities of the input's shape {x.shape}; got {target.dtype} of shape "
                f"{target.shape}"
            )
        dim = 0 if x.ndim == 1 else 1
        logp = log_softmax(x, dim)
        if weight is not None:
            shape = (-1,) + (1,) * (x.ndim - 2) if x.ndim > 1 else (-1,)
            w = weight if isinstance(weight, Tensor) else Tensor(np.asarray(weight), dtype=x.dtype)
            logp = logp * w.reshape(shape)
        losses = -(logp * target).sum(dim)
        if reduction == "mean":
            return losses.sum() / (x.numel() // x.shape[dim])
        return _reduce(losses, reduction)
    x2, tgt, out_shape = _move_classes_last(x, target, "cross_entropy")
    t, weights = _class_targets(x2, tgt, "cross_entropy", weight, ignore_index)
    loss = fused.CrossEntropy.apply(x2, target=t, weights=weights, reduction=reduction)
    if reduction == "none" and out_shape is not None:
        loss = loss.reshape(out_shape)
    return loss


def nll_loss(x, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood: -x[i, target[i]] (x holds log-probabilities, (N, C))."""
    _check_tensor(x, "input", "nll_loss")
    _check_reduction(reduction, "nll_loss")
    x2, tgt, out_shape = _move_classes_last(x, target, "nll_loss")
    t, weights = _class_targets(x2, tgt, "nll_loss", weight, ignore_index)
    xp = x2.device.xp
    picked = x2[xp.arange(x2.shape[0]), t]
    if weights is None:
        losses = -picked
        if reduction == "none" and out_shape is not None:
            losses = losses.reshape(out_shape)
        return _reduce(losses, reduction)
    w = Tensor._make(weights, x2.device)
    losses = -picked * w
    if reduction == "mean":
        return losses.sum() / Tensor._make(xp.asarray(weights.sum(), dtype=x2.dtype), x2.device)
    if reduction == "none" and out_shape is not None:
        losses = losses.reshape(out_shape)
    return _reduce(losses, reduction)


def mse_loss(x, target, reduction="mean"):
    """Mean squared error (x - target)**2; shapes must match."""
    _check_reduction(reduction, "mse_loss")
    target = _same_shape(x, target, "mse_loss")
    diff = x - target
    return _reduce(diff * diff, reduction)


def _weighted(losses, weight):
    if weight is None:
        return losses
    if not isinstance(weight, Tensor):
        weight = Tensor(np.asarray(weight), dtype=losses.dtype)
    return losses * weight


def binary_cross_entropy(x, target, weight=None, reduction="mean"):
    """-(y log x + (1-y) log(1-x)) for probabilities x in [0, 1]; logs clamped at -100."""
    _check_reduction(reduction, "binary_cross_entropy")
    target = _same_shape(x, target, "binary_cross_entropy")
    data = x._data
    if bool(((data < 0) | (data > 1)).any()):
        raise ValueError("binary_cross_entropy: all elements of input should be between 0 and 1")
    return _reduce(_weighted(fused.BinaryCrossEntropy.apply(x, target), weight), reduction)


def binary_cross_entropy_with_logits(x, target, weight=None, reduction="mean"):
    """binary_cross_entropy(sigmoid(x), target) computed stably from the logits x."""
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    target = _same_shape(x, target, "binary_cross_entropy_with_logits")
    return _reduce(_weighted(fused.BinaryCrossEntropyWithLogits.apply(x, target), weight),
                   reduction)
