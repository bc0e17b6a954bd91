"""Catalogue entries of the shape ops (minigrad/ops/shape.py): reshape/view, flatten,
transpose/permute/T, squeeze/unsqueeze, expand/broadcast_to, cat/stack, pad."""

import numpy as np

from ..samplers import cases, torch_module, uniform
from .entry import Case, Entry

OPS = "minigrad.ops.shape."


def op(name, **kw):
    """An entry whose public function is minigrad.ops.shape.<name>."""
    return Entry(name, OPS + name, **kw)


def _ops():
    from ... import ops

    return ops


ENTRIES = [
    op("reshape", torch="torch.Tensor.reshape", cases=(
        Case(cases([(2, 6)], [(2, 3, 4)], [(4,)]), uniform(), lambda x: x.reshape(4, -1),
             args=(4, -1)),
        Case(cases([()], [(1,)]), uniform(), lambda x: x.reshape(1, 1), args=((1, 1),),
             name="reshape_0d"),
    )),
    op("view", torch="torch.Tensor.view", cases=(
        Case(cases([(2, 6)], [(3, 2, 2)]), uniform(), lambda x: x.reshape(-1, 2), args=(-1, 2),
             noncontiguous=False, avoid="non-contiguous inputs raise (use reshape), as PyTorch"),)),
    op("flatten", expose=("mg", "Tensor", "F"), F_impl="minigrad.nn.functional.flatten",
       nn="layers.Flatten", torch="torch.flatten", cases=(
           Case(cases([(2, 3, 4)], [(2, 1, 3, 2)]), uniform(), lambda x: x.reshape(x.shape[0], -1),
                args=(1,)),
           Case(cases([(2, 3, 4)], [()], [(3,)]), uniform(), lambda x: x.reshape(-1),
                name="flatten_all"),
       )),
    op("transpose", torch="torch.transpose", cases=(
        Case(cases([(3, 4)], [(2, 3, 4)], [(1, 5)]), uniform(), lambda x: np.swapaxes(x, 0, -1),
             args=(0, -1)),)),
    op("permute", torch="torch.Tensor.permute", cases=(
        Case(cases([(2, 3, 4)], [(1, 3, 2)]), uniform(), lambda x: np.transpose(x, (2, 0, 1)),
             args=(2, 0, 1)),)),
    Entry("T", "minigrad.tensor.Tensor.T", expose=("Tensor",), torch="torch.Tensor.T", cases=(
        Case(cases([(3, 4)], [(1, 4)]), uniform(), lambda x: x.T, fn=lambda x: x.T,
             torch_fn=lambda x: x.T),)),
    Entry("view_as", "minigrad.tensor.Tensor.view_as", expose=("Tensor",),
          torch="torch.Tensor.view_as", cases=(
              Case(cases([(3, 4)], [(12,)]), uniform(), lambda x: x.reshape(2, 6),
                   fn=lambda x: x.view_as(x.new_zeros(2, 6)),
                   torch_fn=lambda x: x.view_as(x.new_zeros(2, 6))),)),
    op("squeeze", torch="torch.squeeze", cases=(
        Case(cases([(1, 3, 1)], [(3, 4)], [(1,)]), uniform(), np.squeeze),
        Case(cases([(2, 1, 3)], [(3, 1)]), uniform(), lambda x: np.squeeze(x, 1), args=(1,),
             name="squeeze_dim"),
    )),
    op("unsqueeze", torch="torch.unsqueeze", cases=(
        Case(cases([()], [(3,)], [(2, 3)]), uniform(), lambda x: np.expand_dims(x, -1), args=(-1,)),)),
    op("expand", torch="torch.Tensor.expand", cases=(
        Case(cases([(3, 1)], [(3, 4)], [(1,)], [()]), uniform(),
             lambda x: np.broadcast_to(x, (2, 3, 4)), args=(2, 3, 4)),)),
    op("broadcast_to", torch="torch.broadcast_to", cases=(
        Case(cases([(1, 4)], [(3, 1)], [()]), uniform(), lambda x: np.broadcast_to(x, (2, 3, 4)),
             args=((2, 3, 4),)),)),
    op("cat", expose=("mg",), torch="torch.cat", cases=(
        Case(cases([(2, 1), (2, 3), (2, 2)], [(3, 2, 4), (3, 1, 4), (3, 2, 4)]), uniform(),
             lambda a, b, c: np.concatenate([a, b, c], axis=1),
             fn=lambda a, b, c: _ops().cat([a, b, c], dim=1),
             torch_fn=lambda a, b, c: torch_module().cat([a, b, c], dim=1)),
        Case(cases([(1,), (3,)], [(2, 3), (1, 3)]), uniform(), lambda a, b: np.concatenate([a, b]),
             fn=lambda a, b: _ops().cat((a, b)), torch_fn=lambda a, b: torch_module().cat([a, b]),
             name="cat_dim0"),
    )),
    op("stack", expose=("mg",), torch="torch.stack", cases=(
        Case(cases([(3,), (3,), (3,)], [(2, 3), (2, 3), (2, 3)], [(), (), ()]), uniform(),
             lambda a, b, c: np.stack([a, b, c], axis=-1),
             fn=lambda a, b, c: _ops().stack([a, b, c], dim=-1),
             torch_fn=lambda a, b, c: torch_module().stack([a, b, c], dim=-1)),)),
    op("pad", expose=("mg", "F"), torch="torch.nn.functional.pad", cases=(
        Case(cases([(3,)], [(2, 3)], [(2, 1, 3)]), uniform(),
             lambda x: np.pad(x, [(0, 0)] * (x.ndim - 1) + [(1, 2)]), args=((1, 2),),
             second_order=False),
        Case(cases([(2, 3)], [(1, 2, 2, 3)]), uniform(),
             lambda x: np.pad(x, [(0, 0)] * (x.ndim - 2) + [(2, 1), (0, 1)], constant_values=0.5),
             args=((0, 1, 2, 1),), kwargs={"value": 0.5}, name="pad_2d", second_order=True),
    )),
]

