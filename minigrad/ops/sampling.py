"""Random draws that are not plain factories: randperm and multinomial.

Both use minigrad's one generator (minigrad/random.py), so `mg.manual_seed(n)` makes them
reproducible; the draws happen on the host and the result is moved to the requested device.
"""

import numpy as np

from .. import dtypes
from .. import random as _random
from ..backend.device import as_device
from ..tensor import Tensor
from .common import check_tensor


def randperm(n, *, dtype=None, device=None, requires_grad=False):
    """A random permutation of 0..n-1 (int64 by default)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"randperm: n must be an int, got {n!r}")
    if n < 0:
        raise ValueError(f"randperm: n must be non-negative, got {n}")
    dtype = dtypes.int64 if dtype is None else dtypes.as_dtype(dtype, "randperm")
    values = _random.generator().permutation(int(n)).astype(dtype)
    device = as_device(device)
    out = Tensor._make(device.xp.asarray(values) if device.type != "cpu" else values, device)
    out.requires_grad = requires_grad
    return out


def _host_weights(input):  # noqa: A002
    weights = input.detach().cpu().numpy().astype(np.float64)
    if weights.ndim not in (1, 2):
        raise ValueError(f"multinomial: input must be 1-D or 2-D, got shape {input.shape}")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise RuntimeError("multinomial: probabilities must be finite and non-negative")
    return weights


def multinomial(input, num_samples, replacement=False, *, generator=None):  # noqa: A002
    """Indices of categories drawn with probability proportional to the (non-negative)
    weights in each row of `input` (1-D: one distribution; 2-D: one per row), as
    torch.multinomial. Without replacement, each category is drawn at most once, so a row needs
    at least `num_samples` non-zero weights. Returns int64 on input's device."""
    check_tensor(input, "multinomial")
    if generator is not None:
        raise TypeError("multinomial: generator= is not supported; use mg.manual_seed")
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)):
        raise TypeError(f"multinomial: num_samples must be an int, got {num_samples!r}")
    if num_samples <= 0:
        raise ValueError(f"multinomial: num_samples must be positive, got {num_samples}")
    weights = _host_weights(input)
    rows = weights.reshape(-1, weights.shape[-1])
    if rows.shape[1] == 0:
        raise ValueError(f"multinomial: input of shape {input.shape} has no categories")
    rng = _random.generator()
    out = np.empty((rows.shape[0], int(num_samples)), dtype=np.int64)
    for r, w in enumerate(rows):
        total = w.sum()
        if total <= 0:
            raise RuntimeError(f"multinomial: row {r} of the weights sums to 0")
        if not replacement and np.count_nonzero(w) < num_samples:
            raise RuntimeError(
                f"multinomial: cannot draw {num_samples} samples without replacement from "
                f"{np.count_nonzero(w)} categories of non-zero weight (row {r})")
        out[r] = rng.choice(w.size, size=int(num_samples), replace=bool(replacement), p=w / total)
    out = out.reshape(weights.shape[:-1] + (int(num_samples),))
    device = input.device
    return Tensor._make(device.xp.asarray(out) if device.type != "cpu" else out, device)

