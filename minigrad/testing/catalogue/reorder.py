"""Catalogue entries of minigrad/ops/reorder.py: flip, roll, repeat, tril / triu, chunk /
split."""

import math

import numpy as np

from ..samplers import cases, is_torch, torch_module, uniform
from .entry import Case, Entry

OPS = "minigrad.ops.reorder."

MATRICES = cases([(3, 4)], [(2, 3, 3)], [(4, 2)], [(1, 1)], [(2, 1, 5)])


def op(name, **kw):
    return Entry(name, OPS + name, **kw)


def weighted_cat(pieces, dim):
    """Join pieces again, piece i scaled by i + 1 (so a gradient sent to the wrong piece
    shows); minigrad or torch."""
    import minigrad

    pieces = [p * (i + 1) for i, p in enumerate(pieces)]
    return torch_module().cat(pieces, dim) if is_torch(pieces[0]) else minigrad.cat(pieces, dim)


def weighted_cat_np(pieces, dim):
    return np.concatenate([p * (i + 1) for i, p in enumerate(pieces)], dim)


def _chunk_bounds(n, chunks):
    size = math.ceil(n / chunks)
    return list(range(size, n, size))


ENTRIES = [
    op("flip", torch="torch.flip", cases=(
        Case(cases([(3, 4)], [(5,)], [(2, 3, 2)]), uniform(), lambda x: np.flip(x, 0),
             fn=lambda x: x.flip(0), torch_fn=lambda x: x.flip(0)),
        Case(cases([(3, 4)], [(2, 3, 2)]), uniform(), lambda x: np.flip(x, (0, -1)),
             args=((0, -1),), name="flip_dims"),
    )),
    op("roll", torch="torch.roll", cases=(
        Case(cases([(3, 4)], [(5,)], [(2, 3, 2)]), uniform(), lambda x: np.roll(x, 1, 0),
             args=(1, 0)),
        Case(cases([(3, 4)], [(2, 3, 2)]), uniform(), lambda x: np.roll(x, (-1, 5), (0, 1)),
             args=((-1, 5), (0, 1)), name="roll_dims"),
        Case(cases([(3, 4)], [(5,)]), uniform(), lambda x: np.roll(x, 2), args=(2,),
             name="roll_flat"),
    )),
    op("repeat", torch="torch.Tensor.repeat", cases=(
        Case(cases([(3, 4)], [(1, 2)], [(2,)], [()]), uniform(), lambda x: np.tile(x, (2, 1, 3)),
             args=(2, 1, 3)),)),
    op("tril", torch="torch.tril", cases=(
        Case(MATRICES, uniform(), np.tril),
        Case(MATRICES, uniform(), lambda x: np.tril(x, -1), args=(-1,), name="tril_diag"),
    )),
    op("triu", torch="torch.triu", cases=(
        Case(MATRICES, uniform(), lambda x: np.triu(x, 1), args=(1,)),)),
    op("chunk", torch="torch.chunk", cases=(
        Case(cases([(2, 7)], [(3, 3)], [(2, 2, 4)], [(1, 1)]), uniform(),
             lambda x: weighted_cat_np(np.split(x, _chunk_bounds(x.shape[1], 3), 1), 1),
             fn=lambda x: weighted_cat(x.chunk(3, 1), 1),
             torch_fn=lambda x: weighted_cat(x.chunk(3, 1), 1)),)),
    op("split", torch="torch.split", cases=(
        Case(cases([(2, 5)], [(3, 4)], [(1,)]), uniform(),
             lambda x: weighted_cat_np(np.split(x, list(range(2, x.shape[-1], 2)), -1), -1),
             fn=lambda x: weighted_cat(x.split(2, -1), -1),
             torch_fn=lambda x: weighted_cat(x.split(2, -1), -1)),
        Case(cases([(6,)], [(6, 2)]), uniform(),
             lambda x: weighted_cat_np(np.split(x, [1, 4, 4], 0), 0),
             fn=lambda x: weighted_cat(x.split([1, 3, 0, 2], 0), 0),
             torch_fn=lambda x: weighted_cat(x.split([1, 3, 0, 2], 0), 0), name="split_sizes"),
    )),
]
