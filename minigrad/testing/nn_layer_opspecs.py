"""Registry entries (`OpSpec`) for the smooth activations, layer_norm, embedding, adaptive
pooling and the regression / divergence losses of `mg.nn.functional` (issue 11, part 3).

Included in `NN_SPECS` (nn_opspecs.py), so the shared gradcheck, non-contiguous, numpy
forward and torch-oracle tests and `minigrad gradcheck` run them all.
"""

import math

import numpy as np

from .spec import OpSpec

F_ = "nn.functional."


def _F():
    from ..nn import functional

    return functional


def _torch_F():
    import torch.nn.functional as TF

    return TF


def _fixed(*shape_lists):
    fixed = [tuple(tuple(s) for s in c) for c in shape_lists]
    return lambda rng: list(fixed)


UNARY = _fixed([(5,)], [(3, 4)], [(2, 1, 3)], [(1,)], [(2, 3, 1, 2)], [()])


def _uniform(lo=-3.0, hi=3.0):
    def sample(rng, case):
        return tuple(rng.uniform(lo, hi, shape) for shape in case)

    return sample


def _away_from(points, gap=0.05, lo=-3.0, hi=3.0):
    """Uniform values at least `gap` away from each kink in `points`."""

    def sample(rng, case):
        out = []
        for shape in case:
            x = rng.uniform(lo, hi, shape)
            for p in points:
                near = np.abs(x - p) < gap
                x = np.where(near, p + np.where(x >= p, 2 * gap, -2 * gap), x)
            out.append(x)
        return tuple(out)

    return sample


_erf = np.vectorize(math.erf, otypes=[np.float64])


def _gelu_ref(x):
    return x * 0.5 * (1 + _erf(x / math.sqrt(2)))


