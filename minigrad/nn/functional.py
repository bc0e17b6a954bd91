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
from ..ops.common import check_tensor
from ..ops.linalg import MatMul
from ..random import generator
from ..tensor import Tensor
from ..testing import catalogue as _catalogue
from . import fused, regression_loss
from .smooth_activations import maybe_inplace as _maybe_inplace

# The public names are the op catalogue's entries exposed at "F"; those whose function lives
# elsewhere (conv2d in ops/conv.py, gelu in smooth_activations.py, ...) are bound here.
__all__ = _catalogue.public_names("F")  # noqa: PLE0605  (a list)
globals().update(_catalogue.exports("F"))


def __dir__():
    # The public functions only: numpy, MatMul, Tensor and the helpers are internals.
    return sorted(__all__)

_REDUCTIONS = ("mean", "sum", "none")


# ---------------------------------------------------------------------------- layers


def linear(x, weight, bias=None):
    """y = x @ weight.T + bias.

    Args:
        x: (..., in_features); weight: (out_features, in_features); bias: (out_features,).
    Returns:
        (..., out_features).
    """
    check_tensor(x, "linear", "input")
    check_tensor(weight, "linear", "weight")
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
    check_tensor(input, "relu", "input")
    return _maybe_inplace(input, ops.relu(input), inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):  # noqa: A002
    """x if x > 0 else negative_slope * x; inplace=True overwrites input."""
    check_tensor(input, "leaky_relu", "input")
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
    check_tensor(x, "dropout", "input")
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
    check_tensor(input, "dropout2d", "input")
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
    check_tensor(x, "batch_norm", "input")
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


def _check_reduction(reduction, op, allowed=_REDUCTIONS):
    if reduction not in allowed:
        names = ", ".join(repr(r) for r in allowed)
        raise ValueError(f"{op}: reduction must be one of {names}, got {reduction!r}")


def _legacy_reduction(size_average, reduce, reduction):
    """PyTorch's deprecated size_average/reduce flags, when given, override `reduction`."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    result = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use "
                  f"reduction='{result}' instead.", stacklevel=3)
    return result


def _reduce(losses, reduction):
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def _same_shape(x, y, op, broadcast=False):
    """The target as a Tensor of x's dtype. Shapes must match, except for the pointwise
    regression losses (broadcast=True), which broadcast as PyTorch does: with PyTorch's warning
    (kl_div without one), and a RuntimeError naming the op when the shapes don't broadcast."""
    check_tensor(x, op)
    if not isinstance(y, Tensor):
        y = Tensor(np.asarray(y), dtype=x.dtype, device=x.device)
    if x.shape != y.shape:
        if not broadcast:
            raise ValueError(
                f"{op}: input shape {x.shape} and target shape {y.shape} differ (they must match)"
            )
        if op != "kl_div":
            warnings.warn(
                f"{op}: Using a target size ({y.shape}) that is different to the input size "
                f"({x.shape}). This will likely lead to incorrect results due to broadcasting. "
                f"Please ensure they have the same size.", UserWarning, stacklevel=3)
        try:
            np.broadcast_shapes(x.shape, y.shape)
        except ValueError:
            raise RuntimeError(f"{op}: target shape {y.shape} does not broadcast with input "
                               f"shape {x.shape}") from None
    if y.dtype != x.dtype:
        y = y.to(x.dtype)
    return y


def _class_targets(x, target, op, weight, ignore_index):
    """Validate integer class targets for (N, C) scores.

    Returns (target array with ignored entries set to 0, per-row weights or None, the bool
    mask of ignored rows or None). Row weights are the class weights of the targets, 0 on
    ignored rows.
    """
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
        w = _class_weight_array(weight, num_classes, op, xp)
        weights = w[t].astype(x.dtype)
    if any_ignored:
        weights = (xp.ones(n, x.dtype) if weights is None else weights) * (~ignored)
    return t.astype(np.int64, copy=False), weights, ignored if any_ignored else None


