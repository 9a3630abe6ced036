"""The Tensor engine's backend for `functional`: the same few array ops as `grid_ops`, on Tensors.

`functional` writes conv, pooling, linear and the losses once, in terms of
the functions below. Here each is one or two Tensor primitives, so a layer's
gradient is whatever the primitives' VJPs make of it (a conv: the window
rows', `@`'s and the images' VJPs; a max pool: the windows and max VJPs).
`window_rows` and `rows_to_images` only move numbers: each is one op whose
VJP moves the gradient back (what windows, transpose and reshape would do
one op at a time), so each costs one op's bookkeeping instead of three to seven.
"""
import numbers

import numpy as np

from . import buffers, layout, reductions
from .tensor import Tensor, _broadcasts_to, _leaf, _masked, _result
from .value import Value
from .windows import add_windows_back, sliding_windows

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


def reduce_windows(x, kernel, stride, reduce, **options):
    """reduce(windows(x), (-2, -1)), as grid_ops.reduce_windows: each window reduced to one number.

    A max over windows that do not overlap (pooling's usual 2x2, stride 2) of images stored side
    by side (batch_innermost: a conv's output in training) is one op, window_max: the same numbers
    and gradients as windows followed by max, for one op's cost. (Images stored one after another
    keep the two ops: there a window's row is its innermost run, and window_max's one broadcast
    product would step two numbers at a time where add_windows_back moves whole rows.)
    """
    if reduce is reduce_max and stride[0] >= kernel[0] and stride[1] >= kernel[1] \
            and x.data.strides[-1] != x.data.itemsize:
        return window_max(x, kernel, stride, **options)
    return reduce(windows(x, kernel, stride, (1, 1)), (-2, -1), **options)


def window_max(x, kernel, stride, last_nan=False):
    """The largest number of each window, for windows that do not overlap; one op.

    out[..., i, j] = max over (a, b) of x[..., s*i + a, t*j + b], the winner found as Tensor.max
    finds it (the first in C order on ties; nans as its last_nan says).
    VJP: each window's gradient goes straight to its winner, and every other input gets 0:
        dL/dx[..., s*i + a, t*j + b] = dL/dout[..., i, j] if (a, b) won window (i, j), else 0.
    That is what max's VJP and then windows' VJP would give, without the (..., OH, OW, kh, kw)
    gradient of the windows in between: the windows do not overlap, so the gradient is written
    through a view of the input's gradient, one product with the winners' one-hot mask.
    """
    data = x.data
    windows = sliding_windows(data, kernel, stride)  # (..., OH, OW, kh, kw), a view
    out, winner = reductions.argmax(windows, (windows.ndim - 2, windows.ndim - 1), last_nan)  # a*kw + b
    (kh, kw), (sh, sw), (OH, OW) = kernel, stride, out.shape[-2:]
    tiled = (sh, sw) == (kh, kw) and (OH * sh, OW * sw) == data.shape[-2:]  # every input in one window

    def vjp(g):
        grad = buffers.empty_like(data, g.dtype)  # laid out as x: its own VJP's product runs along it
        if not tiled:
            grad.fill(0)  # (the inputs no window reads)
        along_windows = buffers.empty_like(out, g.dtype)
        if g.strides != along_windows.strides:  # one copy into the windows' layout, so that the
            np.copyto(along_windows, g)  # product below runs along the grain (5x slower across it)
            g = along_windows
        g = g[..., None, None]  # one number per window, broadcast over the window
        # the winners as a one-hot mask over the windows, laid out in memory as x is
        winners = np.equal(winner[..., None, None], np.arange(kh * kw, dtype=winner.dtype).reshape(kh, kw),
                           out=buffers.empty_like(windows, bool))
        # the losers get exactly 0, even where g is inf or nan (tensor._masked, as relu's and max's VJPs)
        _masked(g, winners, out=sliding_windows(grad, kernel, stride, writeable=True))
        return (grad,)
    return _result(out, (x,), "window_max", vjp)


def batch_innermost(x):
    """Whether window_rows stores the images x (N, C, H, W) side by side, as (C, H, W, N).

    For every batch of more than one image. A window's row of OW positions is then one run of
    OW*N numbers in memory, so the im2col copy and its adjoint (each window's gradient added
    back to x) move long runs instead of OW numbers at a time. The conv's output comes out
    batch-innermost too, and so do the relu and pooling after it: a 2x2 pool of 6x6 images
    otherwise moves rows of 3 numbers, and numpy pays for every row it starts. It costs one
    transposing copy of x.
    """
    return x.shape[0] > 1


