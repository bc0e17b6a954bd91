"""Catalogue entries of minigrad/ops/scatter.py: gather, scatter_add, index_select,
masked_fill. The index tensors and masks are made inside fn from the input's shape."""

import numpy as np

from ..samplers import cases, constant_like, index_for, mask_for, uniform
from .entry import Case, Entry

OPS = "minigrad.ops.scatter."


def _gather_shape(shape, dim):
    """An index shape no larger than `shape` outside dim, and of another size along it."""
    out = list(shape)
    out[dim] = shape[dim] + 1
    if len(shape) > 1:
        other = (dim + 1) % len(shape)
        out[other] = max(1, shape[other] - 1)
    return tuple(out)


def _gather_index(shape, dim):
    return index_for(_gather_shape(shape, dim % len(shape)), shape[dim])


def _np_key(idx, dim):
    key = list(np.indices(idx.shape, sparse=True))
    key[dim] = idx
    return tuple(key)


def _gather(dim):
    def fn(x):
        return x.gather(dim, constant_like(x, _gather_index(tuple(x.shape), dim)))

    def ref(x):
        idx = _gather_index(x.shape, dim)
        return x[_np_key(idx, dim % x.ndim)]

    return fn, ref


def _scatter(dim):
    def fn(x, src):
        idx = index_for(tuple(src.shape), x.shape[dim])
        return x.scatter_add(dim, constant_like(x, idx), src)

    def ref(x, src):
        y = x.copy()
        np.add.at(y, _np_key(index_for(src.shape, x.shape[dim]), dim), src)
        return y

    return fn, ref


def _select(dim):
    def fn(x):
        return x.index_select(dim, constant_like(x, index_for((5,), x.shape[dim])))

    return fn, lambda x: np.take(x, index_for((5,), x.shape[dim]), dim)


def _case(make, dim, shapes, name=None, **kw):
    fn, ref = make(dim)
    return Case(shapes, uniform(), ref, fn=fn, torch_fn=fn, name=name, **kw)


GATHER_SHAPES = cases([(3, 4)], [(2, 3, 2)], [(5,)], [(1, 3)])
REPEATS = "repeated indices must accumulate"

ENTRIES = [
    Entry("gather", OPS + "gather", torch="torch.gather", cases=(
        _case(_gather, 1, cases([(3, 4)], [(2, 3, 2)], [(1, 3)]), avoid=REPEATS),
        _case(_gather, 0, GATHER_SHAPES, "gather_dim0"),
        _case(_gather, -1, GATHER_SHAPES, "gather_last"),
    )),
    Entry("scatter_add", OPS + "scatter_add", torch="torch.scatter_add", cases=(
        _case(_scatter, 0, cases([(3, 4), (5, 4)], [(3, 4), (2, 3)], [(4,), (6,)],
                                 [(2, 3, 2), (3, 3, 1)]), avoid=REPEATS),
        _case(_scatter, 1, cases([(3, 4), (3, 6)], [(2, 3, 2), (1, 5, 2)]), "scatter_add_dim1"),
    )),
    Entry("index_select", OPS + "index_select", torch="torch.index_select", cases=(
        _case(_select, 0, cases([(3, 4)], [(4,)], [(2, 3, 2)]), avoid=REPEATS),
        _case(_select, 1, cases([(3, 4)], [(2, 3, 2)]), "index_select_dim1"),
    )),
    Entry("masked_fill", OPS + "masked_fill", torch="torch.masked_fill", cases=(
        Case(cases([(3, 4)], [(5,)], [(2, 3, 2)]), uniform(),
             lambda x: np.where(mask_for(x.shape[-1:]), 0.5, x),
             fn=lambda x: x.masked_fill(constant_like(x, mask_for(tuple(x.shape[-1:]))), 0.5),
             torch_fn=lambda x: x.masked_fill(constant_like(x, mask_for(tuple(x.shape[-1:]))), 0.5),
             avoid="the mask broadcasts over the leading dims"),
        Case(cases([(3, 4), ()], [(2, 3, 2), ()]), uniform(),
             lambda x, v: np.where(mask_for(x.shape), v, x),
             fn=lambda x, v: x.masked_fill(constant_like(x, mask_for(tuple(x.shape))), v),
             torch_fn=lambda x, v: x.masked_fill(constant_like(x, mask_for(tuple(x.shape))), v),
             name="masked_fill_tensor", avoid="a 0-d value tensor gets the masked gradient's sum"),
    )),
]
