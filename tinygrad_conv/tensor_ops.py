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
    if not any(before or after for before, after in pads):
        return x  # (the usual pooling: no padding, and no checks to pay for)
    return x.pad(pads, value)


def windows(x, kernel, stride, dilation):
    return x.windows(kernel, stride, dilation)


def batch_innermost(x):
    """Whether window_rows stores the images x (N, C, H, W) side by side, as (C, H, W, N).

    Only when x's gradient is wanted. A window's row of OW positions is then one run of OW*N
    numbers in memory, so the im2col copy and its adjoint (each window's gradient added back to
    x) move long runs instead of OW numbers at a time: about a quarter off that adjoint at 16x16
    images. It costs a transposing copy, and leaves the conv's output batch-innermost too, which
    a first layer's constant input would pay for with nothing to gain.
    """
    return x.requires_grad


def window_rows(x, kernel, stride, dilation, groups):
    """The im2col matrix of each group of channels, as grid_ops.window_rows: (groups, N*OH*OW,
    C/groups*kh*kw), rows[g, row, (c, a, b)] = x[n, g*C/groups + c, s*i + d*a, t*j + e*b].

    The rows come in (n, i, j) order, or in (i, j, n) order when batch_innermost(x): a layout
    choice, which rows_to_images undoes. No values change; the gradient is the VJPs' of these
    movement ops (a transposing copy, windows, reshape, transpose).
    """
    if batch_innermost(x):
        x = x.transpose(1, 2, 3, 0).contiguous().transpose(3, 0, 1, 2)  # stored (C, H, W, N)
        rows_first = (1, 3, 4, 0)  # group, i, j, n
    else:
        rows_first = (1, 0, 3, 4)  # group, n, i, j
    win = x.windows(kernel, stride, dilation)  # (N, C, OH, OW, kh, kw)
    N, C, OH, OW, kh, kw = win.shape
    Cg = C // groups
    return win.reshape(N, groups, Cg, OH, OW, kh, kw).transpose(*rows_first, 2, 5, 6) \
        .reshape(groups, N * OH * OW, Cg * kh * kw)


def rows_to_images(out, x, OH, OW):
    """A product of window_rows(x, ...): (groups, N*OH*OW, K/groups), as images (N, K, OH, OW)."""
    groups, _, Kg = out.shape
    N = x.shape[0]
    if batch_innermost(x):  # rows in (i, j, n) order
        out = out.reshape(groups, OH, OW, N, Kg).transpose(3, 0, 4, 1, 2)
    else:  # rows in (n, i, j) order
        out = out.reshape(groups, N, OH, OW, Kg).transpose(1, 0, 4, 2, 3)
    return out.reshape(N, groups * Kg, OH, OW)


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
