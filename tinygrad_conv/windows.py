"""Sliding windows: the movement half of a convolution, shared by both engines.

`sliding_windows(x, kernel, stride, dilation)` views the last two axes of an
array of shape (..., H, W) as windows, giving shape (..., OH, OW, kh, kw) with

    windows[..., i, j, a, b] = x[..., s*i + d*a, t*j + e*b]      (stride (s, t), dilation (d, e))

No element is copied: it is a strided view, so it works the same on a float
array (the Tensor engine) and on an object array of Values (the scalar
engine), where every window element is the very Value of the input.
"""
import numbers

import numpy as np

from . import buffers


def as_pair(v, what, minimum=1):
    """An int or a pair of ints (kernel size, stride, padding, dilation) as a pair, checked to be >= minimum."""
    pair = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    if len(pair) == 2 and type(pair[0]) is int and type(pair[1]) is int and min(pair) >= minimum:
        return pair  # the common case, without the slower abstract-class checks below
    if len(pair) != 2 or not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in pair):
        raise TypeError(f"{what} must be an int or a pair of ints, got {v!r}")
    if min(pair) < minimum:
        bound = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{what} must be {bound}, got {v!r}")
    return tuple(int(n) for n in pair)


def output_size(size, kernel, stride, dilation):
    """How many windows fit along an axis: floor((size - d*(k-1) - 1) / s) + 1."""
    return (size - dilation * (kernel - 1) - 1) // stride + 1


def sliding_windows(x, kernel, stride=(1, 1), dilation=(1, 1), writeable=False):
    """x's windows, (..., OH, OW, kh, kw), a read-only view (see the module's docstring).

    writeable=True gives a view one can write through: only sensible for windows that do
    not overlap (a max pool's gradient written to each window's winner), where no two
    window elements are one input.
    """
    kh, kw = kernel
    (sh, sw), (dh, dw) = stride, dilation
    oh, ow = output_size(x.shape[-2], kh, sh, dh), output_size(x.shape[-1], kw, sw, dw)
    if oh < 1 or ow < 1:
        raise ValueError(f"a {kh}x{kw} window (dilation {dilation}) does not fit in an input of shape {x.shape}")
    if (sh, sw) == (kh, kw) and dh == dw == 1:  # windows that tile x (pooling's default): the same
        # view as below, as a reshape (splitting an axis never copies), which numpy makes several times faster
        tiles = x[..., :oh * kh, :ow * kw].reshape(x.shape[:-2] + (oh, kh, ow, kw)).swapaxes(-3, -2)
        tiles.flags.writeable = writeable
        return tiles
    # a stride with one window, or a dilation with a kernel one wide, moves nothing: drop it, so that a
    # huge one cannot overflow the byte strides below
    sh, sw, dh, dw = (sh if oh > 1 else 1), (sw if ow > 1 else 1), (dh if kh > 1 else 1), (dw if kw > 1 else 1)
    # window (i, j) starts at row s*i, column t*j; its element (a, b) sits d*a rows, e*b columns further on
    row, col = x.strides[-2:]
    return np.lib.stride_tricks.as_strided(x, x.shape[:-2] + (oh, ow, kh, kw),
                                           x.strides[:-2] + (sh * row, sw * col, dh * row, dw * col),
                                           writeable=writeable)


