"""Catalogue entries of indexing (minigrad/ops/indexing.py): x[key] and x[key] = value with
ints, slices, None, Ellipsis, integer arrays and boolean masks."""

import numpy as np

from ..samplers import cases, np_setitem, setitem, torch_module, torch_setitem, uniform
from .entry import Case, Entry

OPS = "minigrad.ops.indexing."

MASK_3x4 = np.array([[True, False, True, True], [False, False, False, True],
                     [True, True, False, False]])


def _torch_key(key):
    key = key if isinstance(key, tuple) else (key,)
    return tuple(torch_module().as_tensor(p) if isinstance(p, np.ndarray) else p for p in key)


def _get(name, key, *shape_list, second_order=None):
    return Case(cases(*shape_list), uniform(), lambda x: x[key], fn=lambda x: x[key],
                torch_fn=lambda x: x[_torch_key(key)], name=name, second_order=second_order,
                avoid="repeated indices must accumulate" if "array" in name else "")


def _set(name, key, *shape_list, second_order=None):
    return Case(cases(*shape_list), uniform(), np_setitem(key), fn=setitem(key),
                torch_fn=lambda x, v: torch_setitem(_torch_key(key))(x, v), name=name,
                second_order=second_order)


ENTRIES = [
    Entry("getitem", OPS + "getitem", expose=(), operator="__getitem__",
          torch="torch.Tensor.__getitem__", cases=(
              _get("getitem_int", 1, [(3, 4)], [(2, 3, 2)], second_order=False),
              _get("getitem_slice", (slice(None, None, 2), slice(1, 4)), [(5, 4)], [(3, 5, 2)],
                   second_order=True),
              _get("getitem_none_ellipsis", (None, Ellipsis, 1), [(3, 4)], [(2, 3, 2)]),
              _get("getitem_neg_int", (Ellipsis, -1, slice(0, 2)), [(3, 4, 2)], [(2, 2)]),
              _get("getitem_intarray", (np.array([0, 2, 0, 0]),), [(3, 4)], [(3,)],
                   second_order=True),
              _get("getitem_intarray_2d", (np.array([[1, 1], [0, 2]]), slice(None), np.array([0, 0])),
                   [(3, 2, 2)], [(4, 3, 1)]),
              _get("getitem_bool_mask", (MASK_3x4,), [(3, 4)], [(3, 4, 2)]),
          )),
    Entry("setitem", OPS + "index_put", expose=(), operator="__setitem__",
          torch="torch.Tensor.__setitem__", cases=(
              _set("setitem_slice", (slice(None), slice(1, None, 2)), [(3, 4), (3, 2)],
                   [(3, 4), (2,)], [(3, 5), ()], second_order=True),
              _set("setitem_intarray", (np.array([2, 0]),), [(3, 4), (2, 4)], [(4, 2), (1, 2)]),
              _set("setitem_bool_mask", (MASK_3x4,), [(3, 4), (6,)], [(3, 4), ()]),
          )),
]
