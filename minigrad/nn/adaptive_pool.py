"""Adaptive average pooling to a fixed output size, NCHW (or CHW).

Output cell i along a dim of size n pools input positions floor(i n / out) .. ceil((i+1) n / out)
(PyTorch's windows). Averaging along H and along W are both linear maps, so
y = A_h @ x @ A_w^T with the (out, n) averaging matrices A: the matmuls give the gradient,
to every order, with no op of its own. (1, 1) is a plain mean over H and W.
"""

import numbers

import numpy as np

from ..tensor import Tensor


def _averaging_matrix(n, out, dtype, device):
    """(out, n) matrix whose row i averages PyTorch's adaptive window i."""
    a = np.zeros((out, n), dtype)
    for i in range(out):
        start, end = (i * n) // out, -(-((i + 1) * n) // out)
        a[i, start:end] = 1.0 / (end - start)
    return Tensor._make(device.xp.asarray(a), device)


def _output_size(output_size, in_hw):
    if output_size is None or isinstance(output_size, numbers.Integral):
        output_size = (output_size, output_size)
    if not isinstance(output_size, (tuple, list)) or len(output_size) != 2:
        raise TypeError(f"adaptive_avg_pool2d: output_size must be an int or a pair, "
                        f"got {output_size!r}")
    sizes = []
    for size, n in zip(output_size, in_hw):
        if size is None:
            size = n
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size <= 0:
            raise ValueError(f"adaptive_avg_pool2d: output sizes must be positive ints (or None), "
                             f"got {tuple(output_size)}")
        sizes.append(int(size))
    return tuple(sizes)


def adaptive_avg_pool2d(input, output_size):  # noqa: A002
    """Average-pool the last two dims of a (N, C, H, W) or (C, H, W) tensor to output_size.

    Args:
        output_size: an int or an (OH, OW) pair; None in the pair keeps that input size.
    Returns:
        (N, C, OH, OW) or (C, OH, OW).
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"adaptive_avg_pool2d: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (3, 4) or input.shape[-1] == 0 or input.shape[-2] == 0:
        raise ValueError(f"adaptive_avg_pool2d: expected a 3-D or 4-D input with non-zero H and W, "
                         f"got shape {input.shape}")
    if input.dtype.kind != "f":
        raise TypeError(f"adaptive_avg_pool2d: input must be floating point, got {input.dtype}")
    h, w = input.shape[-2:]
    oh, ow = _output_size(output_size, (h, w))
    if (oh, ow) == (1, 1):
        return input.mean((-2, -1), keepdim=True)
    x = input
    if oh != h:
        x = _averaging_matrix(h, oh, input.dtype, input.device) @ x
    if ow != w:
        x = x @ _averaging_matrix(w, ow, input.dtype, input.device).T
    return x.clone() if x is input else x  # a new tensor, as PyTorch, even when sizes match
