"""`mg.nn`: Module and Parameter, layers, losses, `functional` (F) and `init`."""

from . import functional, init, utils  # noqa: F401
from .activation import (  # noqa: F401
    ELU, GELU, LeakyReLU, LogSigmoid, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh,
)
from .container import ModuleDict, ModuleList, ParameterList, Sequential  # noqa: F401
from .layers import (  # noqa: F401
    AdaptiveAvgPool2d, AvgPool2d, Conv2d, Dropout, Dropout2d, Embedding, Flatten, Identity, Linear,
    MaxPool2d, Unflatten,
)
from .loss import (  # noqa: F401
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss,
    SmoothL1Loss,
)
from .module import Module  # noqa: F401
from .norm import BatchNorm1d, BatchNorm2d, LayerNorm  # noqa: F401
from .parameter import Parameter  # noqa: F401
