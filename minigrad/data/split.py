"""random_split: a dataset cut into random non-overlapping Subsets (torch.utils.data)."""

import math
import warnings
from itertools import accumulate

import numpy as np

from .. import random as _random
from .dataset import Subset


def random_split(dataset, lengths, generator=None):
    """Split `dataset` into `len(lengths)` random Subsets that together hold every sample once.

    Args:
        dataset: any dataset.
        lengths: the size of each split (ints summing to len(dataset)), or fractions summing
            to 1; fractions are floored and the remaining samples dealt one each to the
            splits in order, round robin, as PyTorch does.
        generator: a numpy Generator to draw the permutation from; by default minigrad's
            generator, so `mg.manual_seed(n)` makes the split reproducible.

    Raises:
        ValueError: a fraction outside [0, 1], a negative length, or lengths that do not
            sum to len(dataset).
    """
    lengths = list(lengths)
    n = len(dataset)
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1:
        sizes = []
        for i, frac in enumerate(lengths):
            if not 0 <= frac <= 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1")
            sizes.append(int(math.floor(n * frac)))
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(f"random_split: length of split at index {i} is 0. This might "
                              "result in an empty dataset.", stacklevel=2)
        lengths = sizes
    for i, length in enumerate(lengths):
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
            raise ValueError(f"random_split: length at index {i} must be a non-negative int "
                             f"(or all lengths fractions summing to 1), got {length!r}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths ({sum(lengths)}) does not equal "
                         f"the length of the input dataset ({n})")
    rng = _random.generator() if generator is None else generator
    indices = rng.permutation(n).tolist()
    return [Subset(dataset, indices[end - length:end])
            for end, length in zip(accumulate(lengths), lengths)]
