"""Catalogue entries of minigrad/ops/sorting.py: sort, argsort, topk. Values are compared
(and differentiated) through `.values`; the indices get cases of their own."""

import numpy as np

from ..samplers import cases, distinct_sampler, torch_module
from .entry import Case, Entry

OPS = "minigrad.ops.sorting."

SHAPES = cases([(3, 4)], [(5,)], [(2, 3, 2)], [(1, 3)], [(4, 1)])
TIES = "ties (distinct values)"

ENTRIES = [
    Entry("sort", OPS + "sort", torch="torch.sort", cases=(
        Case(SHAPES, distinct_sampler, lambda x: np.sort(x, -1), fn=lambda x: x.sort().values,
             torch_fn=lambda x: x.sort().values, avoid=TIES),
        Case(SHAPES, distinct_sampler, lambda x: -np.sort(-x, 0),
             fn=lambda x: x.sort(dim=0, descending=True)[0],
             torch_fn=lambda x: torch_module().sort(x, dim=0, descending=True)[0],
             name="sort_desc", avoid=TIES),
    )),
    Entry("topk", OPS + "topk", torch="torch.topk", cases=(
        Case(cases([(3, 4)], [(5,)], [(2, 3, 2)], [(1, 3)]), distinct_sampler,
             lambda x: -np.sort(-x, -1)[..., :2], fn=lambda x: x.topk(2, dim=-1).values,
             torch_fn=lambda x: x.topk(2, dim=-1).values, avoid=TIES),
        Case(cases([(3, 4)], [(5,)], [(2, 3, 2)]), distinct_sampler, lambda x: np.sort(x, 0)[:1],
             fn=lambda x: x.topk(1, dim=0, largest=False)[0],
             torch_fn=lambda x: torch_module().topk(x, 1, dim=0, largest=False)[0],
             name="topk_smallest", avoid=TIES),
    )),
    Entry("argsort", OPS + "argsort", torch="torch.argsort", order=0, cases=(
        Case(SHAPES, distinct_sampler, lambda x: np.argsort(x, -1)),
        Case(SHAPES, distinct_sampler, lambda x: np.argsort(-x, 0),
             kwargs={"dim": 0, "descending": True}, name="argsort_desc"),
        # sort's and topk's indices (their entries are differentiable, so the indices of
        # those calls are checked here, as order-0 cases).
        Case(cases([(3, 4)], [(2, 3, 2)]), distinct_sampler, lambda x: np.argsort(-x, 1),
             fn=lambda x: x.sort(1, descending=True).indices,
             torch_fn=lambda x: x.sort(1, descending=True).indices, name="sort_indices"),
        Case(cases([(3, 4)], [(2, 5, 2)]), distinct_sampler, lambda x: np.argsort(-x, 1)[:, :3],
             fn=lambda x: x.topk(3, 1).indices, torch_fn=lambda x: x.topk(3, 1).indices,
             name="topk_indices"),
    )),
]
