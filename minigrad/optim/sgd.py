"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay
(PyTorch's update rule, step for step)."""

from ..autograd import no_grad
from ..tensor import Tensor
from .optimizer import Optimizer, bump_version


class SGD(Optimizer):
    """g = grad + weight_decay * p;  buf = g (first step) or momentum * buf + (1 - dampening) * g;
    g = g + momentum * buf (nesterov) or buf;  p -= lr * g."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 *, maximize=False):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    @no_grad()
    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            weight_decay, nesterov = group["weight_decay"], group["nesterov"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad._data
                if group["maximize"]:
                    g = -g
                if weight_decay != 0:
                    g = g + weight_decay * p._data
                if momentum != 0:
                    state = self.state.setdefault(p, {})
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = Tensor._make(g.copy(), p.device)
                    else:
                        buf._data *= momentum
                        buf._data += (1 - dampening) * g
                    g = g + momentum * buf._data if nesterov else buf._data
                p._data -= lr * g
                bump_version(p)
        return loss
