"""Catalogue entries of the reductions (minigrad/ops/reduce.py): sum, mean, max/min,
var/std, logsumexp, softmax/log_softmax, argmax/argmin."""

import numpy as np

from ..samplers import (
    REDUCE_ALL_SHAPES, REDUCE_SHAPES, cases, distinct_sampler, np_logsumexp, np_softmax,
    torch_module, uniform,
)
from .entry import Case, Entry

OPS = "minigrad.ops.reduce."


def op(name, **kw):
    """An entry whose public function is minigrad.ops.reduce.<name>."""
    return Entry(name, OPS + name, **kw)


def _sum_like(name, ref):
    return op(name, torch=f"torch.{name}", cases=(
        Case(REDUCE_ALL_SHAPES, uniform(), ref),
        Case(REDUCE_SHAPES, uniform(), lambda x: ref(x, axis=-1, keepdims=True),
             kwargs={"dim": -1, "keepdim": True}, name=f"{name}_dim", second_order=name == "sum"),
        Case(cases([(3, 4)], [(2, 3, 4)], [(1, 3, 1)]), uniform(), lambda x: ref(x, axis=(0, -1)),
             kwargs={"axis": (0, -1)}, name=f"{name}_dims",
             torch_fn=lambda x: getattr(torch_module(), name)(x, dim=(0, -1))),
    ))


def _extremum(name, ref):
    """max / min: no dim gives a 0-d tensor; an int dim gives (values, indices), whose values
    are checked here (indices: tests/test_pytorch_habits.py)."""
    return op(name, torch=f"torch.{name}", cases=(
        Case(REDUCE_ALL_SHAPES, distinct_sampler, ref, avoid="ties (distinct values)"),
        Case(REDUCE_SHAPES, distinct_sampler, lambda x: ref(x, axis=0),
             fn=lambda x: getattr(_ops(), name)(x, dim=0).values,
             torch_fn=lambda x: getattr(torch_module(), name)(x, dim=0).values,
             name=f"{name}_dim", second_order=name == "max", avoid="ties (distinct values)"),
        Case(cases([(2, 3, 4)], [(3, 1, 2)]), distinct_sampler,
             lambda x: ref(x, axis=1, keepdims=True),
             fn=lambda x: getattr(_ops(), name)(x, 1, keepdim=True).values,
             torch_fn=lambda x: getattr(torch_module(), name)(x, 1, keepdim=True).values,
             name=f"{name}_dim_keepdim", avoid="ties (distinct values)"),
    ))


def _ops():
    from ... import ops

    return ops


def _spread(name, ref):
    shapes = cases([(5,)], [(3, 4)], [(2, 3, 4)], [(2, 4)])
    return op(name, torch=f"torch.{name}", cases=(
        Case(shapes, uniform(), lambda x: ref(x, ddof=1), second_order=False),
        Case(shapes, uniform(), lambda x: ref(x, axis=-1, ddof=0, keepdims=True),
             kwargs={"dim": -1, "correction": 0, "keepdim": True}, name=f"{name}_dim",
             second_order=True),
    ))


def _arg(name):
    ref = getattr(np, name)
    return op(name, torch=f"torch.{name}", order=0, cases=(
        Case(REDUCE_ALL_SHAPES, distinct_sampler, lambda x: np.asarray(ref(x))),
        Case(cases([(3, 4)], [(2, 3, 4)], [(2, 1)]), distinct_sampler, lambda x: ref(x, axis=1),
             kwargs={"dim": 1}, name=f"{name}_dim"),
    ))


ENTRIES = [
    _sum_like("sum", np.sum),
    _sum_like("mean", np.mean),
    _extremum("max", np.max),
    _extremum("min", np.min),
    _spread("var", np.var),
    _spread("std", np.std),
    op("logsumexp", torch="torch.logsumexp", cases=(
        Case(REDUCE_ALL_SHAPES, uniform(-3, 3), np_logsumexp, second_order=False,
             torch_fn=lambda x: torch_module().logsumexp(x, dim=tuple(range(x.ndim)))),
        Case(cases([(3, 4)], [(2, 3, 4)], [(4, 1)]), uniform(-3, 3),
             lambda x: np_logsumexp(x, axis=1, keepdims=True), kwargs={"dim": 1, "keepdim": True},
             name="logsumexp_dim", second_order=True),
    )),
    op("softmax", expose=("mg", "Tensor", "F"), F_impl="minigrad.nn.functional.softmax",
       nn="activation.Softmax", torch="torch.softmax", cases=(
           Case(REDUCE_SHAPES, uniform(-3, 3), lambda x: np_softmax(x, -1), args=(-1,)),
           Case(REDUCE_SHAPES, uniform(-3, 3), lambda x: np_softmax(x, 0), args=(0,),
                name="softmax_dim0"),
       )),
    op("log_softmax", expose=("mg", "Tensor", "F"), F_impl="minigrad.nn.functional.log_softmax",
       nn="activation.LogSoftmax", torch="torch.log_softmax", cases=(
           Case(cases([(3, 4)], [(2, 3, 4)], [(4, 1)], [(1, 5)]), uniform(-3, 3),
                lambda x: np.log(np_softmax(x, 1)), kwargs={"dim": 1}),
       )),
    _arg("argmax"),
    _arg("argmin"),
]
