"""Catalogue entries of minigrad/ops/linalg_extra.py: mm, bmm, dot, outer and einsum (one
case per equation people write)."""

import numpy as np

from ..samplers import cases, torch_module, uniform
from .entry import Case, Entry

OPS = "minigrad.ops.linalg_extra."

EQUATIONS = [
    ("ij,jk->ik", [[(3, 4), (4, 2)], [(1, 3), (3, 1)]]),
    ("bij,bjk->bik", [[(2, 3, 4), (2, 4, 2)], [(1, 2, 3), (3, 3, 2)]]),
    ("i,i->", [[(4,), (4,)]]),
    ("i,j->ij", [[(3,), (4,)]]),
    ("ij,kj->ik", [[(3, 4), (2, 4)]]),
    ("bij,jk->bik", [[(2, 3, 4), (4, 5)]]),
    ("ij,ij->i", [[(3, 4), (3, 4)]]),
    ("ij,jk", [[(2, 3), (3, 4)]]),
    ("bhqd,bhkd->bhqk", [[(2, 1, 3, 4), (2, 1, 2, 4)]]),
    ("ij->ji", [[(3, 4)]]),
    ("ij->j", [[(3, 4)]]),
    ("ijk,ik->j", [[(2, 3, 4), (2, 4)]]),
]


def _spec_name(equation):
    return "einsum_" + equation.replace(",", "_").replace("->", "_to_")


def _einsum_case(i, equation, shape_list):
    import minigrad

    return Case(cases(*shape_list), uniform(), lambda *xs: np.einsum(equation, *xs),
                fn=lambda *xs: minigrad.einsum(equation, *xs),
                torch_fn=lambda *xs: torch_module().einsum(equation, *xs),
                name=None if i == 0 else _spec_name(equation),
                second_order=i in (0, 1))


ENTRIES = [
    Entry("mm", OPS + "mm", torch="torch.mm", cases=(
        Case(cases([(3, 4), (4, 2)], [(1, 1), (1, 3)]), uniform(), np.matmul),)),
    Entry("bmm", OPS + "bmm", torch="torch.bmm", cases=(
        Case(cases([(2, 3, 4), (2, 4, 2)], [(1, 1, 2), (1, 2, 3)]), uniform(), np.matmul),)),
    Entry("dot", OPS + "dot", torch="torch.dot", cases=(
        Case(cases([(4,), (4,)], [(1,), (1,)]), uniform(), np.dot),)),
    Entry("outer", OPS + "outer", torch="torch.outer", cases=(
        Case(cases([(3,), (4,)], [(1,), (2,)]), uniform(), np.outer),)),
    Entry("einsum", OPS + "einsum", expose=("mg",), torch="torch.einsum",
          cases=tuple(_einsum_case(i, eq, shapes) for i, (eq, shapes) in enumerate(EQUATIONS))),
]