def _class_weight_array(weight, num_classes, op, xp):
    w = weight._data if isinstance(weight, Tensor) else xp.asarray(weight)
    if w.shape != (num_classes,):
        raise ValueError(f"{op}: weight should have shape ({num_classes},), got {w.shape}")
    return w


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


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,  # noqa: A002
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy of logits against class targets (as torch's, numerically stable).

    Args:
        input: logits (N, C) (also (C,) or (N, C, d1, ...)).
        target: int64 class indices (N,) in [0, C) (or ignore_index); or class
            probabilities with input's shape.
        weight: optional (C,) class weights.
        ignore_index: targets equal to it add nothing (and don't count in the mean).
        reduction: "mean" | "sum" | "none" (size_average/reduce: PyTorch's deprecated flags).
        label_smoothing: eps in [0, 1]: the target becomes (1 - eps) onehot + eps / C, with
            PyTorch's normalisation for weights and ignored targets.
    Returns:
        a scalar (mean/sum) or the per-sample losses.
    """
    x = input
    reduction = _legacy_reduction(size_average, reduce, reduction)
    check_tensor(x, "cross_entropy", "input")
    _check_reduction(reduction, "cross_entropy")
    if x.dtype.kind != "f":
        raise TypeError(f"cross_entropy: input must be floating point, got {x.dtype}")
    if not isinstance(label_smoothing, numbers.Real) or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, "
                         f"got {label_smoothing!r}")
    if isinstance(target, Tensor) and target.dtype.kind == "f":
        return _cross_entropy_probabilities(x, target, weight, reduction, label_smoothing)
    x2, tgt, out_shape = _move_classes_last(x, target, "cross_entropy")
    t, weights, ignored = _class_targets(x2, tgt, "cross_entropy", weight, ignore_index)
    if label_smoothing > 0:
        loss = _smoothed_cross_entropy(x2, t, weights, ignored, weight, reduction,
                                       float(label_smoothing))
    else:
        loss = fused.CrossEntropy.apply(x2, target=t, weights=weights, reduction=reduction,
                                        ignored=ignored)
    if reduction == "none" and out_shape is not None:
        loss = loss.reshape(out_shape)
    return loss


def _cross_entropy_probabilities(x, target, weight, reduction, label_smoothing):
    """-sum_c w_c p_c log softmax(x)_c per sample; "mean" divides by the number of samples."""
    if target.shape != x.shape:
        raise TypeError(
            f"cross_entropy: target must hold integer class indices, or class "
            f"probabilities of the input's shape {x.shape}; got {target.dtype} of shape "
            f"{target.shape}"
        )
    dim = 0 if x.ndim == 1 else 1
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / x.shape[dim]
    logp = log_softmax(x, dim)
    if weight is not None:
        shape = (-1,) + (1,) * (x.ndim - 2) if x.ndim > 1 else (-1,)
        w = weight if isinstance(weight, Tensor) else Tensor(np.asarray(weight), dtype=x.dtype)
        logp = logp * w.reshape(shape)
    losses = -(logp * target).sum(dim)
    if reduction == "mean":
        return losses.sum() / (x.numel() // x.shape[dim])
    return _reduce(losses, reduction)


def _smoothed_cross_entropy(x, t, weights, ignored, weight, reduction, eps):
    """PyTorch's label smoothing for class targets on (M, C) logits:
    (1 - eps) * nll + eps / C * smooth, smooth_i = -sum_c w_c log p_ic (0 on ignored rows);
    with "mean" both parts are divided by the summed weights of the counted targets."""
    n, num_classes = x.shape
    xp = x.device.xp
    logp = log_softmax(x, 1)
    picked = logp[xp.arange(n), t]
    if weight is not None:
        w = _class_weight_array(weight, num_classes, "cross_entropy", xp).astype(x.dtype)
        smooth = -(logp * Tensor._make(w, x.device)).sum(1)
    else:
        smooth = -logp.sum(1)
    keep = None if ignored is None else (~ignored).astype(x.dtype)
    denom = (n if keep is None else float(keep.sum())) if weights is None else float(weights.sum())
    # Per-row coefficients (constants): the nll part is weighted by the target's class weight,
    # the smooth part counts every kept row; "mean" divides both by denom.
    nll_coef = fused.row_scale(xp, n, x.dtype, weights, reduction, denom, ignored)
    smooth_coef = fused.row_scale(xp, n, x.dtype, keep, reduction, denom, ignored)
    losses = (-picked * Tensor._make(nll_coef.reshape(n), x.device) * (1 - eps)
              + smooth * Tensor._make(smooth_coef.reshape(n), x.device) * (eps / num_classes))
    if reduction == "none":
        return losses
    total = losses.sum()
    if reduction == "mean" and denom == 0:
        total = total + float("nan")  # 0/0 as PyTorch; the gradient stays 0 on ignored rows
    return total


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100,  # noqa: A002
             reduce=None, reduction="mean"):
    """Negative log-likelihood: -input[i, target[i]] (input holds log-probabilities, (N, C))."""
    x = input
    reduction = _legacy_reduction(size_average, reduce, reduction)
    check_tensor(x, "nll_loss", "input")
    _check_reduction(reduction, "nll_loss")
    x2, tgt, out_shape = _move_classes_last(x, target, "nll_loss")
    t, weights, ignored = _class_targets(x2, tgt, "nll_loss", weight, ignore_index)
    xp = x2.device.xp
    n = x2.shape[0]
    picked = x2[xp.arange(n), t]
    if weights is None:
        losses = -picked
        if reduction == "none" and out_shape is not None:
            losses = losses.reshape(out_shape)
        return _reduce(losses, reduction)
    if reduction == "mean":
        denom = float(weights.sum())
        coef = fused.row_scale(xp, n, x2.dtype, weights, reduction, denom, ignored)
        total = (-picked * Tensor._make(coef.reshape(n), x2.device)).sum()
        return total + float("nan") if denom == 0 else total  # all ignored: nan, gradient 0
    losses = -picked * Tensor._make(weights, x2.device)
    if reduction == "none" and out_shape is not None:
        losses = losses.reshape(out_shape)
    return _reduce(losses, reduction)


def _pointwise_loss(losses, reduction, weight, op, mean_over_weight):
    """Reduce elementwise losses, optionally weighted elementwise (weight: input's shape).

    As PyTorch: with a weight, "mean" is sum(w l) / sum(w) for mse/l1 (mean_over_weight)
    and mean(w l) for huber.
    """
    if weight is None:
        return _reduce(losses, reduction)
    if not isinstance(weight, Tensor):
        weight = Tensor(np.asarray(weight), dtype=losses.dtype, device=losses.device)
    if weight.shape != losses.shape:
        raise ValueError(f"{op}: weight shape {weight.shape} and input shape {losses.shape} "
                         "differ (Weights and input must have the same size)")
    weighted = losses * weight
    if reduction == "mean" and mean_over_weight:
        return weighted.sum() / weight.sum()
    return _reduce(weighted, reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean",  # noqa: A002
             weight=None):
    """Mean squared error (input - target)**2; shapes must match."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "mse_loss")
    target = _same_shape(input, target, "mse_loss", broadcast=True)
    diff = input - target
    return _pointwise_loss(diff * diff, reduction, weight, "mse_loss", mean_over_weight=True)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean",  # noqa: A002
            weight=None):
    """Mean absolute error |input - target| (gradient sign(input - target), 0 at 0)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "l1_loss")
    target = _same_shape(input, target, "l1_loss", broadcast=True)
    return _pointwise_loss((input - target).abs(), reduction, weight, "l1_loss",
                           mean_over_weight=True)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean",  # noqa: A002
                   beta=1.0):
    """0.5 d**2 / beta where |d| < beta, else |d| - beta / 2 (d = input - target); beta=0 is l1."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "smooth_l1_loss")
    target = _same_shape(input, target, "smooth_l1_loss", broadcast=True)
    if not isinstance(beta, numbers.Real) or beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be a non-negative number, got {beta!r}")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    d = input - target
    return _reduce(regression_loss.SmoothL1.apply(d, beta=float(beta), scale=1.0), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):  # noqa: A002
    """0.5 d**2 where |d| < delta, else delta (|d| - delta / 2) (d = input - target)."""
    _check_reduction(reduction, "huber_loss")
    target = _same_shape(input, target, "huber_loss", broadcast=True)
    if not isinstance(delta, numbers.Real) or delta <= 0:
        raise ValueError(f"huber_loss: delta must be a positive number, got {delta!r}")
    d = input - target
    losses = regression_loss.SmoothL1.apply(d, beta=float(delta), scale=float(delta))
    return _pointwise_loss(losses, reduction, weight, "huber_loss", mean_over_weight=False)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean",  # noqa: A002
           log_target=False):
    """Kullback-Leibler divergence sum(target * (log(target) - input)), input holding
    log-probabilities (target too with log_target=True).

    reduction "batchmean" divides the sum by the batch size (the true KL divergence per
    sample); "mean" divides by the number of elements (with PyTorch's warning).
    """
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce, reduction)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    _check_reduction(reduction, "kl_div", _REDUCTIONS + ("batchmean",))
    target = _same_shape(input, target, "kl_div", broadcast=True)
    pointwise = input
    if target.shape != input.shape:  # the fused op takes equal shapes; broadcast_to is differentiable
        shape = np.broadcast_shapes(input.shape, target.shape)
        pointwise, target = pointwise.broadcast_to(shape), target.broadcast_to(shape)
    losses = regression_loss.KLDiv.apply(pointwise, target, log_target=bool(log_target))
    if reduction == "batchmean":
        total = losses.sum()
        return total / input.shape[0] if input.ndim else total
    return _reduce(losses, reduction)


def _weighted(losses, weight):
    if weight is None:
        return losses
    if not isinstance(weight, Tensor):
        weight = Tensor(np.asarray(weight), dtype=losses.dtype)
    return losses * weight


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,  # noqa: A002
                         reduction="mean"):
    """-(y log x + (1-y) log(1-x)) for probabilities x in [0, 1]; logs clamped at -100."""
    x = input
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "binary_cross_entropy")
    target = _same_shape(x, target, "binary_cross_entropy")
    data = x._data
    if bool(((data < 0) | (data > 1)).any()):
        raise ValueError("binary_cross_entropy: all elements of input should be between 0 and 1")
    return _reduce(_weighted(fused.BinaryCrossEntropy.apply(x, target), weight), reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,  # noqa: A002
                                     reduce=None, reduction="mean", pos_weight=None):
    """binary_cross_entropy(sigmoid(x), target) computed stably from the logits x.

    pos_weight (broadcast against the input, typically (C,)) weighs the positive term:
    l = (1 - y) x - (1 + (pos_weight - 1) y) log(sigmoid(x)), as PyTorch.
    """
    x = input
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    target = _same_shape(x, target, "binary_cross_entropy_with_logits")
    if pos_weight is not None:
        if not isinstance(pos_weight, Tensor):
            pos_weight = Tensor(np.asarray(pos_weight), dtype=x.dtype, device=x.device)
        try:
            shape = np.broadcast_shapes(pos_weight.shape, x.shape)
        except ValueError:
            shape = None
        if shape != x.shape:
            raise ValueError(f"binary_cross_entropy_with_logits: pos_weight shape "
                             f"{pos_weight.shape} does not broadcast to the input shape {x.shape}")
        if pos_weight.requires_grad:
            raise RuntimeError("binary_cross_entropy_with_logits: pos_weight is not "
                               "differentiable and cannot require grad (as in PyTorch)")
        pos_weight = pos_weight._data.astype(x.dtype, copy=False)
    losses = fused.BinaryCrossEntropyWithLogits.apply(x, target, pos_weight=pos_weight)
    return _reduce(_weighted(losses, weight), reduction)
