"""Every differentiable op, one module per family. Tensor methods delegate here."""

from . import conv, elementwise, indexing, linalg, reduce, shape  # noqa: F401
from .conv import avg_pool2d, conv2d, max_pool2d  # noqa: F401
from .elementwise import (  # noqa: F401
    abs, add, clamp, clip, clone, cos, div, eq, exp, ge, gt, le, leaky_relu, log, logical_and,
    logical_not, logical_or, logical_xor, lt, maximum, minimum, mul, ne, neg, pow, relu, sigmoid,
    sign, sin, sqrt, sub, tanh, where,
)
from .indexing import getitem, index_put  # noqa: F401
from .linalg import matmul  # noqa: F401
from .reduce import (  # noqa: F401
    argmax, argmin, log_softmax, logsumexp, max, mean, min, softmax, std, sum, var,
)
from .shape import (  # noqa: F401
    broadcast_to, cat, expand, flatten, pad, permute, reshape, squeeze, stack, transpose, unsqueeze,
    view,
)
