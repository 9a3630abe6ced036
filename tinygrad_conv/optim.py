"""Gradient descent: use each parameter's .grad to move it downhill, on either engine.

Once backward() has filled in dL/dW for every filter value at once, one step
is W <- W - lr * dL/dW for all of them together: no nudging and rerunning.
The update rules follow PyTorch's SGD and Adam exactly, so the two can be
compared number for number.
"""
import numpy as np

from .grid import grads as grid_grads
from .nn import _zero_grad, parameter_data
from .value import Value


def _grad(p):
    """dL/dp as an array, or None for a Tensor that no backward() has reached (PyTorch skips those)."""
    if isinstance(p, Value):
        return np.array(p.grad)
    if isinstance(p, np.ndarray):
        return grid_grads(p)
    return p.grad


def _move(p, x, update):
    """p <- x - update, where x is p's numbers."""
    if isinstance(p, Value):
        p.data = float(x - update)
    elif isinstance(p, np.ndarray):
        for v, number in zip(p.flat, (x - update).flat):
            v.data = float(number)
    else:
        np.subtract(p.data, update, out=p.data)  # in place, so views of the data stay valid


class Optimizer:
    def __init__(self, params, lr):
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        if not lr >= 0:
            raise ValueError(f"learning rate must be >= 0, got {lr!r}")
        self.lr = lr

    def zero_grad(self):
        for p in self.params:
            _zero_grad(p)

    def step(self):
        """One update of every parameter that has a gradient; one with none (grad None) keeps its
        numbers and its momentum, as in PyTorch."""
        for i, p in enumerate(self.params):
            g = _grad(p)
            if g is not None:
                x = parameter_data(p)
                _move(p, x, self._update(i, x, g))


class SGD(Optimizer):
    """W <- W - lr * v, with g = dL/dW + weight_decay * W and, with momentum, PyTorch's rule

        v = g on the first step,  v <- momentum * v + (1 - dampening) * g  after it;

    nesterov=True steps along g + momentum * v instead of v (it needs momentum and no dampening).
    """

    def __init__(self, params, lr=0.01, momentum=0.0, weight_decay=0.0, dampening=0.0, nesterov=False):
        super().__init__(params, lr)
        if momentum < 0 or weight_decay < 0:
            raise ValueError(f"momentum and weight_decay must be >= 0, got {momentum!r} and {weight_decay!r}")
        if not 0 <= dampening <= 1:
            raise ValueError(f"dampening must be in [0, 1], got {dampening!r}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"nesterov needs a momentum > 0 and no dampening, got momentum={momentum!r} and "
                             f"dampening={dampening!r}")
        self.momentum, self.weight_decay = momentum, weight_decay
        self.dampening, self.nesterov = dampening, nesterov
        self.velocity = [None] * len(self.params)

    def _update(self, i, x, g):
        if self.weight_decay:
            g = g + self.weight_decay * x
        if self.momentum:
            v = self.velocity[i]
            v = self.velocity[i] = g.copy() if v is None else self.momentum * v + (1 - self.dampening) * g
            g = g + self.momentum * v if self.nesterov else v
        return self.lr * g


class Adam(Optimizer):
    """Adam with PyTorch's bias correction:

        m <- b1*m + (1-b1)*g,   v <- b2*v + (1-b2)*g^2
        W <- W - lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
    """

    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"betas must be in [0, 1), got {betas!r}")
        if not (eps >= 0 and weight_decay >= 0):
            raise ValueError(f"eps and weight_decay must be >= 0, got {eps!r} and {weight_decay!r}")
        self.betas, self.eps, self.weight_decay = (b1, b2), eps, weight_decay
        self.m = [None] * len(self.params)
        self.v = [None] * len(self.params)
        self.t = [0] * len(self.params)  # steps taken by each parameter (one without a gradient takes none)

    def _update(self, i, x, g):
        self.t[i] += 1
        (b1, b2), t = self.betas, self.t[i]
        if self.weight_decay:
            g = g + self.weight_decay * x
        if self.m[i] is None:
            self.m[i], self.v[i] = np.zeros_like(g), np.zeros_like(g)
        self.m[i] = b1 * self.m[i] + (1 - b1) * g
        self.v[i] = b2 * self.v[i] + (1 - b2) * g * g
        denom = np.sqrt(self.v[i]) / np.sqrt(1 - b2 ** t) + self.eps
        return self.lr / (1 - b1 ** t) * self.m[i] / denom
