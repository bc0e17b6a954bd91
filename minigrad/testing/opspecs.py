"""The op registry: one `OpSpec` per public op (or per interesting argument setting of one).

`minigrad gradcheck` and the test suite (gradcheck, forward vs numpy, torch oracle,
completeness) all iterate `ALL_SPECS`. Samplers use a numpy Generator only, so the CLI runs
without hypothesis; they keep inputs away from kinks (relu/abs at 0, clamp bounds, ties in
max/maximum/max-pool, log/sqrt near 0) instead of loosening tolerances.

A shape case is a tuple of input shapes (one per tensor argument of `fn`); `sample(rng, case)`
returns float64 arrays of those shapes.
"""

import numpy as np

import minigrad as mg
from minigrad.ops.conv import avg_pool2d, conv2d, max_pool2d

from .spec import OpSpec

# ---------------------------------------------------------------------------- samplers


def uniform(lo=-2.0, hi=2.0):
    """Independent uniform values in [lo, hi] for every input."""

    def sample(rng, case):
        return tuple(rng.uniform(lo, hi, shape) for shape in case)

    return sample


def away_from(points, gap=0.1, lo=-2.0, hi=2.0):
    """Uniform values at least `gap` away from each kink in `points`."""

    def one(rng, shape):
        x = rng.uniform(lo, hi, shape)
        for p in points:
            near = np.abs(x - p) < gap
            x = np.where(near, p + np.where(x >= p, gap, -gap) * 1.5, x)
        return x

    def sample(rng, case):
        return tuple(one(rng, shape) for shape in case)

    return sample


def positive(lo=0.3, hi=3.0):
    return uniform(lo, hi)


def distinct(rng, shape, spacing=0.25):
    """Values with pairwise gaps of at least ~spacing (no ties for max, sort, pooling)."""
    n = int(np.prod(shape, dtype=np.int64))
    values = (rng.permutation(n) - n / 2) * spacing + rng.uniform(-0.05, 0.05, n) * spacing
    return values.reshape(shape)


def distinct_sampler(rng, case):
    return tuple(distinct(rng, shape) for shape in case)


def separated_pair(rng, case):
    """Inputs whose values are all distinct across both arrays, so that maximum/minimum
    never tie at any broadcast position."""
    sizes = [int(np.prod(s, dtype=np.int64)) for s in case]
    values = distinct(rng, (sum(sizes),))
    out, start = [], 0
    for shape, size in zip(case, sizes):
        out.append(values[start:start + size].reshape(shape))
        start += size
    return tuple(out)


def where_sampler(rng, case):
    """cond (float, compared with 0 inside fn; kept away from 0), a, b."""
    c, a, b = uniform()(rng, case)
    c = np.where(np.abs(c) < 0.1, 0.5, c)
    return c, a, b


def pow_tensor_sampler(rng, case):
    base = rng.uniform(0.5, 2.0, case[0])
    exponent = rng.uniform(-2.0, 2.0, case[1])
    return base, exponent


def nonzero_denominator(rng, case):
    a = rng.uniform(-2, 2, case[0])
    b = np.where(rng.random(case[1]) < 0.5, -1.0, 1.0) * rng.uniform(0.5, 2.0, case[1])
    return a, b


def nonzero(rng, case):
    return tuple(np.where(rng.random(s) < 0.5, -1.0, 1.0) * rng.uniform(0.3, 2.0, s) for s in case)


def cases(*shape_lists):
    """shape_cases that ignores the rng: a fixed list of shape tuples."""
    fixed = [tuple(tuple(s) for s in c) for c in shape_lists]
    return lambda rng: list(fixed)


UNARY_SHAPES = cases([()], [(5,)], [(3, 4)], [(2, 1, 3)], [(1,)], [(2, 3, 1, 2)])
BINARY_SHAPES = cases(
    [(3, 4), (3, 4)], [(3, 4), (4,)], [(3, 1), (1, 4)], [(2, 3, 4), (3, 1)],
    [(), (2, 3)], [(2, 3), ()], [(), ()], [(1,), (5,)], [(4, 1, 2), (3, 1)],
)
REDUCE_SHAPES = cases([(5,)], [(3, 4)], [(2, 3, 4)], [(1, 4)], [(4, 1)])
REDUCE_ALL_SHAPES = cases([()], [(5,)], [(3, 4)], [(2, 3, 4)], [(1,)])