def add_windows_back(windows_grad, input_shape, kernel, stride=(1, 1), dilation=(1, 1)):
    """The adjoint of sliding_windows: every window element's gradient added to the input it viewed.

    dL/dx[..., p, q] = sum over (i, j, a, b) with s*i + d*a = p and t*j + e*b = q
                       of dL/dwindows[..., i, j, a, b]

    One vectorised add per kernel offset (a, b): kh*kw adds. Windows that do
    not overlap (stride at least the window's extent, as in 2x2 pooling)
    never share an input, so there each add is a plain copy.
    """
    kh, kw = kernel
    (sh, sw), (dh, dw) = stride, dilation
    oh, ow = windows_grad.shape[-4], windows_grad.shape[-3]

    def places(a, b):  # the input positions that window element (a, b) of every window views
        return (Ellipsis, slice(a * dh, a * dh + sh * (oh - 1) + 1, sh),
                slice(b * dw, b * dw + sw * (ow - 1) + 1, sw))
    if sh >= dh * (kh - 1) + 1 and sw >= dw * (kw - 1) + 1:  # disjoint windows
        # windows that tile the input exactly write every element once: nothing to zero first
        tiled = (sh, sw) == (kh, kw) and dh == dw == 1 and (oh * sh, ow * sw) == tuple(input_shape[-2:])
        grad, _ = _like(windows_grad, input_shape, buffers.empty if tiled else buffers.zeros)
        for a in range(kh):
            for b in range(kw):
                copy_rows(grad[places(a, b)], windows_grad[..., a, b])
        return grad
    # Overlapping windows. numpy adds into a strided slice several times slower than along one
    # contiguous run, while a strided copy is cheap. So each offset's gradient is copied into a
    # zero frame shaped like the input, at the places of element (0, 0); element (a, b)'s places are
    # those moved d*a rows and e*b columns on, which in the flattened frame is a move by
    # d*a*(row stride) + e*b*(column stride) numbers: the offset's add is one contiguous add. (A
    # move never carries a window's number out of its own image and channel, and the zeros around
    # it add nothing.)
    frame, flat_frame = _like(windows_grad, input_shape, buffers.zeros)
    grad, flat_grad = _like(windows_grad, input_shape, buffers.empty)
    size = flat_grad.size
    row, col = (stride // grad.itemsize for stride in grad.strides[-2:])
    for a in range(kh):
        for b in range(kw):
            copy_rows(frame[places(0, 0)], windows_grad[..., a, b])
            move = dh * a * row + dw * b * col
            if move == 0:  # offset (0, 0) comes first: the frame itself, zeros where no window starts
                np.copyto(flat_grad, flat_frame)
            else:
                flat_grad[move:] += flat_frame[:size - move]
    return grad


def _like(windows_grad, input_shape, make):
    """(a new array of input_shape, the same numbers as one flat contiguous run in memory order).

    Its axes lie in memory in the order windows_grad's do (the rows and columns of the input
    where the window positions are), so that each copy walks both arrays the same way: numpy's
    strided copies are much slower when the two disagree.
    """
    lead = len(input_shape) - 2
    strides = windows_grad.strides[:lead + 2]  # (..., OH, OW): the leading axes, then the positions
    order = sorted(range(lead + 2), key=lambda i: -strides[i])
    memory = make([input_shape[i] for i in order], windows_grad.dtype)
    if order == list(range(lead + 2)):  # a plain new array: the leaf that gets it as .grad needs no copy
        return memory, memory.reshape(-1)
    return memory.transpose([order.index(i) for i in range(lead + 2)]), memory.reshape(-1)


def copy_rows(dest, src):
    """dest[...] = src (src broadcast to dest's shape), moving each row along the last axis as one item.

    numpy's copy loop pays a fixed cost per step along the last axis; for short rows (an image
    row of 16 numbers) that cost, not the memory, dominates. Where the last axis is contiguous in
    both arrays, viewing each row as one opaque item of row-length bytes makes it one step per row.
    """
    n = dest.shape[-1] if dest.size >= 4096 else 0  # (a small copy costs less than making the views)
    if n > 1 and src.ndim and src.shape[-1] == n and src.dtype == dest.dtype and not dest.dtype.hasobject \
            and dest.strides[-1] == src.strides[-1] == dest.itemsize:
        row = np.dtype((np.void, n * dest.itemsize))
        try:
            dest, src = dest.view(row)[..., 0], src.view(row)[..., 0]
        except ValueError:  # a numpy that cannot view a non-contiguous array so: copy number by number
            pass
    np.copyto(dest, src)
