"""The scalar engine's backend for `functional`: the few array ops a layer is written in.

`functional` writes conv, pooling, linear and the losses once, in terms of
the functions below; `tensor_ops` has the same functions for Tensors. Here
each one is built only from Value primitives (`*`, `Value.sum`, `Value.max`,
...), so reverse mode needs nothing else.
"""
import math

import numpy as np

from .grid import as_grid, grid_from_list
from .value import Value, _node
from .windows import sliding_windows

KIND = "grid"


def _scalar_or_grid(out):
    """A 0-d result is handed back as the Value itself, so `loss.backward()` works."""
    return out[()] if out.ndim == 0 else out


def _map(fn, x):
    """fn applied to every element, as an object array of x's shape."""
    # (lists: several times faster to go through than arrays)
    return grid_from_list([fn(v) for v in np.ravel(x).tolist()], np.shape(x))


def constant(array, like=None):
    """Numbers that take part in an op but get no gradient (targets, shifts), as leaf Values."""
    numbers = np.asarray(array, dtype=np.float64)
    return _map(Value, numbers)


def pad(x, pads, value):
    """x with `pads` ((before, after) per axis) of new leaf Values holding `value`.

    Each padded position is its own leaf named after its number ("0"), so the
    recorded graph shows exactly which products a padding zero took part in.
    """
    if not any(before or after for before, after in pads):
        return x
    shape = tuple(n + before + after for n, (before, after) in zip(x.shape, pads))
    label = "0" if value == 0 else f"{value:g}"
    out = np.empty(shape, dtype=object)
    for index in np.ndindex(*shape):
        out[index] = Value(value, label)
    out[tuple(slice(before, before + n) for n, (before, _) in zip(x.shape, pads))] = x
    return out


def windows(x, kernel, stride, dilation):
    return sliding_windows(x, kernel, stride, dilation)


def reduce_windows(x, kernel, stride, reduce, **options):
    """reduce(windows(x), (-2, -1)): each kh x kw window (stride apart) reduced to one number, a pool."""
    return reduce(windows(x, kernel, stride, (1, 1)), (-2, -1), **options)


def window_rows(x, kernel, stride, dilation, groups):
    """The im2col matrix of each group of channels: every window of every image as one row.

    x (N, C, H, W) gives (groups, N*OH*OW, C/groups*kh*kw) with
        rows[g, (n, i, j), (c, a, b)] = x[n, g*C/groups + c, s*i + d*a, t*j + e*b],
    rows in (n, i, j) order. The very Values of x: a new arrangement, no new nodes.
    """
    win = sliding_windows(x, kernel, stride, dilation)  # (N, C, OH, OW, kh, kw)
    N, C, OH, OW, kh, kw = win.shape
    Cg = C // groups
    return win.reshape(N, groups, Cg, OH, OW, kh, kw).transpose(1, 0, 3, 4, 2, 5, 6) \
        .reshape(groups, N * OH * OW, Cg * kh * kw)


def rows_to_images(out, x, OH, OW):
    """A product of window_rows(x, ...): (groups, N*OH*OW, K/groups), as images (N, K, OH, OW)."""
    groups, _, Kg = out.shape
    N = x.shape[0]
    return out.reshape(groups, N, OH, OW, Kg).transpose(1, 0, 4, 2, 3).reshape(N, groups * Kg, OH, OW)


def matmul(a, b, bias=None, transpose_b=False):
    """a @ b over the last two axes, batch axes broadcast; each output is ONE Value.sum.

    out[..., i, j] = Value.sum(a[..., i, 0] * b[..., 0, j], ..., a[..., i, n-1] * b[..., n-1, j] [, bias[..., j]])

    transpose_b: b's last two axes swapped first (a @ b^T: a layer's weights hold one row per output).
    The product order (left operand first) makes a conv output read
    `I11*W11 + I12*W12 + ...`, and a bias joins the same sum, as in `w.x + b`.
    (_dot below makes each output: the very nodes of `*` and Value.sum, made faster.)
    """
    if transpose_b:
        b = b.swapaxes(-1, -2)  # (moves Values, makes none)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    m, n, p = a.shape[-2], a.shape[-1], b.shape[-1]
    a = np.broadcast_to(a, batch + (m, n))
    b = np.broadcast_to(b, batch + (n, p))
    if bias is not None:
        bias = np.broadcast_to(bias, batch + (m, p))
    out = np.empty(batch + (m, p), dtype=object)
    for index in np.ndindex(*batch):
        # plain lists: iterating them is several times faster than iterating object arrays
        rows, cols = a[index].tolist(), b[index].T.tolist()
        cols = [(col, [w.data for w in col]) for col in cols]  # (a column, its numbers)
        biases = bias[index].tolist() if bias is not None else [[None] * p] * m
        outputs = []
        for row, row_biases in zip(rows, biases):
            row_data = [x.data for x in row]  # (read once per row, not once per column)
            outputs += [_dot(row, row_data, col, col_data, b_ij) for (col, col_data), b_ij in zip(cols, row_biases)]
        out[index] = grid_from_list(outputs, (m, p))
    return out


