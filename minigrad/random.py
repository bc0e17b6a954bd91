"""One process-wide random generator, so that `mg.manual_seed(n)` makes every random
factory, parameter initialiser, Dropout mask and DataLoader shuffle reproducible."""

import copy

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


def get_rng_state() -> dict:
    """The full state of minigrad's generator, as a plain dict of str/int (so `mg.save` can
    store it); `set_rng_state` puts it back, and every draw after that repeats exactly (as
    `torch.get_rng_state` / `torch.set_rng_state`). `minigrad train --save` keeps it so that
    `--resume` shuffles as an uninterrupted run would."""
    return copy.deepcopy(_generator.bit_generator.state)


def set_rng_state(state: dict) -> None:
    """Restore a state returned by `get_rng_state`."""
    global _generator
    if not isinstance(state, dict) or not hasattr(np.random, str(state.get("bit_generator"))):
        raise ValueError("set_rng_state: expected a dict returned by get_rng_state, got "
                         f"{type(state).__name__}")
    bit_generator = getattr(np.random, state["bit_generator"])()
    bit_generator.state = copy.deepcopy(state)
    _generator = np.random.Generator(bit_generator)
