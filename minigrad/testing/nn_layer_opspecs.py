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


# ---------------------------------------------------------------------------- losses

PAIRS = _fixed([(3, 4), (3, 4)], [(5,), (5,)], [(2, 1, 3), (2, 1, 3)], [(1,), (1,)])


def _differences_away_from(points, gap=0.05):
    """(input, target) with input - target at least `gap` away from each kink in `points`."""

    def sample(rng, case):
        x = rng.uniform(-2, 2, case[0])
        (d,) = _away_from(points, gap)(rng, (case[1],))
        return x, x - d

    return sample


def _smooth_l1_ref(beta, scale):
    def ref(x, t):
        a = np.abs(x - t)
        return np.asarray(np.mean(scale * np.where(a < beta, 0.5 * a * a / beta, a - 0.5 * beta)))

    return ref


def _kl_sample(log_target):
    def sample(rng, case):
        x = np.log(rng.uniform(0.1, 1.0, case[0]))
        t = rng.uniform(0.1, 1.0, case[1])
        return x, (np.log(t) if log_target else t)

    return sample


def _kl_ref(log_target):
    def ref(x, t):
        losses = np.exp(t) * (t - x) if log_target else t * (np.log(t) - x)
        return np.asarray(losses.sum() / x.shape[0]) if x.ndim else np.asarray(losses.sum())

    return ref


def pos_weights(c):
    """A fixed pos_weight (c,) for c classes (a constant: PyTorch gives it no gradient)."""
    return np.linspace(0.3, 2.5, c)


def _pos_weight_sample(rng, case):
    shape = case[0]
    return 2 * rng.standard_normal(shape), rng.uniform(0, 1, shape)


def _pos_weight_fn(x, y):
    import minigrad

    pw = minigrad.tensor(pos_weights(x.shape[-1]), dtype=x.dtype, device=x.device)
    return _F().binary_cross_entropy_with_logits(x, y, pos_weight=pw)


def _pos_weight_torch(x, y):
    import torch

    pw = torch.as_tensor(pos_weights(x.shape[-1]))
    return _torch_F().binary_cross_entropy_with_logits(x, y, pos_weight=pw)


def _pos_weight_ref(x, y):
    pw = pos_weights(x.shape[-1])
    log_sig = -(np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x))))
    return np.asarray(np.mean((1 - y) * x - (1 + (pw - 1) * y) * log_sig))


def _loss_specs():
    def l1(x, t):
        return _F().l1_loss(x, t)

    return [
        OpSpec(name=F_ + "l1_loss", fn=l1, sample=_differences_away_from([0.0]),
               shape_cases=PAIRS, reference=lambda x, t: np.asarray(np.abs(x - t).mean()),
               torch_fn=lambda x, t: _torch_F().l1_loss(x, t), covers=(F_ + "l1_loss",),
               avoid="input == target (kink)"),
        OpSpec(name=F_ + "l1_loss[sum]", fn=lambda x, t: _F().l1_loss(x, t, reduction="sum"),
               sample=_differences_away_from([0.0]), shape_cases=PAIRS,
               reference=lambda x, t: np.asarray(np.abs(x - t).sum()),
               torch_fn=lambda x, t: _torch_F().l1_loss(x, t, reduction="sum")),
        OpSpec(name=F_ + "smooth_l1_loss[beta=0.5]",
               fn=lambda x, t: _F().smooth_l1_loss(x, t, beta=0.5),
               sample=_differences_away_from([-0.5, 0.5]), shape_cases=PAIRS,
               reference=_smooth_l1_ref(0.5, 1.0),
               torch_fn=lambda x, t: _torch_F().smooth_l1_loss(x, t, beta=0.5),
               covers=(F_ + "smooth_l1_loss",), avoid="|input - target| == beta"),
        OpSpec(name=F_ + "huber_loss[delta=0.7]",
               fn=lambda x, t: _F().huber_loss(x, t, delta=0.7),
               sample=_differences_away_from([-0.7, 0.7]), shape_cases=PAIRS,
               reference=_smooth_l1_ref(0.7, 0.7),
               torch_fn=lambda x, t: _torch_F().huber_loss(x, t, delta=0.7),
               covers=(F_ + "huber_loss",), avoid="|input - target| == delta"),
        OpSpec(name=F_ + "kl_div[batchmean]",
               fn=lambda x, t: _F().kl_div(x, t, reduction="batchmean"),
               sample=_kl_sample(False), shape_cases=PAIRS, reference=_kl_ref(False),
               torch_fn=lambda x, t: _torch_F().kl_div(x, t, reduction="batchmean"),
               covers=(F_ + "kl_div",), avoid="target > 0 (log)"),
        OpSpec(name=F_ + "kl_div[batchmean,log_target]",
               fn=lambda x, t: _F().kl_div(x, t, reduction="batchmean", log_target=True),
               sample=_kl_sample(True), shape_cases=PAIRS, reference=_kl_ref(True),
               torch_fn=lambda x, t: _torch_F().kl_div(x, t, reduction="batchmean",
                                                       log_target=True)),
        OpSpec(name=F_ + "binary_cross_entropy_with_logits[pos_weight]",
               fn=_pos_weight_fn, sample=_pos_weight_sample,
               shape_cases=_fixed([(3, 4)], [(5,)], [(2, 1, 3)]), reference=_pos_weight_ref,
               torch_fn=_pos_weight_torch),
    ] + _smoothed_ce_specs()


