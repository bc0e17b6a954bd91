"""Catalogue entries of the matrix products (minigrad/ops/linalg.py)."""

import numpy as np

from ..samplers import cases, uniform
from .entry import Case, Entry

OPS = "minigrad.ops.linalg."

ENTRIES = [
    Entry("matmul", OPS + "matmul", operator="__matmul__", torch="torch.matmul", cases=(
        Case(cases([(3, 4), (4, 2)], [(1, 4), (4, 1)], [(2, 3, 4), (2, 4, 5)],
                   [(2, 1, 3, 4), (5, 4, 2)], [(2, 3, 4), (4, 2)], [(4,), (4,)], [(4,), (4, 3)],
                   [(3, 4), (4,)], [(2, 3, 4), (4,)], [(4,), (2, 4, 3)], [(6, 5, 4), (4, 3)]),
             uniform(), np.matmul),)),
]
