"""`mg.nn`: Module and Parameter, layers, losses, `functional` (F) and `init`."""

from . import functional, init  # noqa: F401
from .activation import LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh  # noqa: F401
from .container import ModuleList, Sequential  # noqa: F401
from .layers import AvgPool2d, Conv2d, Dropout, Flatten, Identity, Linear, MaxPool2d  # noqa: F401
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss  # noqa: F401
from .module import Module  # noqa: F401
from .norm import BatchNorm1d, BatchNorm2d  # noqa: F401
from .parameter import Parameter  # noqa: F401