def window_rows(x, kernel, stride, dilation, groups):
    """The im2col matrix of each group of channels, as grid_ops.window_rows: (groups, N*OH*OW,
    C/groups*kh*kw), rows[g, row, (c, a, b)] = x[n, g*C/groups + c, s*i + d*a, t*j + e*b].

    The rows come in (n, i, j) order, or in (i, j, n) order when batch_innermost(x): a layout
    choice, which rows_to_images undoes. One movement op, with the adjoint of its copy as its
    VJP: each row's gradient added back to the inputs its window viewed (add_windows_back), what
    the VJPs of windows, transpose and reshape would give one after another, for one op's cost.
    """
    data = x.data
    if batch_innermost(x):
        data = layout.contiguous_copy(data.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)  # stored (C, H, W, N)
        rows_first = (1, 3, 4, 0)  # group, i, j, n
    else:
        rows_first = (1, 0, 3, 4)  # group, n, i, j
    win = sliding_windows(data, kernel, stride, dilation)  # (N, C, OH, OW, kh, kw), a view
    N, C, OH, OW, kh, kw = win.shape
    H, W = data.shape[2:]
    Cg = C // groups
    order = rows_first + (2, 5, 6)  # (group, the row's three axes, c, a, b)
    by_group = win.reshape(N, groups, Cg, OH, OW, kh, kw).transpose(order)
    rows = layout.reshape(by_group, (groups, N * OH * OW, Cg * kh * kw))
    back = layout.inverse(order)

    def vjp(g):
        window_grad = g.reshape(by_group.shape).transpose(back)  # (N, groups, Cg, OH, OW, kh, kw)
        grad = add_windows_back(window_grad, (N, groups, Cg, H, W), kernel, stride, dilation)
        return (layout.reshape(grad, (N, C, H, W)),)
    return _result(rows, (x,), "window_rows", vjp)


def rows_to_images(out, x, OH, OW):
    """A product of window_rows(x, ...): (groups, N*OH*OW, K/groups), as images (N, K, OH, OW).

    A movement op: a reshape, a transpose and a reshape in one. VJP: g moved back the same way.
    """
    groups, _, Kg = out.shape
    N = x.shape[0]
    if batch_innermost(x):  # rows in (i, j, n) order
        split, order = (groups, OH, OW, N, Kg), (3, 0, 4, 1, 2)
    else:  # rows in (n, i, j) order
        split, order = (groups, N, OH, OW, Kg), (1, 0, 4, 2, 3)
    moved = out.data.reshape(split).transpose(order)  # (N, groups, Kg, OH, OW), a view
    back = layout.inverse(order)
    return _result(layout.reshape(moved, (N, groups * Kg, OH, OW)), (out,), "rows_to_images",
                   lambda g: (layout.reshape(layout.reshape(g, moved.shape).transpose(back), out.shape),))


def matmul(a, b, bias=None, transpose_b=False):
    """a @ b (a @ b^T with transpose_b) over the last two axes, batch axes broadcast, plus bias
    broadcast over the rows.

    One op, whatever the options: b^T is a view the product reads, not an op of its own, and
    the bias is added into the product's new array. The VJP is the product's, with b's gradient
    swapped back and the bias's appended (g itself, which backward() sums over the rows the
    bias was broadcast along): what transpose, `@` and `+` would give one after another.
    """
    right = _leaf(b.data.swapaxes(-1, -2), b.requires_grad) if transpose_b else b
    product = a @ right
    if bias is None and not transpose_b:
        return product
    out = product.data
    if bias is not None:
        if bias.dtype != out.dtype or not _broadcasts_to(bias.shape, out.shape) or not out.flags.writeable:
            # (the bias would change the result's dtype or shape): the ops one by one
            return (a @ b.transpose(*range(b.ndim - 2), b.ndim - 1, b.ndim - 2) if transpose_b else product) + bias
        np.add(out, bias.data, out=out)
    product_vjp = product._vjp  # (None when only the bias needs a gradient)

    def vjp(g):
        grad_a, grad_b = product_vjp(g) if product_vjp else (None, None)
        if transpose_b and grad_b is not None:
            grad_b = grad_b.swapaxes(-1, -2)
        return (grad_a, grad_b) if bias is None else (grad_a, grad_b, g)
    return _result(out, (a, b) if bias is None else (a, b, bias), "@" if bias is None else "@+", vjp)


def reduce_sum(x, axis=None):
    return x.sum(axis)


def reduce_mean(x, axis=None):
    return x.mean(axis)


def reduce_max(x, axis=None, last_nan=False):
    return x.max(axis, last_nan=last_nan)


def nll_loss(log_probs, labels):
    """-mean over n of log_probs[n, labels[n]], as grid_ops.nll_loss, as one op: what indexing,
    mean and negation give one after another, and the same numbers.

    VJP: -g/N to each picked log probability, 0 to every other one.
    """
    N = log_probs.shape[0]
    if N == 0:  # (the mean of no numbers: Tensor.mean's error says so)
        return -reduce_mean(log_probs[np.arange(0), labels])
    rows, shape = np.arange(N), log_probs.shape
    picked = log_probs.data[rows, labels]
    mean = reductions.reduce(picked, (0,), np.add) / picked.dtype.type(N)

    def vjp(g):
        grad = buffers.zeros(shape, g.dtype)
        grad[rows, labels] = -g / g.dtype.type(N)  # (one pick per row: no place gets two)
        return (grad,)
    return _result(-mean, (log_probs,), "nll_loss", vjp)


def log_softmax(x, axis=-1):
    return x.log_softmax(axis)


def relu(x):
    return x.relu()
