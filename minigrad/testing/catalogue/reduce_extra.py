"""Catalogue entries of minigrad/ops/reduce_extra.py: amax / amin, cumsum, norm."""

import math

import numpy as np

from ..samplers import (
    REDUCE_SHAPES, abs_distinct, cases, distinct_sampler, nonzero, torch_module, uniform,
)
from .entry import Case, Entry

OPS = "minigrad.ops.reduce_extra."
TIES = "ties (distinct values)"


def op(name, **kw):
    return Entry(name, OPS + name, **kw)


ENTRIES = [
    op("amax", torch="torch.amax", cases=(
        Case(cases([()], [(5,)], [(3, 4)]), distinct_sampler, np.max, avoid=TIES),
        Case(cases([(2, 3, 4)], [(3, 1, 2)]), distinct_sampler,
             lambda x: np.max(x, (0, 2), keepdims=True), kwargs={"dim": (0, 2), "keepdim": True},
             name="amax_dims", avoid=TIES),
    )),
    op("amin", torch="torch.amin", cases=(
        Case(REDUCE_SHAPES, distinct_sampler, lambda x: np.min(x, -1), kwargs={"dim": -1},
             avoid=TIES),)),
    op("cumsum", torch="torch.cumsum", cases=(
        Case(cases([(3, 4)], [(2, 3, 2)], [(4, 1)]), uniform(), lambda x: np.cumsum(x, 1),
             args=(1,)),
        Case(cases([(5,)], [(3, 4)], [()]), uniform(), lambda x: np.cumsum(x, 0).reshape(x.shape),
             args=(0,), name="cumsum_dim0"),
    )),
    op("norm", torch="torch.norm", cases=(
        Case(cases([(5,)], [(3, 4)], [(2, 3, 2)], [()]), uniform(),
             lambda x: np.sqrt((x * x).sum())),
        Case(cases([(3, 4)], [(2, 3, 2)]), uniform(),
             lambda x: np.sqrt((x * x).sum(1, keepdims=True)),
             args=(2,), kwargs={"dim": 1, "keepdim": True}, name="norm_dim"),
        Case(cases([(3, 4)], [(5,)]), nonzero, lambda x: np.abs(x).sum(0),
             kwargs={"p": 1, "dim": 0}, name="norm_p1", avoid="the kink of |x| at 0"),
        Case(cases([(3, 4)], [(5,)], [(2, 3, 2)]), abs_distinct, lambda x: np.abs(x).max(-1),
             kwargs={"p": math.inf, "dim": -1}, name="norm_inf", avoid="ties in |x|"),
        Case(cases([(3, 4)], [(5,)]), abs_distinct, lambda x: np.abs(x).min(), args=(-math.inf,),
             name="norm_neg_inf", avoid="ties in |x|, x away from 0"),
        Case(cases([(3, 4)], [(2, 3, 2)]), nonzero,
             lambda x: (np.abs(x) ** 3).sum((0, 1)) ** (1 / 3),
             args=(3,), kwargs={"dim": (0, 1)}, name="norm_p3",
             torch_fn=lambda x: torch_module().norm(x, 3, dim=(0, 1))),
    )),
]
