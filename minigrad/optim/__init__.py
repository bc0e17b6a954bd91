"""`mg.optim`: optimizers with PyTorch's update rules, and `lr_scheduler`.

    optimizer.py      Optimizer: param_groups, zero_grad, state_dict / load_state_dict
    sgd.py            SGD (momentum, dampening, nesterov, weight_decay)
    adam.py           Adam, AdamW; rmsprop.py: RMSprop; adagrad.py: Adagrad, Adadelta
    lr_scheduler.py   StepLR, CosineAnnealingLR, LambdaLR, ... (one_cycle.py, plateau.py)

Usage as in PyTorch: `opt = mg.optim.Adam(model.parameters(), lr=1e-3)`, then per batch
`opt.zero_grad(); loss.backward(); opt.step()`.
"""

from . import lr_scheduler  # noqa: F401
from .adagrad import Adadelta, Adagrad  # noqa: F401
from .adam import Adam, AdamW  # noqa: F401
from .optimizer import Optimizer  # noqa: F401
from .rmsprop import RMSprop  # noqa: F401
from .sgd import SGD  # noqa: F401
