"""Catalogue entries of the element-wise ops (minigrad/ops/elementwise.py): arithmetic,
unary math, activations, comparisons and logical ops."""

import numpy as np

from ..samplers import (
    BINARY_SHAPES, UNARY_SHAPES, away_from, cases, nonzero, nonzero_denominator, np_sigmoid,
    positive, pow_tensor_sampler, separated_pair, torch_module, uniform, where_sampler,
)
from .entry import Case, Entry

OPS = "minigrad.ops.elementwise."


def op(name, **kw):
    """An entry whose public function is minigrad.ops.elementwise.<name>."""
    return Entry(name, OPS + name, **kw)


def _unary(name, reference, sample, avoid="", torch=None, **kw):
    return op(name, torch=torch or f"torch.{name}",
              cases=(Case(UNARY_SHAPES, sample, reference, avoid=avoid),), **kw)


def _scalar_arith(x):
    return (2.0 - x * 1.5 + 0.5) / 4.0 - 3.0 / (x + 3.0)


def _grid(rng, case):
    """Values on a coarse grid, so that equal values (and zeros) actually occur."""
    return tuple(np.round(rng.uniform(-2, 2, s) * 2) / 2 for s in case)


def _comparison(name, operator, ufunc):
    return op(name, operator=operator, torch=f"torch.{name}", order=0,
              cases=(Case(BINARY_SHAPES, _grid, ufunc),))


def _logical(name, ufunc):
    # On the float samples themselves (the grid has zeros: nonzero is True), and on bools.
    def fn(a, b, f=name):
        return getattr(_ops(), f)(a > 0, b > 0)

    def torch_fn(a, b, f=name):
        return getattr(torch_module(), f)(a > 0, b > 0)

    return op(name, torch=f"torch.{name}", order=0, cases=(
        Case(BINARY_SHAPES, _grid, ufunc),
        Case(BINARY_SHAPES, _grid, lambda a, b: ufunc(a > 0, b > 0), fn=fn, torch_fn=torch_fn,
             name=f"{name}_bool"),
    ))


def _bitwise(name, operator, ufunc):
    # Integers from the grid (-4..4, negatives included), and bools.
    def ints(t):
        return (t * 2).long()

    return op(name, operator=operator, torch=f"torch.{name}", order=0, cases=(
        Case(BINARY_SHAPES, _grid, lambda a, b: ufunc((a * 2).astype(np.int64), (b * 2).astype(np.int64)),
             fn=lambda a, b: getattr(_ops(), name)(ints(a), ints(b)),
             torch_fn=lambda a, b: getattr(torch_module(), name)(ints(a), ints(b))),
        Case(BINARY_SHAPES, _grid, lambda a, b: ufunc(a > 0, b > 0),
             fn=lambda a, b: getattr(_ops(), name)(a > 0, b > 0),
             torch_fn=lambda a, b: getattr(torch_module(), name)(a > 0, b > 0), name=f"{name}_bool"),
    ))


