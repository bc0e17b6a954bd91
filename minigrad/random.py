"""One process-wide random generator, so that `mg.manual_seed(n)` makes every random
factory, parameter initialiser, Dropout mask and DataLoader shuffle reproducible."""

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Reseed minigrad's generator (as `torch.manual_seed`)."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__}")
    _generator = np.random.default_rng(int(seed) & 0xFFFFFFFFFFFFFFFF)


def generator() -> np.random.Generator:
    """The current numpy Generator behind every random draw in minigrad."""
    return _generator
