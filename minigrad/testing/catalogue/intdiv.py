"""Catalogue entries of minigrad/ops/intdiv.py: remainder (%) and floor_divide (//)."""

import numpy as np

from ..samplers import UNARY_SHAPES, cases, torch_module
from .entry import Case, Entry

OPS = "minigrad.ops.intdiv."

# a has the broadcast shape of each pair, so every a / b is kept away from whole numbers.
SHAPES = cases([(3, 4), (3, 4)], [(3, 4), (4,)], [(2, 3), ()], [(2, 3, 4), (3, 1)], [(5,), (1,)],
               [(), ()])


def quotient_sampler(rng, case):
    """a, b with b away from 0 and a / b at least 0.1 from whole numbers (where a % b and
    a // b jump)."""
    sa, sb = case
    b = np.where(rng.random(sb) < 0.5, -1.0, 1.0) * rng.uniform(0.5, 2.0, sb)
    q = rng.integers(-3, 3, sa) + rng.uniform(0.1, 0.9, sa)
    return q * np.broadcast_to(b, sa), b


def _multiples_of(step):
    def sample(rng, case):
        return tuple((rng.integers(-4, 4, s) + rng.uniform(0.1, 0.9, s)) * step for s in case)

    return sample


def _dividing(numerator):
    """x such that numerator / x is at least 0.1 from whole numbers (and |x| >= 0.8)."""

    def sample(rng, case):
        out = []
        for s in case:
            q = np.where(rng.random(s) < 0.5, -1.0, 1.0) * (1 + rng.integers(0, 3, s)
                                                            + rng.uniform(0.1, 0.9, s))
            out.append(numerator / q)
        return tuple(out)

    return sample


ENTRIES = [
    Entry("remainder", OPS + "remainder", operator="__mod__", torch="torch.remainder", cases=(
        Case(SHAPES, quotient_sampler, np.remainder, fn=lambda a, b: a % b,
             torch_fn=lambda a, b: a % b, avoid="a / b away from whole numbers"),
        Case(UNARY_SHAPES, _multiples_of(0.7), lambda x: np.remainder(x, 0.7), args=(0.7,),
             name="remainder_scalar", avoid="x / 0.7 away from whole numbers"),
        Case(UNARY_SHAPES, _dividing(4.0), lambda x: np.remainder(4.0, x),
             fn=lambda x: 4.0 % x, name="remainder_reflected",
             # torch has no derivative for number % tensor; tensor % tensor is the same value
             torch_fn=lambda x: torch_module().full_like(x, 4.0) % x,
             avoid="4 / x away from whole numbers"),
    )),
    Entry("floor_divide", OPS + "floor_divide", operator="__floordiv__",
          torch="torch.floor_divide", order=0, cases=(
              Case(SHAPES, quotient_sampler, np.floor_divide, fn=lambda a, b: a // b,
                   torch_fn=lambda a, b: a // b),
              Case(UNARY_SHAPES, _dividing(3.0), lambda x: np.floor_divide(3.0, x),
                   fn=lambda x: 3.0 // x, torch_fn=lambda x: 3.0 // x,
                   name="floor_divide_reflected"),
          )),
]
