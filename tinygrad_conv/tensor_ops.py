"""The Tensor engine's backend for `functional`: the same few array ops as `grid_ops`, on Tensors.

`functional` writes conv, pooling, linear and the losses once, in terms of
the functions below. Here each is one or two Tensor primitives, so a layer's
gradient is whatever the primitives' VJPs make of it (a conv: the windows,
reshape, transpose and `@` VJPs; a max pool: the windows and max VJPs).
"""
import numbers

import numpy as np

from .tensor import Tensor, _leaf
from .value import Value

KIND = "tensor"


def check(x, what):
    """x as a Tensor. Plain numbers or float arrays (fixed weights, targets) become constant Tensors."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, Value) or (isinstance(x, np.ndarray) and x.dtype == object):
        shape = "a Value" if isinstance(x, Value) else f"a grid of Values of shape {x.shape}"
        raise TypeError(f"{what} is {shape}, but the other operands are Tensors; use one engine "
                        "(tinygrad_conv.data(grid) gives a grid's numbers)")
    if isinstance(x, (numbers.Real, np.ndarray, list, tuple)):
        return Tensor(x)
    raise TypeError(f"{what} must be a Tensor, got {type(x).__name__}")


def constant(array, like):
    """Numbers that take part in an op but get no gradient (targets), in like's dtype."""
    return _leaf(np.array(array, dtype=like.dtype))


def pad(x, pads, value):
    return x.pad(pads, value)


def batch_innermost(x):
    """Whether conv2d should store x's images side by side in memory (see functional.conv2d).

    Only when x's gradient is wanted. That layout speeds up adding the windows' gradients back to
    x (about a quarter off, at 16x16 images), but it costs a transposing copy and leaves the conv's
    output batch-innermost too, which a first layer's constant input would pay for with nothing
    to gain.
    """
    return x.requires_grad


def contiguous(x):
    return x.contiguous()


def windows(x, kernel, stride, dilation):
    return x.windows(kernel, stride, dilation)


def matmul(a, b, bias=None):
    """a @ b over the last two axes (batch axes broadcast), plus bias broadcast over the rows."""
    out = a @ b
    return out if bias is None else out + bias


def reduce_sum(x, axis=None):
    return x.sum(axis)


def reduce_mean(x, axis=None):
    return x.mean(axis)


def reduce_max(x, axis=None, last_nan=False):
    return x.max(axis, last_nan=last_nan)


def log_softmax(x, axis=-1):
    return x.log_softmax(axis)


def relu(x):
    return x.relu()