def _np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis) if axis is not None else out.reshape(())


def _np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _np_pool(x, k, s, p, how):
    """Naive NCHW pooling reference (max pads with -inf, avg counts the zero padding)."""
    kh, kw = k
    sh, sw = s
    ph, pw = p
    fill = -np.inf if how == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    n, c, h, w = xp.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.empty((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            win = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[:, :, i, j] = win.max(axis=(2, 3)) if how == "max" else win.mean(axis=(2, 3))
    return out


def _np_conv2d(x, w, b=None, stride=(1, 1), padding=(0, 0)):
    """Naive NCHW cross-correlation reference."""
    sh, sw = stride
    ph, pw = padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, c, h, wd = xp.shape
    o, _, kh, kw = w.shape
    oh, ow = (h - kh) // sh + 1, (wd - kw) // sw + 1
    out = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            win = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[:, :, i, j] = np.einsum("nchw,ochw->no", win, w)
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def _setitem(key):
    def fn(x, v):
        y = x.clone()
        y[key] = v
        return y

    return fn


def _np_setitem(key):
    def ref(x, v):
        y = x.copy()
        y[key] = v
        return y

    return ref


def _torch_setitem(key):
    def fn(x, v):
        y = x.clone()
        y[key] = v
        return y

    return fn


MASK_3x4 = np.array([[True, False, True, True], [False, False, False, True], [True, True, False, False]])


def _torch():
    """torch, imported lazily (torch_fn callables only run in the torch oracle tests)."""
    import torch

    return torch


def _tf(name):
    """torch_fn calling torch.<name>(*tensors)."""
    return lambda *a: getattr(_torch(), name)(*a)


def _F():  # noqa: N802
    return _torch().nn.functional


# ---------------------------------------------------------------------------- the registry


def _arrays(sample):
    """Make every sampled input a float64 ndarray (rng draws of shape () are numpy scalars)."""

    def wrapped(rng, case):
        return tuple(np.asarray(a, dtype=np.float64) for a in sample(rng, case))

    return wrapped


def _spec(name, fn, sample, shape_cases, reference=None, torch_fn=None, covers=None, **kw):
    return OpSpec(name=name, fn=fn, sample=_arrays(sample), shape_cases=shape_cases, reference=reference,
                  torch_fn=torch_fn, covers=tuple(covers if covers is not None else (name,)), **kw)


def _unary_specs():
    specs = []
    table = [
        # name, minigrad fn, numpy ref, sampler, avoid
        ("neg", lambda x: -x, np.negative, uniform(), ""),
        ("exp", mg.exp, np.exp, uniform(), ""),
        ("log", lambda x: x.log(), np.log, positive(), "log needs x > 0"),
        ("sqrt", mg.sqrt, np.sqrt, positive(), "sqrt needs x > 0 (infinite slope at 0)"),
        ("abs", lambda x: abs(x), np.abs, nonzero, "abs kink at 0"),
        ("sin", mg.sin, np.sin, uniform(-3, 3), ""),
        ("cos", lambda x: x.cos(), np.cos, uniform(-3, 3), ""),
        ("relu", mg.relu, lambda x: np.maximum(x, 0), nonzero, "relu kink at 0"),
        ("sigmoid", lambda x: x.sigmoid(), _np_sigmoid, uniform(-4, 4), ""),
        ("tanh", mg.tanh, np.tanh, uniform(-2, 2), ""),
        ("clone", lambda x: x.clone(), np.copy, uniform(), ""),
    ]
    torch_names = {"neg": "neg", "exp": "exp", "log": "log", "sqrt": "sqrt", "abs": "abs",
                   "sin": "sin", "cos": "cos", "relu": "relu", "sigmoid": "sigmoid",
                   "tanh": "tanh", "clone": "clone"}
    for name, fn, ref, sampler, avoid in table:
        specs.append(_spec(name, fn, sampler, UNARY_SHAPES, ref, _tf(torch_names[name]),
                           avoid=avoid))
    specs += [
        _spec("leaky_relu", lambda x: mg.leaky_relu(x, 0.1), nonzero, UNARY_SHAPES,
              lambda x: np.where(x > 0, x, 0.1 * x),
              lambda x: _F().leaky_relu(x, 0.1), avoid="kink at 0"),
        _spec("clamp", lambda x: x.clamp(-0.5, 0.7), away_from([-0.5, 0.7]), UNARY_SHAPES,
              lambda x: np.clip(x, -0.5, 0.7), lambda x: x.clamp(-0.5, 0.7),
              covers=("clamp", "clip"), avoid="kinks at both bounds"),
        _spec("clamp_min", lambda x: mg.clamp(x, min=0.2), away_from([0.2]), UNARY_SHAPES,
              lambda x: np.maximum(x, 0.2), lambda x: x.clamp(min=0.2), covers=("clamp",),
              avoid="kink at the bound"),
        _spec("scalar_arith", lambda x: (2.0 - x * 1.5 + 0.5) / 4.0 - 3.0 / (x + 3.0),
              uniform(-1, 1), UNARY_SHAPES,
              lambda x: (2.0 - x * 1.5 + 0.5) / 4.0 - 3.0 / (x + 3.0),
              lambda x: (2.0 - x * 1.5 + 0.5) / 4.0 - 3.0 / (x + 3.0),
              covers=("add", "sub", "mul", "div"),
              avoid="reflected operators with Python scalars"),
        _spec("pow_scalar", lambda x: x ** 3, uniform(), UNARY_SHAPES, lambda x: x ** 3,
              lambda x: x ** 3, covers=("pow",), avoid="integer exponent: any sign of base"),
        _spec("pow_scalar_frac", lambda x: mg.pow(x, -1.5), positive(), UNARY_SHAPES,
              lambda x: x ** -1.5, lambda x: x ** -1.5, covers=("pow",),
              avoid="fractional exponent needs x > 0"),
        _spec("rpow", lambda x: 2.0 ** x, uniform(), UNARY_SHAPES, lambda x: 2.0 ** x,
              lambda x: 2.0 ** x, covers=("pow",)),
    ]
    return specs


def _binary_specs():
    return [
        _spec("add", lambda a, b: a + b, uniform(), BINARY_SHAPES, np.add, _tf("add")),
        _spec("sub", lambda a, b: mg.sub(a, b), uniform(), BINARY_SHAPES, np.subtract,
              _tf("sub")),
        _spec("mul", lambda a, b: a * b, uniform(), BINARY_SHAPES, np.multiply, _tf("mul")),
        _spec("div", lambda a, b: a / b, nonzero_denominator, BINARY_SHAPES, np.divide,
              _tf("div"), avoid="denominator away from 0"),
        _spec("pow", lambda a, b: a ** b, pow_tensor_sampler, BINARY_SHAPES, np.power,
              _tf("pow"), avoid="positive base (the exponent grad needs log(base))"),
        _spec("maximum", mg.maximum, separated_pair, BINARY_SHAPES, np.maximum,
              _tf("maximum"), avoid="ties"),
        _spec("minimum", lambda a, b: a.minimum(b), separated_pair, BINARY_SHAPES, np.minimum,
              _tf("minimum"), avoid="ties"),
        _spec("where", lambda c, a, b: mg.where(c > 0, a, b), where_sampler,
              cases([(3, 4), (3, 4), (3, 4)], [(3, 1), (1, 4), (4,)], [(), (2, 3), ()],
                    [(2, 3, 1), (3, 4), (1,)]),
              lambda c, a, b: np.where(c > 0, a, b),
              lambda c, a, b: _torch().where(c > 0, a, b),
              avoid="the condition input (compared with 0) stays away from 0"),
    ]


def _matmul_specs():
    shapes = cases(
        [(3, 4), (4, 2)], [(1, 4), (4, 1)], [(2, 3, 4), (2, 4, 5)], [(2, 1, 3, 4), (5, 4, 2)],
        [(2, 3, 4), (4, 2)], [(4,), (4,)], [(4,), (4, 3)], [(3, 4), (4,)], [(2, 3, 4), (4,)],
        [(4,), (2, 4, 3)], [(6, 5, 4), (4, 3)],
    )
    return [_spec("matmul", lambda a, b: a @ b, uniform(), shapes, np.matmul, _tf("matmul"),
                  covers=("matmul",))]


def _reduce_specs():
    specs = []
    for name, ref in [("sum", np.sum), ("mean", np.mean)]:
        specs.append(_spec(name, lambda x, n=name: getattr(x, n)(), uniform(), REDUCE_ALL_SHAPES,
                           ref, lambda x, n=name: getattr(x, n)()))
        specs.append(_spec(f"{name}_dim", lambda x, n=name: getattr(mg, n)(x, dim=-1, keepdim=True),
                           uniform(), REDUCE_SHAPES,
                           lambda x, r=ref: r(x, axis=-1, keepdims=True),
                           lambda x, n=name: getattr(x, n)(dim=-1, keepdim=True), covers=(name,)))
        specs.append(_spec(f"{name}_dims", lambda x, n=name: getattr(x, n)(axis=(0, -1)),
                           uniform(), cases([(3, 4)], [(2, 3, 4)], [(1, 3, 1)]),
                           lambda x, r=ref: r(x, axis=(0, -1)),
                           lambda x, n=name: getattr(x, n)(dim=(0, -1)), covers=(name,)))
    for name, ref in [("max", np.max), ("min", np.min)]:
        specs.append(_spec(name, lambda x, n=name: getattr(x, n)(), distinct_sampler,
                           REDUCE_ALL_SHAPES, ref, lambda x, n=name: getattr(x, n)(),
                           avoid="ties (distinct values)"))
        specs.append(_spec(f"{name}_dim", lambda x, n=name: getattr(mg, n)(x, dim=0),
                           distinct_sampler, REDUCE_SHAPES, lambda x, r=ref: r(x, axis=0),
                           lambda x, n=name: getattr(x, n)(dim=0).values, covers=(name,),
                           avoid="ties (distinct values)"))
        specs.append(_spec(f"{name}_dims", lambda x, n=name: getattr(x, n)(dim=(1, 2), keepdim=True),
                           distinct_sampler, cases([(2, 3, 4)], [(3, 1, 2)]),
                           lambda x, r=ref: r(x, axis=(1, 2), keepdims=True),
                           lambda x, n=name: getattr(_torch(), "a" + n)(x, dim=(1, 2), keepdim=True),
                           covers=(name,), avoid="ties (distinct values)"))
    var_shapes = cases([(5,)], [(3, 4)], [(2, 3, 4)], [(2, 4)])
    for name, ref in [("var", np.var), ("std", np.std)]:
        specs.append(_spec(name, lambda x, n=name: getattr(x, n)(), uniform(), var_shapes,
                           lambda x, r=ref: r(x, ddof=1), lambda x, n=name: getattr(x, n)()))
        specs.append(_spec(f"{name}_dim", lambda x, n=name: getattr(mg, n)(x, dim=-1, correction=0,
                                                                         keepdim=True),
                           uniform(), var_shapes,
                           lambda x, r=ref: r(x, axis=-1, ddof=0, keepdims=True),
                           lambda x, n=name: getattr(x, n)(dim=-1, correction=0, keepdim=True),
                           covers=(name,)))
    specs += [
        _spec("logsumexp", lambda x: x.logsumexp(), uniform(-3, 3), REDUCE_ALL_SHAPES,
              lambda x: _np_logsumexp(x), lambda x: _torch().logsumexp(x, dim=tuple(range(x.ndim)))),
        _spec("logsumexp_dim", lambda x: mg.logsumexp(x, dim=1, keepdim=True), uniform(-3, 3),
              cases([(3, 4)], [(2, 3, 4)], [(4, 1)]),
              lambda x: _np_logsumexp(x, axis=1, keepdims=True),
              lambda x: _torch().logsumexp(x, dim=1, keepdim=True), covers=("logsumexp",)),
        _spec("softmax", lambda x: x.softmax(-1), uniform(-3, 3), REDUCE_SHAPES,
              lambda x: _np_softmax(x, -1), lambda x: x.softmax(-1)),
        _spec("softmax_dim0", lambda x: mg.softmax(x, 0), uniform(-3, 3), REDUCE_SHAPES,
              lambda x: _np_softmax(x, 0), lambda x: x.softmax(0), covers=("softmax",)),
        _spec("log_softmax", lambda x: mg.log_softmax(x, dim=1), uniform(-3, 3),
              cases([(3, 4)], [(2, 3, 4)], [(4, 1)], [(1, 5)]),
              lambda x: np.log(_np_softmax(x, 1)), lambda x: x.log_softmax(1)),
    ]
    return specs


def _shape_specs():
    t = _torch
    return [
        _spec("reshape", lambda x: x.reshape(4, -1), uniform(), cases([(2, 6)], [(2, 3, 4)], [(4,)]),
              lambda x: x.reshape(4, -1), lambda x: x.reshape(4, -1)),
        _spec("reshape_0d", lambda x: mg.reshape(x, (1, 1)), uniform(), cases([()], [(1,)]),
              lambda x: x.reshape(1, 1), lambda x: x.reshape(1, 1), covers=("reshape",)),
        _spec("view", lambda x: x.view(-1, 2), uniform(), cases([(2, 6)], [(3, 2, 2)]),
              lambda x: x.reshape(-1, 2), lambda x: x.reshape(-1, 2)),
        _spec("flatten", lambda x: x.flatten(1), uniform(), cases([(2, 3, 4)], [(2, 1, 3, 2)]),
              lambda x: x.reshape(x.shape[0], -1), lambda x: x.flatten(1)),
        _spec("flatten_all", mg.flatten, uniform(), cases([(2, 3, 4)], [()], [(3,)]),
              lambda x: x.reshape(-1), lambda x: x.flatten(), covers=("flatten",)),
        _spec("transpose", lambda x: mg.transpose(x, 0, -1), uniform(),
              cases([(3, 4)], [(2, 3, 4)], [(1, 5)]),
              lambda x: np.swapaxes(x, 0, -1), lambda x: x.transpose(0, -1)),
        _spec("permute", lambda x: x.permute(2, 0, 1), uniform(), cases([(2, 3, 4)], [(1, 3, 2)]),
              lambda x: np.transpose(x, (2, 0, 1)), lambda x: x.permute(2, 0, 1)),
        _spec("T", lambda x: x.T, uniform(), cases([(3, 4)], [(1, 4)]), lambda x: x.T,
              lambda x: x.T),
        _spec("squeeze", lambda x: x.squeeze(), uniform(), cases([(1, 3, 1)], [(3, 4)], [(1,)]),
              np.squeeze, lambda x: x.squeeze()),
        _spec("squeeze_dim", lambda x: mg.squeeze(x, 1), uniform(), cases([(2, 1, 3)], [(3, 1)]),
              lambda x: np.squeeze(x, 1), lambda x: x.squeeze(1), covers=("squeeze",)),
        _spec("unsqueeze", lambda x: x.unsqueeze(-1), uniform(), cases([()], [(3,)], [(2, 3)]),
              lambda x: np.expand_dims(x, -1), lambda x: x.unsqueeze(-1)),
        _spec("expand", lambda x: x.expand(2, 3, 4), uniform(), cases([(3, 1)], [(3, 4)], [(1,)], [()]),
              lambda x: np.broadcast_to(x, (2, 3, 4)), lambda x: x.expand(2, 3, 4)),
        _spec("broadcast_to", lambda x: mg.broadcast_to(x, (2, 3, 4)), uniform(),
              cases([(1, 4)], [(3, 1)], [()]), lambda x: np.broadcast_to(x, (2, 3, 4)),
              lambda x: t().broadcast_to(x, (2, 3, 4))),
        _spec("cat", lambda a, b, c: mg.cat([a, b, c], dim=1), uniform(),
              cases([(2, 1), (2, 3), (2, 2)], [(3, 2, 4), (3, 1, 4), (3, 2, 4)]),
              lambda a, b, c: np.concatenate([a, b, c], axis=1),
              lambda a, b, c: t().cat([a, b, c], dim=1)),
        _spec("cat_dim0", lambda a, b: mg.cat((a, b)), uniform(), cases([(1,), (3,)], [(2, 3), (1, 3)]),
              lambda a, b: np.concatenate([a, b]), lambda a, b: t().cat([a, b]), covers=("cat",)),
        _spec("stack", lambda a, b, c: mg.stack([a, b, c], dim=-1), uniform(),
              cases([(3,), (3,), (3,)], [(2, 3), (2, 3), (2, 3)], [(), (), ()]),
              lambda a, b, c: np.stack([a, b, c], axis=-1),
              lambda a, b, c: t().stack([a, b, c], dim=-1)),
        _spec("pad", lambda x: mg.pad(x, (1, 2)), uniform(), cases([(3,)], [(2, 3)], [(2, 1, 3)]),
              lambda x: np.pad(x, [(0, 0)] * (x.ndim - 1) + [(1, 2)]),
              lambda x: _F().pad(x, (1, 2))),
        _spec("pad_2d", lambda x: mg.pad(x, (0, 1, 2, 1), value=0.5), uniform(),
              cases([(2, 3)], [(1, 2, 2, 3)]),
              lambda x: np.pad(x, [(0, 0)] * (x.ndim - 2) + [(2, 1), (0, 1)], constant_values=0.5),
              lambda x: _F().pad(x, (0, 1, 2, 1), value=0.5), covers=("pad",)),
    ]


def _index_specs():
    keys = [
        ("getitem_int", 1, [(3, 4)], [(2, 3, 2)]),
        ("getitem_slice", (slice(None, None, 2), slice(1, 4)), [(5, 4)], [(3, 5, 2)]),
        ("getitem_none_ellipsis", (None, Ellipsis, 1), [(3, 4)], [(2, 3, 2)]),
        ("getitem_neg_int", (Ellipsis, -1, slice(0, 2)), [(3, 4, 2)], [(2, 2)]),
        ("getitem_intarray", (np.array([0, 2, 0, 0]),), [(3, 4)], [(3,)]),
        ("getitem_intarray_2d", (np.array([[1, 1], [0, 2]]), slice(None), np.array([0, 0])),
         [(3, 2, 2)], [(4, 3, 1)]),
        ("getitem_bool_mask", (MASK_3x4,), [(3, 4)], [(3, 4, 2)]),
    ]
    specs = []
    for name, key, *shape_list in keys:
        specs.append(_spec(name, lambda x, k=key: x[k], uniform(), cases(*shape_list),
                           lambda x, k=key: x[k],
                           lambda x, k=key: x[tuple(_torch().as_tensor(p) if isinstance(p, np.ndarray)
                                                    else p for p in (k if isinstance(k, tuple) else (k,)))],
                           covers=("getitem",),
                           avoid="repeated indices must accumulate" if "array" in name else ""))
    setitems = [
        ("setitem_slice", (slice(None), slice(1, None, 2)), [(3, 4), (3, 2)], [(3, 4), (2,)],
         [(3, 5), ()]),
        ("setitem_intarray", (np.array([2, 0]),), [(3, 4), (2, 4)], [(4, 2), (1, 2)]),
        ("setitem_bool_mask", (MASK_3x4,), [(3, 4), (6,)], [(3, 4), ()]),
    ]
    for name, key, *shape_list in setitems:
        tkey = key

        def torch_fn(x, v, k=tkey):
            kk = tuple(_torch().as_tensor(p) if isinstance(p, np.ndarray) else p for p in k)
            return _torch_setitem(kk)(x, v)

        specs.append(_spec(name, _setitem(key), uniform(), cases(*shape_list), _np_setitem(key),
                           torch_fn, covers=("setitem",)))
    return specs


def _conv_specs():
    def conv_shapes(*c):
        return cases(*c)

    def conv_torch(stride, padding):
        return lambda x, w, b=None: _F().conv2d(x, w, b, stride=stride, padding=padding)

    specs = [
        _spec("conv2d", lambda x, w, b: conv2d(x, w, b), uniform(-1, 1),
              conv_shapes([(2, 3, 5, 5), (4, 3, 3, 3), (4,)], [(1, 1, 3, 4), (2, 1, 2, 2), (2,)]),
              lambda x, w, b: _np_conv2d(x, w, b), conv_torch(1, 0)),
        _spec("conv2d_stride_pad", lambda x, w: conv2d(x, w, stride=2, padding=1), uniform(-1, 1),
              conv_shapes([(2, 2, 6, 5), (3, 2, 3, 3)], [(1, 3, 4, 4), (2, 3, 2, 3)]),
              lambda x, w: _np_conv2d(x, w, stride=(2, 2), padding=(1, 1)), conv_torch(2, 1),
              covers=("conv2d",), avoid="(H + 2p - k) not divisible by the stride"),
        _spec("conv2d_rect", lambda x, w, b: conv2d(x, w, b, stride=(1, 3), padding=(2, 0)),
              uniform(-1, 1),
              conv_shapes([(1, 2, 3, 7), (2, 2, 3, 2), (2,)], [(2, 1, 2, 3), (1, 1, 1, 1), (1,)]),
              lambda x, w, b: _np_conv2d(x, w, b, stride=(1, 3), padding=(2, 0)),
              conv_torch((1, 3), (2, 0)), covers=("conv2d",),
              avoid="stride > kernel, 1x1 kernel"),
        _spec("conv2d_full_kernel", lambda x, w: conv2d(x, w), uniform(-1, 1),
              conv_shapes([(2, 2, 3, 3), (3, 2, 3, 3)]), lambda x, w: _np_conv2d(x, w),
              conv_torch(1, 0), covers=("conv2d",), avoid="kernel == input size"),
    ]
    pools = [
        # name suffix, kernel, stride, padding, shapes
        ("", 2, None, 0, [[(2, 3, 4, 4)], [(1, 1, 5, 3)]]),
        ("_overlap_pad", 3, 1, 1, [[(1, 2, 4, 5)], [(2, 1, 3, 3)]]),
        ("_stride_gt_kernel", (2, 1), (3, 2), (1, 0), [[(1, 2, 6, 5)], [(1, 1, 2, 3)]]),
    ]
    for fname, func, how in [("max_pool2d", max_pool2d, "max"), ("avg_pool2d", avg_pool2d, "avg")]:
        for suffix, k, s, p, shapes in pools:
            pk = (k, k) if isinstance(k, int) else k
            ps = pk if s is None else ((s, s) if isinstance(s, int) else s)
            pp = (p, p) if isinstance(p, int) else p
            specs.append(_spec(
                fname + suffix, lambda x, f=func, k=k, s=s, p=p: f(x, k, s, p),
                distinct_sampler if how == "max" else uniform(), cases(*shapes),
                lambda x, h=how, k=pk, s=ps, p=pp: _np_pool(x, k, s, p, h),
                lambda x, n=fname, k=k, s=s, p=p: getattr(_F(), n)(
                    x, k, s, p, **({"count_include_pad": True} if n == "avg_pool2d" else {})),
                covers=(fname,), avoid="ties in a window (distinct values)" if how == "max" else ""))
    return specs


def _nondiff_specs():
    specs = []
    for name, op in [("eq", "__eq__"), ("ne", "__ne__"), ("lt", "__lt__"), ("le", "__le__"),
                     ("gt", "__gt__"), ("ge", "__ge__")]:
        ufunc = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
                 "gt": np.greater, "ge": np.greater_equal}[name]

        def sample(rng, case):
            # Round to a coarse grid so that equal values actually occur.
            return tuple(np.round(rng.uniform(-2, 2, s) * 2) / 2 for s in case)

        specs.append(_spec(name, lambda a, b, o=op: getattr(a, o)(b), sample, BINARY_SHAPES, ufunc,
                           lambda a, b, o=op: getattr(a, o)(b), differentiable=False))
    for name in ("argmax", "argmin"):
        ref = getattr(np, name)
        specs.append(_spec(name, lambda x, n=name: getattr(x, n)(), distinct_sampler,
                           REDUCE_ALL_SHAPES, lambda x, r=ref: np.asarray(r(x)),
                           lambda x, n=name: getattr(x, n)(), differentiable=False))
        specs.append(_spec(f"{name}_dim", lambda x, n=name: getattr(mg, n)(x, dim=1), distinct_sampler,
                           cases([(3, 4)], [(2, 3, 4)], [(2, 1)]), lambda x, r=ref: r(x, axis=1),
                           lambda x, n=name: getattr(x, n)(dim=1), covers=(name,),
                           differentiable=False))
    return specs


CORE_SPECS = (_unary_specs() + _binary_specs() + _matmul_specs() + _reduce_specs() + _shape_specs()
              + _index_specs() + _conv_specs() + _nondiff_specs())

from .nn_opspecs import NN_SPECS  # noqa: E402  (the nn layer's entries)

ALL_SPECS = list(CORE_SPECS) + list(NN_SPECS)
SPECS_BY_NAME = {spec.name: spec for spec in ALL_SPECS}


def get_spec(name):
    """The spec called `name` (KeyError listing the valid names otherwise)."""
    try:
        return SPECS_BY_NAME[name]
    except KeyError:
        raise KeyError(f"no op spec named {name!r}; valid names: {', '.join(sorted(SPECS_BY_NAME))}") from None
