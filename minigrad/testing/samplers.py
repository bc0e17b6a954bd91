"""Samplers, shape lists and numpy references shared by the op catalogue's cases.

Samplers take a numpy Generator and a shape case (a tuple of input shapes) and return the
inputs as float64 arrays, kept away from the op's kinks (relu/abs at 0, clamp bounds, ties
in max/maximum/max-pool, log/sqrt near 0) instead of loosening tolerances. numpy only: the
catalogue is imported by `import minigrad` (it derives the exports), so nothing here may
import torch or hypothesis at module level.
"""

import numpy as np


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


def np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis) if axis is not None else out.reshape(())


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_pool(x, k, s, p, how):
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


def np_conv2d(x, w, b=None, stride=(1, 1), padding=(0, 0)):
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


def setitem(key):
    def fn(x, v):
        y = x.clone()
        y[key] = v
        return y

    return fn


def np_setitem(key):
    def ref(x, v):
        y = x.copy()
        y[key] = v
        return y

    return ref


def torch_setitem(key):
    def fn(x, v):
        y = x.clone()
        y[key] = v
        return y

    return fn


MASK_3x4 = np.array([[True, False, True, True], [False, False, False, True], [True, True, False, False]])


def torch_module():
    """torch, imported lazily (torch_fn callables only run in the torch oracle tests)."""
    import torch

    return torch


def torch_call(name):
    """torch_fn calling torch.<name>(*tensors)."""
    return lambda *a: getattr(torch_module(), name)(*a)


def torch_F():  # noqa: N802
    return torch_module().nn.functional




def as_float64(sample):
    """Make every sampled input a float64 ndarray (rng draws of shape () are numpy scalars)."""

    def wrapped(rng, case):
        return tuple(np.asarray(a, dtype=np.float64) for a in sample(rng, case))

    return wrapped


# ---------------------------------------------------------------------------- constants in fn
# Index tensors, masks and the like are not inputs (not differentiable): a case's fn derives
# them from the input's shape, so fn, reference and torch_fn agree, and makes them on the
# input's device (minigrad) or as a torch tensor (torch).


def is_torch(x):
    return type(x).__module__.startswith("torch")


def constant_like(x, array):
    """`array` as a constant tensor of x's library and device (minigrad or torch)."""
    if is_torch(x):
        return torch_module().as_tensor(array)
    import minigrad

    return minigrad.tensor(array, device=x.device)


def index_for(shape, high, seed=0):
    """A fixed int64 index array of `shape` with values in [0, high), repeats included."""
    rng = np.random.default_rng(seed + 7 * len(shape) + sum(shape))
    return rng.integers(0, high, shape).astype(np.int64)


def mask_for(shape, seed=0):
    """A fixed bool mask of `shape` with both values present (when it has 2+ elements)."""
    n = int(np.prod(shape, dtype=np.int64))
    return ((np.arange(n) * 5 + seed) % 3 == 0).reshape(shape)


def abs_distinct(rng, case):
    """Values with distinct |x| >= 0.3 and random signs (no ties in max |x|, no kink at 0)."""
    out = []
    for shape in case:
        n = int(np.prod(shape, dtype=np.int64))
        size = 0.3 + rng.permutation(n) * 0.25 + rng.uniform(-0.05, 0.05, n)
        out.append((np.where(rng.random(n) < 0.5, -1.0, 1.0) * size).reshape(shape))
    return tuple(out)
