"""Catalogue entries of minigrad/ops/special.py: log1p, expm1, erf, rsqrt, square, reciprocal
and the rounding family floor / ceil / round (gradient 0)."""

import math

import numpy as np

from ..samplers import UNARY_SHAPES, nonzero, positive, torch_module, uniform
from .entry import Case, Entry

OPS = "minigrad.ops.special."

_erf = np.vectorize(math.erf, otypes=[np.float64])


def away_from_integers(halves=False):
    """Values at least 0.1 from every whole number (and half-integer, for round), so
    floor / ceil / round are flat around them."""

    def sample(rng, case):
        out = []
        for shape in case:
            frac = rng.uniform(0.1, 0.4 if halves else 0.9, shape)
            if halves:
                frac = np.where(rng.random(shape) < 0.5, frac, frac + 0.5)
            out.append(rng.integers(-3, 3, shape) + frac)
        return tuple(out)

    return sample


def _unary(name, reference, sample, avoid="", order=2, **case_kw):
    return Entry(name, OPS + name, torch=f"torch.{name}", order=order,
                 cases=(Case(UNARY_SHAPES, sample, reference, avoid=avoid, **case_kw),))


ENTRIES = [
    _unary("log1p", np.log1p, uniform(-0.5, 2.0), "x > -1"),
    _unary("expm1", np.expm1, uniform()),
    _unary("erf", _erf, uniform()),
    _unary("rsqrt", lambda x: 1 / np.sqrt(x), positive(), "x > 0"),
    _unary("square", np.square, uniform()),
    _unary("reciprocal", np.reciprocal, nonzero, "x away from 0"),
    _unary("floor", np.floor, away_from_integers(), "the jumps at whole numbers", order=1),
    _unary("ceil", np.ceil, away_from_integers(), "the jumps at whole numbers", order=1),
    Entry("round", OPS + "round", torch="torch.round", order=1, cases=(
        Case(UNARY_SHAPES, away_from_integers(halves=True), np.round,
             avoid="the jumps at half-integers"),
        Case(UNARY_SHAPES, away_from_integers(halves=True), lambda x: np.round(x * 10, -1),
             fn=lambda x: (x * 10).round(decimals=-1),
             torch_fn=lambda x: torch_module().round(x * 10, decimals=-1),
             name="round_decimals", avoid="the jumps at half-integers"),
    )),
]
