"""Registry entries (`OpSpec`) for the differentiable functions of `mg.nn.functional` that
are not plain re-exports of core ops. The core registry (opspecs.py) includes `NN_SPECS`.

Integer class targets are not inputs (they are not differentiable): each spec derives them
from the input's shape with `class_targets(n, c)`, so fn, reference and torch_fn agree.
"""

import numpy as np

from .spec import OpSpec


def class_targets(n, c):
    """A fixed, varied target vector (n,) with values in [0, c)."""
    return (np.arange(n) * 7 + 3) % c


def _log_softmax_np(x, axis):
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def _F():
    from ..nn import functional

    return functional


def _torch_F():
    import torch.nn.functional as TF

    return TF


def _torch_long(array):
    import torch

    return torch.as_tensor(array, dtype=torch.int64)


def _normal(rng, *shapes):
    return tuple(rng.standard_normal(s) for s in shapes)


# ---------------------------------------------------------------------------- linear


def _linear_cases(rng):
    return [((3, 4), 5), ((1, 1), 1), ((2, 3, 4), 2), ((4,), 3)]


def _linear_sample(rng, case):
    x_shape, out = case
    return _normal(rng, x_shape, (out, x_shape[-1]), (out,))


# ---------------------------------------------------------------------------- class losses


def _class_cases(rng):
    return [(4, 3), (1, 5), (6, 2), (3, 7)]


def _ce(reduction):
    def fn(x):
        t = class_targets(*x.shape)
        from ..tensor import tensor

        return _F().cross_entropy(x, tensor(t), reduction=reduction)

    def ref(x):
        t = class_targets(*x.shape)
        losses = -_log_softmax_np(x, 1)[np.arange(x.shape[0]), t]
        return _np_reduce(losses, reduction)

    def torch_fn(x):
        t = _torch_long(class_targets(*x.shape))
        return _torch_F().cross_entropy(x, t, reduction=reduction)

    return fn, ref, torch_fn


def _nll(reduction):
    def fn(x):
        from ..tensor import tensor

        return _F().nll_loss(x, tensor(class_targets(*x.shape)), reduction=reduction)

    def ref(x):
        return _np_reduce(-x[np.arange(x.shape[0]), class_targets(*x.shape)], reduction)

    def torch_fn(x):
        return _torch_F().nll_loss(x, _torch_long(class_targets(*x.shape)), reduction=reduction)

    return fn, ref, torch_fn


def _np_reduce(losses, reduction):
    if reduction == "mean":
        return np.asarray(losses.mean())
    if reduction == "sum":
        return np.asarray(losses.sum())
    return losses


def _single(rng, case):
    return _normal(rng, case)


# ---------------------------------------------------------------------------- pointwise losses


def _pair_cases(rng):
    return [(3, 4), (5,), (2, 1, 3)]


def _pair_sample(rng, shape):
    return _normal(rng, shape, shape)


def _bce_sample(rng, shape):
    # probabilities kept away from 0 and 1, where the clamp at -100 would be a kink
    return rng.uniform(0.05, 0.95, shape), rng.uniform(0.0, 1.0, shape)


def _bce_logits_sample(rng, shape):
    return 2 * rng.standard_normal(shape), rng.uniform(0.0, 1.0, shape)


def _bce_ref(x, y):
    return np.asarray(np.mean(-(y * np.log(x) + (1 - y) * np.log(1 - x))))


def _bce_logits_ref(x, y):
    return np.asarray(np.mean(np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))))


# ---------------------------------------------------------------------------- softmax


def _softmax_cases(rng):
    return [(3, 4), (2, 3, 4), (5,), (2, 1, 3)]


def _softmax_spec(log):
    name = "log_softmax" if log else "softmax"

    def fn(x):
        return getattr(_F(), name)(x, _softmax_dim(x.ndim))

    def ref(x):
        out = _log_softmax_np(x, _softmax_dim(x.ndim))
        return out if log else np.exp(out)

    def torch_fn(x):
        return getattr(_torch_F(), name)(x, dim=_softmax_dim(x.ndim))

    return OpSpec(
        name=f"nn.functional.{name}", fn=fn, sample=_single, shape_cases=_softmax_cases,
        reference=ref, torch_fn=torch_fn, covers=(f"nn.functional.{name}",),
    )


def _softmax_dim(ndim):
    """The dim exercised for an input of `ndim` dims (last dim, and dim 1 for 2-D)."""
    return 1 if ndim == 2 else ndim - 1


