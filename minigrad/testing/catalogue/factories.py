"""Catalogue entries of the factories that are ops' neighbours: Tensor.new_zeros / new_ones /
new_full / new_empty (minigrad/factories.py) and the random draws mg.randperm /
mg.multinomial (minigrad/ops/sampling.py)."""

import numpy as np

from ..samplers import cases, uniform
from .entry import Case, Entry

RANDOM = ("random draws: tests/test_tensor_ops_extra.py (test_randperm_*, test_multinomial_*, "
          "test_ops_outside_the_registry_work_on_the_device)")

ENTRIES = [
    Entry("new_zeros", "minigrad.factories.new_zeros", expose=("Tensor",),
          torch="torch.Tensor.new_zeros", order=0, cases=(
              Case(cases([(3,)], [()]), uniform(), lambda x: np.zeros((2, 3)), args=(2, 3)),)),
    Entry("new_ones", "minigrad.factories.new_ones", expose=("Tensor",),
          torch="torch.Tensor.new_ones", order=0, cases=(
              Case(cases([(3,)], [(2, 2)]), uniform(), lambda x: np.ones(4), args=((4,),)),)),
    Entry("new_full", "minigrad.factories.new_full", expose=("Tensor",),
          torch="torch.Tensor.new_full", order=0, cases=(
              Case(cases([(3,)]), uniform(), lambda x: np.full((2,), 7.0), args=((2,), 7.0)),)),
    Entry("new_empty", "minigrad.factories.new_empty", expose=("Tensor",), order=0,
          note="values are unspecified (zeros here): tests/test_tensor_ops_extra.py::"
               "test_new_factories_inherit_dtype_and_device_as_torch"),
    Entry("randperm", "minigrad.ops.sampling.randperm", expose=("mg",), order=0, note=RANDOM),
    Entry("multinomial", "minigrad.ops.sampling.multinomial", expose=("mg",), order=0, note=RANDOM),
]
