"""minigrad: a small, readable reverse-mode autograd tensor library (PyTorch-shaped API).

>>> import minigrad as mg
>>> x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
tensor([2., 4., 6.], dtype=float32, device='cpu')

The map (each name has its own help(); docs/tutorial.md walks through the inside):

    mg.tensor, mg.Tensor, mg.zeros/ones/randn/...   tensors and factories (minigrad/tensor.py,
                                                    factories.py); ops as methods and mg.exp(x)...
    mg.no_grad, mg.grad, mg.Function                autograd (autograd.py): the graph, backward,
                                                    custom differentiable functions
    mg.nn                                           Module, layers, losses, nn.functional, nn.init
    mg.optim                                        SGD, Adam, AdamW, ... and optim.lr_scheduler
    mg.data                                         Dataset, DataLoader, load_digits, load_mnist
    mg.gradcheck, mg.gradcheck_report               finite-difference gradient checks (gradcheck/)
    mg.testing                                      hypothesis strategies, gradcheck_function
    mg.save, mg.load                                checkpoints: minigrad's zip format or
                                                    .safetensors (serialization.py)
    mg.from_dlpack, Tensor.__dlpack__               zero-copy exchange with numpy, PyTorch, CuPy
    mg.viz                                          the graph as Graphviz DOT (to_dot, render)
    mg.cuda, mg.backend_info()                      devices; which kernel serves each op
    python -m minigrad (train, bench, gradcheck)    the command line (cli.py)

mg.nn, mg.optim, mg.data, mg.viz and mg.testing's strategies load on first use (the op
catalogue, minigrad/testing/catalogue, is read at import: it names the ops).
"""

import importlib

# First, before any array is made: freed arrays stay for reuse (backend/malloc.py).
from .backend import malloc as _malloc  # noqa: F401
from . import cuda  # noqa: F401
from .autograd import (  # noqa: F401
    Function, backward, detect_anomaly, enable_grad, grad, inference_mode, is_anomaly_enabled,
    is_grad_enabled, is_inference_mode_enabled, no_grad, set_grad_enabled,
)
from .backend.device import Device  # noqa: F401
from .backend.info import backend_info  # noqa: F401
from .dtypes import bool, float32, float64, int64  # noqa: F401,A004
from .factories import (  # noqa: F401
    arange, empty, empty_like, eye, full, full_like, linspace, ones, ones_like, rand, rand_like,
    randint, randn, randn_like, zeros, zeros_like,
)
from .interop import from_dlpack  # noqa: F401
from .gradcheck import (  # noqa: F401
    GradcheckError, gradcheck, gradcheck_localize, gradcheck_precision, gradcheck_report,
    gradgradcheck,
)
from .random import manual_seed  # noqa: F401
from .tensor import Tensor, from_numpy, is_tensor, tensor  # noqa: F401
from .threads import get_num_threads, set_num_threads  # noqa: F401
from .testing.catalogue import exports as _exports

# The op functions (mg.exp, mg.sum, mg.cat, ...): every catalogue entry exposed at "mg".
globals().update(_exports("mg"))

device = Device
float = float32  # noqa: A001  (torch.float)
double = float64
long = int64

__version__ = "0.1.0"

_LAZY_MODULES = ("nn", "optim", "data", "utils", "viz", "serialization", "cli", "testing")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_MODULES) | {"save", "load"})


def __getattr__(name):
    """Loads mg.nn, mg.optim, mg.data, mg.viz, mg.testing, mg.save and mg.load on first use."""
    # Subpackages load on first use, so `import minigrad` stays fast and a student can read
    # the core without nn/optim in the way.
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in ("save", "load"):
        return getattr(importlib.import_module(".serialization", __name__), name)
    raise AttributeError(f"module 'minigrad' has no attribute {name!r}")
