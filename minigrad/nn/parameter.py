"""`Parameter`: a leaf Tensor that a Module registers as trainable (requires_grad=True)."""

import numpy as np

from ..backend.device import CPU
from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a module's trainable weight (a leaf with `requires_grad=True`).

    It shares memory with the tensor it wraps, as `torch.nn.Parameter` does. Assigning one
    to a Module attribute registers it in `module.parameters()`.
    """

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            array, device = np.empty((0,), np.float32), CPU
        elif isinstance(data, Tensor):
            array, device = data._data, data.device
        else:
            t = Tensor(data)
            array, device = t._data, t.device
        self._init(array, device)
        self.requires_grad = requires_grad

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol):
        # copy/deepcopy/pickle: a new Parameter holding a copy of the values.
        return (_rebuild_parameter, (self._data.copy(), self._device, self.requires_grad))


def _rebuild_parameter(array, device, requires_grad):
    return Parameter(Tensor._make(array, device), requires_grad)