def _gelu_tanh_ref(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def _softplus_ref(beta, threshold):
    def ref(x):
        return np.where(beta * x > threshold, x, np.log1p(np.exp(beta * x)) / beta)

    return ref


def _activation_specs():
    return [
        OpSpec(name=F_ + "gelu", fn=lambda x: _F().gelu(x), sample=_uniform(), shape_cases=UNARY,
               reference=_gelu_ref, torch_fn=lambda x: _torch_F().gelu(x),
               covers=(F_ + "gelu",)),
        OpSpec(name=F_ + "gelu[tanh]", fn=lambda x: _F().gelu(x, approximate="tanh"),
               sample=_uniform(), shape_cases=UNARY, reference=_gelu_tanh_ref,
               torch_fn=lambda x: _torch_F().gelu(x, approximate="tanh")),
        OpSpec(name=F_ + "silu", fn=lambda x: _F().silu(x), sample=_uniform(), shape_cases=UNARY,
               reference=lambda x: x / (1 + np.exp(-x)), torch_fn=lambda x: _torch_F().silu(x),
               covers=(F_ + "silu",)),
        OpSpec(name=F_ + "elu", fn=lambda x: _F().elu(x, alpha=1.3), sample=_away_from([0.0]),
               shape_cases=UNARY, reference=lambda x: np.where(x > 0, x, 1.3 * np.expm1(x)),
               torch_fn=lambda x: _torch_F().elu(x, alpha=1.3), covers=(F_ + "elu",),
               avoid="kink at 0 (slopes 1 and alpha)"),
        OpSpec(name=F_ + "softplus", fn=lambda x: _F().softplus(x), sample=_uniform(),
               shape_cases=UNARY, reference=_softplus_ref(1.0, 20.0),
               torch_fn=lambda x: _torch_F().softplus(x), covers=(F_ + "softplus",)),
        OpSpec(name=F_ + "softplus[beta=2,threshold=1.5]",
               fn=lambda x: _F().softplus(x, beta=2.0, threshold=1.5),
               sample=_away_from([0.75]), shape_cases=UNARY, reference=_softplus_ref(2.0, 1.5),
               torch_fn=lambda x: _torch_F().softplus(x, beta=2.0, threshold=1.5),
               avoid="the switch to the linear region at beta x = threshold"),
        OpSpec(name=F_ + "logsigmoid", fn=lambda x: _F().logsigmoid(x), sample=_uniform(-8, 8),
               shape_cases=UNARY, reference=lambda x: -np.log1p(np.exp(-x)),
               torch_fn=lambda x: _torch_F().logsigmoid(x), covers=(F_ + "logsigmoid",)),
    ]


# ---------------------------------------------------------------------------- layer_norm


def _layer_norm_ref(k):
    def ref(x, w=None, b=None):
        dims = tuple(range(x.ndim - k, x.ndim))
        y = (x - x.mean(axis=dims, keepdims=True)) / np.sqrt(x.var(axis=dims, keepdims=True)
                                                              + 1e-5)
        return y if w is None else y * w + b

    return ref


def _layer_norm_affine_sample(rng, case):
    x_shape, normalized = case
    return (rng.standard_normal(x_shape), rng.uniform(0.5, 1.5, normalized),
            rng.standard_normal(normalized))


def _layer_norm_specs():
    affine = _fixed([(3, 4), (4,)], [(2, 3, 5), (5,)], [(6,), (6,)], [(2, 1, 3), (3,)])
    two_dims = _fixed([(2, 3, 4)], [(3, 4)], [(1, 2, 3)])
    return [
        OpSpec(name=F_ + "layer_norm",
               fn=lambda x, w, b: _F().layer_norm(x, w.shape, w, b),
               sample=_layer_norm_affine_sample, shape_cases=affine, reference=_layer_norm_ref(1),
               torch_fn=lambda x, w, b: _torch_F().layer_norm(x, w.shape, w, b),
               covers=(F_ + "layer_norm",)),
        OpSpec(name=F_ + "layer_norm[2 dims, no affine]",
               fn=lambda x: _F().layer_norm(x, x.shape[-2:]),
               sample=lambda rng, case: (rng.standard_normal(case[0]),), shape_cases=two_dims,
               reference=_layer_norm_ref(2),
               torch_fn=lambda x: _torch_F().layer_norm(x, x.shape[-2:])),
    ]


# ---------------------------------------------------------------------------- embedding, pooling


def embedding_indices(num):
    """Fixed lookups (2, 3) into `num` rows, with repeats (their gradients add up)."""
    return (np.arange(6).reshape(2, 3) * 5 + 1) % num


def _embedding_fn(w):
    from ..tensor import tensor

    return _F().embedding(tensor(embedding_indices(w.shape[0])), w)


def _embedding_torch(w):
    import torch

    return _torch_F().embedding(torch.as_tensor(embedding_indices(w.shape[0])), w)


def _adaptive_ref(out):
    def ref(x):
        h, w = x.shape[-2:]
        oh, ow = out
        y = np.empty(x.shape[:-2] + (oh, ow))
        for i in range(oh):
            for j in range(ow):
                rows = slice(i * h // oh, -(-(i + 1) * h // oh))
                cols = slice(j * w // ow, -(-(j + 1) * w // ow))
                y[..., i, j] = x[..., rows, cols].mean(axis=(-2, -1))
        return y

    return ref


def _adaptive_spec(out, covers=()):
    return OpSpec(
        name=F_ + f"adaptive_avg_pool2d[{out[0]}x{out[1]}]",
        fn=lambda x: _F().adaptive_avg_pool2d(x, out), sample=_uniform(),
        shape_cases=_fixed([(2, 3, 5, 7)], [(1, 1, 4, 4)], [(3, 5, 3)], [(1, 2, 1, 6)]),
        reference=_adaptive_ref(out),
        torch_fn=lambda x: _torch_F().adaptive_avg_pool2d(x, out), covers=covers,
    )


def _lookup_specs():
    return [
        OpSpec(name=F_ + "embedding", fn=_embedding_fn, sample=_uniform(),
               shape_cases=_fixed([(7, 3)], [(4, 1)], [(1, 5)]),
               reference=lambda w: w[embedding_indices(w.shape[0])], torch_fn=_embedding_torch,
               covers=(F_ + "embedding",)),
        _adaptive_spec((1, 1), covers=(F_ + "adaptive_avg_pool2d",)),
        _adaptive_spec((2, 3)),
    ]


def build():
    return _activation_specs() + _layer_norm_specs() + _lookup_specs()


LAYER_SPECS = build()