_new_value = object.__new__


def _dot(xs, xs_data, ws, ws_data, bias=None):
    """Value.sum([x * w for x, w in zip(xs, ws)] (+ [bias])), the very same nodes, made faster.

    xs_data and ws_data hold the numbers of xs and ws. Most of a conv's or a linear layer's
    nodes are made here, so the products are built directly, as value._node builds them,
    instead of by `*`: no check for numbers (a grid holds only Values, as functional checks),
    each number read once per row or column rather than once per product, and no two
    function calls per node (the conv benchmark's matmul 14.2 -> 11.2 ms). The same data,
    op, edges and sum as `*` and Value.sum make; tests/test_conv_graph.py and
    test_grid_ops_backend.py compare the graphs node for node.
    """
    edges = [1.0] * (2 * len(xs) + (0 if bias is None else 2))  # (term, 1.0, term, 1.0, ...)
    total = 0.0
    k = 0
    for x, x_data, w, w_data in zip(xs, xs_data, ws, ws_data):
        product = _new_value(Value)  # x * w: d(x*w)/dx = w, d(x*w)/dw = x
        product.data = data = x_data * w_data
        product.grad = 0.0
        product.name = None
        product._op = "*"
        product._edges = (x, w_data, w, x_data)
        edges[k] = product
        k += 2
        total += data  # Value.sum adds up its terms in this order too
    if bias is not None:
        edges[k] = bias
        total += bias.data
    return _node(total, "+", tuple(edges))


def _reduce(x, axis, reduce_row):
    """Apply reduce_row to the Values along `axis` (an int, a tuple, or None for all)."""
    x = as_grid(x)
    axes = tuple(range(x.ndim)) if axis is None else tuple(a % x.ndim for a in np.atleast_1d(axis))
    kept = [a for a in range(x.ndim) if a not in axes]
    out_shape = tuple(x.shape[a] for a in kept)
    n_out, n_row = math.prod(out_shape), math.prod(x.shape[a] for a in axes)
    # one plain list per output: iterating lists is several times faster than iterating object arrays
    rows = x.transpose(kept + list(axes)).reshape(n_out, n_row).tolist()
    return _scalar_or_grid(grid_from_list([reduce_row(row) for row in rows], out_shape))


def reduce_sum(x, axis=None):
    return _reduce(x, axis, Value.sum)


def reduce_mean(x, axis=None):
    """Value.sum(window) / n: the average pool reads `(o11 + o12 + o21 + o22) / 4`."""
    return _reduce(x, axis, lambda row: Value.sum(row) / len(row))


def reduce_max(x, axis=None, last_nan=False):
    """One Value.max per row; last_nan: of several nans the last wins (see Value.max)."""
    return _reduce(x, axis, (lambda row: Value.max(row, last_nan=True)) if last_nan else Value.max)


def nll_loss(log_probs, labels):
    """-mean over n of log_probs[n, labels[n]]: the right class's log probability, negated and
    averaged over the batch (log_probs (N, classes), labels (N,) class indices)."""
    return -reduce_mean(log_probs[np.arange(log_probs.shape[0]), labels])


def log_softmax(x, axis=-1):
    """log softmax along the last axis: (x_i - m) - log sum_j exp(x_j - m), m the row's largest number.

    The result does not depend on m, and m is a plain number, so it changes no gradient; taking
    it off first keeps every digit of a small result when the x_i are large.
    """
    x = as_grid(x)
    if axis not in (-1, x.ndim - 1):
        raise ValueError(f"log_softmax on grids works along the last axis, got axis={axis}")
    out = np.empty(x.shape, dtype=object)
    for index in np.ndindex(*x.shape[:-1]):
        row = list(x[index])
        m = max(v.data for v in row)
        if not math.isfinite(m) or any(math.isnan(v.data) for v in row):
            # PyTorch gives a row of nan here (inf - inf); the scalar engine's log refuses rather than do that
            raise ValueError(f"log_softmax needs a row whose largest number is finite, got "
                             f"{[v.data for v in row]} at row {index}")
        shifted = [v - m for v in row]
        log_total = Value.sum([s.exp() for s in shifted]).log()
        out[index] = [s - log_total for s in shifted]
    return out


def relu(x):
    return _scalar_or_grid(_map(Value.relu, as_grid(x)))


def check(x, what):
    return as_grid(x, what)
