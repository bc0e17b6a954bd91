"""Embedding lookups as ops, and one_hot.

embedding(idx, W) = W[idx]: a gather of rows. Its gradient is the adjoint scatter-add of the
incoming rows into a zero (num_embeddings, dim) matrix, with the padding row's share dropped
and (scale_grad_by_freq) each row divided by how often its index occurs in the batch, as in
PyTorch. The gather and the scatter are each other's backward, so double backward works.
"""

import numbers

import numpy as np

from ..autograd import Op, no_grad
from ..tensor import Tensor


class Embedding(Op):
    """y = W[idx] (idx: an integer array of any shape, y: idx.shape + (dim,));
    dW = scatter_add over idx of gy * s (s: 0 for padding_idx, 1/count with scale_grad_by_freq)."""

    @staticmethod
    def forward(ctx, weight, *, indices, row_scale):
        ctx.indices, ctx.row_scale, ctx.num = indices, row_scale, weight.shape[0]
        return weight[indices]

    @staticmethod
    def backward(ctx, gy):
        return EmbeddingGrad.apply(gy, indices=ctx.indices, row_scale=ctx.row_scale, num=ctx.num)


class EmbeddingGrad(Op):
    """G = zeros(num, dim) with G[idx[i]] += s_i gy[i];  dG/dgy: u[idx] * s."""

    @staticmethod
    def forward(ctx, gy, *, indices, row_scale, num):
        ctx.indices, ctx.row_scale = indices, row_scale
        xp = ctx.xp
        rows = gy.reshape(-1, gy.shape[-1])
        if row_scale is not None:
            rows = rows * row_scale.reshape(-1, 1)
        out = xp.zeros((num, gy.shape[-1]), gy.dtype)
        xp.add.at(out, indices.reshape(-1), rows)
        return out

    @staticmethod
    def backward(ctx, u):
        picked = Embedding.apply(u, indices=ctx.indices, row_scale=None)  # a plain gather
        if ctx.row_scale is None:
            return picked
        scale = Tensor._make(ctx.row_scale.reshape(ctx.indices.shape + (1,)), u.device)
        return picked * scale


def _index_array(input, op):  # noqa: A002
    if isinstance(input, Tensor):
        idx = input._data
    else:
        idx = np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be an integer tensor, got dtype {idx.dtype}")
    return idx


def _renorm_rows_(weight, idx, max_norm, norm_type):
    """Rows of weight referenced by idx whose norm exceeds max_norm are scaled down to it in
    place (PyTorch's embedding_renorm_: scale = max_norm / (norm + 1e-7))."""
    xp = weight.device.xp
    rows = xp.unique(idx.reshape(-1))
    data = weight._data
    norms = (xp.abs(data[rows]) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    too_big = norms > max_norm
    if bool(too_big.any()):
        scale = (max_norm / (norms[too_big] + 1e-7)).astype(data.dtype)
        with no_grad():
            data[rows[too_big]] *= scale[:, None]
            weight._version_counter.value += 1


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,  # noqa: A002
              scale_grad_by_freq=False, sparse=False):
    """Rows of `weight` at the integer indices `input` (as torch.nn.functional.embedding).

    Args:
        input: integer indices of any shape, each in [0, num_embeddings).
        weight: (num_embeddings, embedding_dim).
        padding_idx: lookups of this index get no gradient.
        max_norm: rows looked up with a larger `norm_type`-norm are renormalised in place.
        scale_grad_by_freq: divide each row's gradient by its index's count in `input`.
        sparse: sparse gradients are not supported (RuntimeError).
    Returns:
        input.shape + (embedding_dim,).
    """
    if not isinstance(weight, Tensor) or weight.ndim != 2:
        got = weight.shape if isinstance(weight, Tensor) else type(weight).__name__
        raise ValueError(f"embedding: weight must be a 2-D Tensor (num_embeddings, dim), got {got}")
    if sparse:
        raise RuntimeError("embedding: sparse gradients are not supported by minigrad")
    idx = _index_array(input, "embedding")
    num = weight.shape[0]
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise IndexError(f"embedding: index {bad} is out of range for {num} embeddings "
                         f"(valid: 0..{num - 1})")
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within num_embeddings "
                             f"({num})")
        padding_idx = int(padding_idx) % num
    if max_norm is not None:
        _renorm_rows_(weight, idx, float(max_norm), float(norm_type))
    xp = weight.device.xp
    idx = xp.asarray(idx).astype(np.int64, copy=False)
    row_scale = None
    if scale_grad_by_freq and idx.size:
        counts = xp.bincount(idx.reshape(-1), minlength=num)
        row_scale = (1.0 / counts[idx.reshape(-1)]).astype(weight.dtype)
    if padding_idx is not None:
        keep = (idx.reshape(-1) != padding_idx).astype(weight.dtype)
        row_scale = keep if row_scale is None else row_scale * keep
    return Embedding.apply(weight, indices=idx, row_scale=row_scale)


def one_hot(tensor, num_classes=-1):
    """(..., ) integer class indices -> (..., num_classes) int64 one-hot (as torch's one_hot).

    num_classes=-1 takes max(tensor) + 1.
    """
    idx = _index_array(tensor, "one_hot")
    if not isinstance(num_classes, numbers.Integral) or isinstance(num_classes, bool):
        raise TypeError(f"one_hot: num_classes must be an int, got {num_classes!r}")
    device = tensor.device if isinstance(tensor, Tensor) else None
    xp = device.xp if device is not None else np
    if idx.size == 0 and num_classes == -1:
        raise RuntimeError("one_hot: can not infer total number of classes from empty tensor")
    if idx.size and int(idx.min()) < 0:
        raise RuntimeError("one_hot: class values must be non-negative")
    if num_classes == -1:
        num_classes = int(idx.max()) + 1
    elif num_classes < 0:
        raise ValueError(f"one_hot: num_classes must be -1 or non-negative, got {num_classes}")
    elif idx.size and int(idx.max()) >= num_classes:
        raise RuntimeError(f"one_hot: class values must be smaller than num_classes "
                           f"({num_classes}), got {int(idx.max())}")
    out = (idx[..., None] == xp.arange(num_classes)).astype(np.int64)
    return Tensor._make(out, device) if device is not None else Tensor(out)
