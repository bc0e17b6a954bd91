"""PyTorch's import paths: `minigrad.utils.data` is `minigrad.data` (the same module), so
`from torch.utils.data import DataLoader` ports by renaming `torch` to `minigrad`."""

import sys

from .. import data

sys.modules[__name__ + ".data"] = data

__all__ = ["data"]