ENTRIES = [
    _unary("neg", np.negative, uniform(), operator="__neg__"),
    _unary("exp", np.exp, uniform()),
    _unary("log", np.log, positive(), "log needs x > 0"),
    _unary("sqrt", np.sqrt, positive(), "sqrt needs x > 0 (infinite slope at 0)"),
    _unary("abs", np.abs, nonzero, "abs kink at 0", operator="__abs__"),
    _unary("sign", np.sign, nonzero, "sign jumps at 0 (derivative 0 elsewhere)", order=1),
    _unary("sin", np.sin, uniform(-3, 3)),
    _unary("cos", np.cos, uniform(-3, 3)),
    _unary("relu", lambda x: np.maximum(x, 0), nonzero, "relu kink at 0", expose=("mg", "Tensor", "F"),
           F_impl="minigrad.nn.functional.relu", nn="activation.ReLU"),
    _unary("sigmoid", np_sigmoid, uniform(-4, 4), expose=("mg", "Tensor", "F"),
           F_impl="minigrad.nn.functional.sigmoid", nn="activation.Sigmoid"),
    _unary("tanh", np.tanh, uniform(-2, 2), expose=("mg", "Tensor", "F"),
           F_impl="minigrad.nn.functional.tanh", nn="activation.Tanh"),
    _unary("clone", np.copy, uniform()),
    op("leaky_relu", expose=("mg", "Tensor", "F"), F_impl="minigrad.nn.functional.leaky_relu",
       nn="activation.LeakyReLU", torch="torch.nn.functional.leaky_relu", cases=(
           Case(UNARY_SHAPES, nonzero, lambda x: np.where(x > 0, x, 0.1 * x), args=(0.1,),
                avoid="kink at 0"),)),
    op("clamp", aliases=("clip",), torch="torch.clamp", cases=(
        Case(UNARY_SHAPES, away_from([-0.5, 0.7]), lambda x: np.clip(x, -0.5, 0.7),
             args=(-0.5, 0.7), avoid="kinks at both bounds"),
        Case(UNARY_SHAPES, away_from([0.2]), lambda x: np.maximum(x, 0.2), kwargs={"min": 0.2},
             name="clamp_min", avoid="kink at the bound"),
    )),
    op("add", operator="__add__", torch="torch.add", cases=(
        Case(BINARY_SHAPES, uniform(), np.add),
        Case(UNARY_SHAPES, uniform(-1, 1), _scalar_arith, fn=_scalar_arith, torch_fn=_scalar_arith,
             name="scalar_arith", avoid="reflected operators with Python scalars"),
    )),
    op("sub", operator="__sub__", torch="torch.sub", cases=(Case(BINARY_SHAPES, uniform(), np.subtract),)),
    op("mul", operator="__mul__", torch="torch.mul", cases=(Case(BINARY_SHAPES, uniform(), np.multiply),)),
    op("div", operator="__truediv__", torch="torch.div", cases=(
        Case(BINARY_SHAPES, nonzero_denominator, np.divide, avoid="denominator away from 0"),)),
    op("pow", operator="__pow__", torch="torch.pow", cases=(
        Case(BINARY_SHAPES, pow_tensor_sampler, np.power,
             avoid="positive base (the exponent grad needs log(base))"),
        Case(UNARY_SHAPES, uniform(), lambda x: x ** 3, fn=lambda x: x ** 3,
             torch_fn=lambda x: x ** 3, name="pow_scalar", second_order=True,
             avoid="integer exponent: any sign of base"),
        Case(UNARY_SHAPES, positive(), lambda x: x ** -1.5, args=(-1.5,), name="pow_scalar_frac",
             avoid="fractional exponent needs x > 0"),
        Case(UNARY_SHAPES, uniform(), lambda x: 2.0 ** x, fn=lambda x: 2.0 ** x,
             torch_fn=lambda x: 2.0 ** x, name="rpow"),
    )),
    op("maximum", torch="torch.maximum", cases=(
        Case(BINARY_SHAPES, separated_pair, np.maximum, avoid="ties"),)),
    op("minimum", torch="torch.minimum", cases=(
        Case(BINARY_SHAPES, separated_pair, np.minimum, avoid="ties"),)),
    op("where", expose=("mg",), torch="torch.where", cases=(
        Case(cases([(3, 4), (3, 4), (3, 4)], [(3, 1), (1, 4), (4,)], [(), (2, 3), ()],
                   [(2, 3, 1), (3, 4), (1,)]),
             where_sampler, lambda c, a, b: np.where(c > 0, a, b),
             fn=lambda c, a, b: _ops().where(c > 0, a, b),
             torch_fn=lambda c, a, b: torch_module().where(c > 0, a, b),
             avoid="the condition input (compared with 0) stays away from 0"),)),
    _comparison("eq", "__eq__", np.equal),
    _comparison("ne", "__ne__", np.not_equal),
    _comparison("lt", "__lt__", np.less),
    _comparison("le", "__le__", np.less_equal),
    _comparison("gt", "__gt__", np.greater),
    _comparison("ge", "__ge__", np.greater_equal),
    _logical("logical_and", np.logical_and),
    _logical("logical_or", np.logical_or),
    _logical("logical_xor", np.logical_xor),
    op("logical_not", torch="torch.logical_not", order=0, cases=(
        Case(UNARY_SHAPES, _grid, np.logical_not),)),
    _bitwise("bitwise_and", "__and__", np.bitwise_and),
    _bitwise("bitwise_or", "__or__", np.bitwise_or),
    _bitwise("bitwise_xor", "__xor__", np.bitwise_xor),
    op("bitwise_not", operator="__invert__", torch="torch.bitwise_not", order=0, cases=(
        Case(UNARY_SHAPES, _grid, lambda x: np.invert((x * 2).astype(np.int64)),
             fn=lambda x: _ops().bitwise_not((x * 2).long()),
             torch_fn=lambda x: torch_module().bitwise_not((x * 2).long())),
        Case(UNARY_SHAPES, _grid, lambda x: np.invert(x > 0), fn=lambda x: _ops().bitwise_not(x > 0),
             torch_fn=lambda x: torch_module().bitwise_not(x > 0), name="bitwise_not_bool"),
    )),
]


def _ops():
    from ... import ops

    return ops