# ---------------------------------------------------------------------------- cross_entropy options

CE_WEIGHT = (0.5, 2.0, 1.0, 3.0, 0.7)


def ce_targets(n, c, ignore):
    """Fixed targets (n,) in [0, c), with every third one set to -100 when `ignore`."""
    t = (np.arange(n) * 7 + 3) % c
    if ignore:
        t[::3] = -100
    return t


def _ce_option_spec(reduction, smoothing, weighted, ignore):
    def kwargs(lib, c, **device):
        kw = dict(reduction=reduction, label_smoothing=smoothing)
        if weighted:
            kw["weight"] = lib.tensor(np.asarray(CE_WEIGHT[:c]), **device)
        return kw

    def fn(x):
        import minigrad

        t = ce_targets(x.shape[0], x.shape[1], ignore)
        # Targets and class weights live on the input's device, as PyTorch requires.
        return _F().cross_entropy(x, minigrad.tensor(t, device=x.device),
                                  **kwargs(minigrad, x.shape[1], device=x.device))

    def torch_fn(x):
        import torch

        t = torch.as_tensor(ce_targets(x.shape[0], x.shape[1], ignore))
        return _torch_F().cross_entropy(x, t, **kwargs(torch, x.shape[1]))

    def ref(x):
        n, c = x.shape
        t = ce_targets(n, c, ignore)
        kept = t != -100
        w = np.asarray(CE_WEIGHT[:c]) if weighted else np.ones(c)
        z = x - x.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        safe_t = np.where(kept, t, 0)
        row_w = w[safe_t] * kept
        nll = -logp[np.arange(n), safe_t] * row_w
        smooth = -(logp * w).sum(axis=1) * kept
        losses = (1 - smoothing) * nll + smoothing / c * smooth
        if reduction == "mean":
            return np.asarray(losses.sum() / row_w.sum())
        return np.asarray(losses.sum()) if reduction == "sum" else losses

    tags = [reduction, f"label_smoothing={smoothing}"] + (["weight"] if weighted else []) \
        + (["ignore_index"] if ignore else [])
    return OpSpec(
        name=F_ + f"cross_entropy[{','.join(tags)}]", fn=fn,
        sample=lambda rng, case: (rng.standard_normal(case[0]),),
        shape_cases=_fixed([(4, 3)], [(5, 5)], [(7, 2)], [(3, 4)]), reference=ref,
        torch_fn=torch_fn,
    )


def _smoothed_ce_specs():
    specs = []
    for reduction in ("mean", "sum", "none"):
        for weighted, ignore in ((False, False), (True, False), (False, True), (True, True)):
            specs.append(_ce_option_spec(reduction, 0.2, weighted, ignore))
    specs.append(_ce_option_spec("mean", 0.0, True, True))
    return specs


def build():
    return _activation_specs() + _layer_norm_specs() + _lookup_specs() + _loss_specs()


LAYER_SPECS = build()