# ---------------------------------------------------------------------------- batch norm


def _bn_cases(rng):
    return [(4, 3), (3, 2, 3, 3), (2, 3, 4)]


def _bn_sample(rng, shape):
    c = shape[1]
    return rng.standard_normal(shape), rng.uniform(0.5, 1.5, c), rng.standard_normal(c)


def _bn_fn(x, w, b):
    return _F().batch_norm(x, None, None, w, b, training=True)


def _bn_ref(x, w, b):
    dims = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean = x.mean(axis=dims, keepdims=True)
    var = x.var(axis=dims, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-5) * w.reshape(shape) + b.reshape(shape)


def _bn_torch(x, w, b):
    return _torch_F().batch_norm(x, None, None, w, b, training=True)


# ---------------------------------------------------------------------------- the registry


def _build():
    F = "nn.functional."
    specs = [
        OpSpec(
            name=F + "linear", fn=lambda x, w, b: _F().linear(x, w, b),
            sample=_linear_sample, shape_cases=_linear_cases,
            reference=lambda x, w, b: x @ w.T + b,
            torch_fn=lambda x, w, b: _torch_F().linear(x, w, b), covers=(F + "linear",),
        ),
        OpSpec(
            name=F + "linear[no bias]", fn=lambda x, w: _F().linear(x, w),
            sample=lambda rng, case: _linear_sample(rng, case)[:2], shape_cases=_linear_cases,
            reference=lambda x, w: x @ w.T, torch_fn=lambda x, w: _torch_F().linear(x, w),
        ),
        OpSpec(
            name=F + "mse_loss", fn=lambda x, y: _F().mse_loss(x, y),
            sample=_pair_sample, shape_cases=_pair_cases,
            reference=lambda x, y: np.asarray(np.mean((x - y) ** 2)),
            torch_fn=lambda x, y: _torch_F().mse_loss(x, y), covers=(F + "mse_loss",),
        ),
        OpSpec(
            name=F + "mse_loss[none]", fn=lambda x, y: _F().mse_loss(x, y, reduction="none"),
            sample=_pair_sample, shape_cases=_pair_cases, reference=lambda x, y: (x - y) ** 2,
            torch_fn=lambda x, y: _torch_F().mse_loss(x, y, reduction="none"),
        ),
        OpSpec(
            name=F + "binary_cross_entropy", fn=lambda x, y: _F().binary_cross_entropy(x, y),
            sample=_bce_sample, shape_cases=_pair_cases, reference=_bce_ref,
            torch_fn=lambda x, y: _torch_F().binary_cross_entropy(x, y),
            covers=(F + "binary_cross_entropy",), avoid="x kept in [0.05, 0.95] (log clamp)",
        ),
        OpSpec(
            name=F + "binary_cross_entropy_with_logits",
            fn=lambda x, y: _F().binary_cross_entropy_with_logits(x, y),
            sample=_bce_logits_sample, shape_cases=_pair_cases, reference=_bce_logits_ref,
            torch_fn=lambda x, y: _torch_F().binary_cross_entropy_with_logits(x, y),
            covers=(F + "binary_cross_entropy_with_logits",),
        ),
        _softmax_spec(log=False),
        _softmax_spec(log=True),
        OpSpec(
            name=F + "batch_norm[train]", fn=_bn_fn, sample=_bn_sample, shape_cases=_bn_cases,
            reference=_bn_ref, torch_fn=_bn_torch, covers=(F + "batch_norm",),
        ),
    ]
    for reduction in ("mean", "sum", "none"):
        suffix = "" if reduction == "mean" else f"[{reduction}]"
        fn, ref, torch_fn = _ce(reduction)
        specs.append(OpSpec(
            name=F + "cross_entropy" + suffix, fn=fn, sample=_single, shape_cases=_class_cases,
            reference=ref, torch_fn=torch_fn, noncontiguous=True,
            covers=(F + "cross_entropy",) if not suffix else (),
        ))
        fn, ref, torch_fn = _nll(reduction)
        specs.append(OpSpec(
            name=F + "nll_loss" + suffix, fn=fn, sample=_single, shape_cases=_class_cases,
            reference=ref, torch_fn=torch_fn, covers=(F + "nll_loss",) if not suffix else (),
        ))
    return specs


from .nn_layer_opspecs import LAYER_SPECS  # noqa: E402  (activations, layer_norm, losses...)

NN_SPECS = _build() + LAYER_SPECS
