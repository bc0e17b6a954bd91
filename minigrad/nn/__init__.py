"""`mg.nn`: Module and Parameter, layers, losses, `functional` (F) and `init`.

    module.py       Module (parameters, state_dict / load_state_dict, to, train/eval, hooks)
    parameter.py    Parameter, a leaf tensor that requires grad
    container.py    Sequential, ModuleList, ModuleDict, ParameterList
    layers.py       Linear, Conv2d, MaxPool2d, AvgPool2d, Flatten, Dropout, Identity, ...
    norm.py         BatchNorm1d/2d; layer_norm.py: LayerNorm; embedding.py: Embedding
    activation.py   ReLU, Tanh, Softmax, GELU, SiLU, ... (smooth_activations.py: the math)
    loss.py         CrossEntropyLoss, NLLLoss, MSELoss, BCE(WithLogits)Loss, ...
    functional.py   the same as functions: F.conv2d, F.cross_entropy, ...
    init.py         kaiming_uniform_, xavier_normal_, ... (PyTorch's default initialisation)
    utils           clip_grad_norm_, clip_grad_value_

A Module works as in PyTorch: subclass it, assign layers and Parameters in __init__, write
forward; `model.load_state_dict` also takes a PyTorch `state_dict()`.

The module classes of ops (ReLU, Conv2d, CrossEntropyLoss, LayerNorm, ...) are the op
catalogue's `nn=` entries (minigrad/testing/catalogue); the rest are imported here.
"""

from ..testing.catalogue import exports as _exports
from . import functional, init, utils  # noqa: F401
from .container import ModuleDict, ModuleList, ParameterList, Sequential  # noqa: F401
from .layers import Identity, Unflatten  # noqa: F401
from .module import Module  # noqa: F401
from .parameter import Parameter  # noqa: F401

globals().update(_exports("nn"))
