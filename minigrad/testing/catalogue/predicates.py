"""Catalogue entries of minigrad/ops/predicates.py: isnan / isinf / isfinite, isclose /
allclose, any / all (no gradient) and nan_to_num."""

import math

import numpy as np

from ..samplers import BINARY_SHAPES, REDUCE_SHAPES, cases, constant_like, torch_module, uniform
from .entry import Case, Entry

OPS = "minigrad.ops.predicates."


def _non_finite_masks(shape):
    n = int(np.prod(shape, dtype=np.int64))
    code = (np.arange(n) * 7 + 1) % 5
    return [(code == k).reshape(shape) for k in (0, 1, 2)]


def with_non_finite(x):
    """x with NaN, +inf and -inf written at fixed positions (minigrad or torch, via
    masked_fill)."""
    for m, v in zip(_non_finite_masks(tuple(x.shape)), (math.nan, math.inf, -math.inf)):
        x = x.masked_fill(constant_like(x, m), v)
    return x


def with_non_finite_np(x):
    x = x.copy()
    for m, v in zip(_non_finite_masks(x.shape), (math.nan, math.inf, -math.inf)):
        x[m] = v
    return x


def _test(name):
    np_fn = getattr(np, name)
    return Entry(name, OPS + name, torch=f"torch.{name}", order=0, cases=(
        Case(cases([(3, 4)], [(5,)]), uniform(), lambda x: np_fn(with_non_finite_np(x)),
             fn=lambda x: getattr(with_non_finite(x), name)(),
             torch_fn=lambda x: getattr(with_non_finite(x), name)()),))


def _logical(name, sample_hi, keep):
    np_fn = getattr(np, name)
    kw = {"dim": 0, "keepdim": True} if keep else {"dim": 1}
    np_kw = {"axis": 0, "keepdims": True} if keep else {"axis": 1}
    return Entry(name, OPS + name, torch=f"torch.{name}", order=0, cases=(
        Case(cases([(3, 4)], [(2, 3, 2)], [(4, 1)]), uniform(),
             lambda x: np_fn(x > sample_hi, **np_kw),
             fn=lambda x: getattr(x > sample_hi, name)(**kw),
             torch_fn=lambda x: getattr(x > sample_hi, name)(**kw)),
        Case(REDUCE_SHAPES, uniform(-0.6, 0.6) if name == "any" else uniform(0.6, 3.0),
             lambda x: np_fn(np.round(x)), fn=lambda x: getattr(x.round(), name)(),
             torch_fn=lambda x: getattr(x.round(), name)(), name=f"{name}_all_dims"),
    ))


ENTRIES = [
    _test("isnan"),
    _test("isinf"),
    _test("isfinite"),
    # No numpy reference: in float32, a + b * 1e-6 moves values across the tolerance.
    Entry("isclose", OPS + "isclose", torch="torch.isclose", order=0, cases=(
        Case(BINARY_SHAPES, uniform(), None,
             fn=lambda a, b: a.isclose(a + b * 1e-6, rtol=0, atol=1e-6),
             torch_fn=lambda a, b: a.isclose(a + b * 1e-6, rtol=0, atol=1e-6)),)),
    Entry("allclose", OPS + "allclose", torch="torch.allclose", order=0,
          note="returns a Python bool: "
               "tests/test_tensor_ops_extra.py::test_allclose_isclose_as_torch"),
    _logical("any", 1.5, keep=False),
    _logical("all", -1.5, keep=True),
    Entry("nan_to_num", OPS + "nan_to_num", torch="torch.nan_to_num", cases=(
        # No numpy reference: inf becomes the dtype's largest value, float32's differs.
        Case(cases([(3, 4)], [(2, 3, 2)], [(5,)]), uniform(), None,
             fn=lambda x: with_non_finite(x).nan_to_num(),
             torch_fn=lambda x: with_non_finite(x).nan_to_num(),
             avoid="the replaced positions get gradient 0"),
        Case(cases([(3, 4)], [(7,)]), uniform(),
             lambda x: np.nan_to_num(with_non_finite_np(x), nan=0.5, posinf=9.0, neginf=-9.0),
             fn=lambda x: with_non_finite(x).nan_to_num(nan=0.5, posinf=9.0, neginf=-9.0),
             torch_fn=lambda x: torch_module().nan_to_num(with_non_finite(x), nan=0.5, posinf=9.0,
                                                          neginf=-9.0),
             name="nan_to_num_values"),
    )),
]
