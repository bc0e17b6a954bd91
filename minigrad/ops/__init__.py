"""Every differentiable op, one module per family, each public function next to its Op class.

The names of this package and the Tensor methods are derived from the op catalogue
(minigrad/testing/catalogue): `ops.exp` is minigrad.ops.elementwise.exp, and so on.
"""

from ..tensor import Tensor
from ..testing import catalogue as _catalogue
from . import (  # noqa: F401
    conv, elementwise, indexing, intdiv, linalg, linalg_extra, predicates, reduce, reduce_extra,
    reorder, sampling, scatter, shape, sorting, special,
)
from .indexing import getitem, index_put  # noqa: F401  (Tensor.__getitem__ / __setitem__)

globals().update(_catalogue.exports("ops"))
_catalogue.install_methods(Tensor)

# Tensor's arithmetic operators forward to these functions through `_ops()` (tensor.py cannot
# import this package at its own import time). The commonest ones are replaced by the
# functions themselves: same behaviour, one Python call less per `a * b` (a measurable share
# of a small op's cost).
Tensor.__add__ = elementwise.add
Tensor.__sub__ = elementwise.sub
Tensor.__mul__ = elementwise.mul
Tensor.__truediv__ = elementwise.div
del Tensor
