"""Sliding windows: the movement half of a convolution, shared by both engines.

`sliding_windows(x, kernel, stride, dilation)` views the last two axes of an
array of shape (..., H, W) as windows, giving shape (..., OH, OW, kh, kw) with

    windows[..., i, j, a, b] = x[..., s*i + d*a, t*j + e*b]      (stride (s, t), dilation (d, e))

No element is copied: it is a strided view, so it works the same on a float
array (the Tensor engine) and on an object array of Values (the scalar
engine), where every window element is the very Value of the input.
"""
import numpy as np


def output_size(size, kernel, stride, dilation):
    """How many windows fit along an axis: floor((size - d*(k-1) - 1) / s) + 1."""
    return (size - dilation * (kernel - 1) - 1) // stride + 1


def sliding_windows(x, kernel, stride=(1, 1), dilation=(1, 1)):
    kh, kw = kernel
    (sh, sw), (dh, dw) = stride, dilation
    oh, ow = output_size(x.shape[-2], kh, sh, dh), output_size(x.shape[-1], kw, sw, dw)
    if oh < 1 or ow < 1:
        raise ValueError(f"a {kh}x{kw} window (dilation {dilation}) does not fit in an input of shape {x.shape}")
    # window (i, j) starts at row s*i, column t*j; its element (a, b) sits d*a rows, e*b columns further on
    row, col = x.strides[-2:]
    return np.lib.stride_tricks.as_strided(x, x.shape[:-2] + (oh, ow, kh, kw),
                                           x.strides[:-2] + (sh * row, sw * col, dh * row, dw * col),
                                           writeable=False)


def add_windows_back(windows_grad, input_shape, kernel, stride=(1, 1), dilation=(1, 1)):
    """The adjoint of sliding_windows: every window element's gradient added to the input it viewed.

    dL/dx[..., p, q] = sum over (i, j, a, b) with s*i + d*a = p and t*j + e*b = q
                       of dL/dwindows[..., i, j, a, b]

    One strided slice add per kernel offset (a, b): kh*kw vectorised adds.
    Windows that do not overlap (stride at least the window's extent, as in
    2x2 pooling) never share an input, so there each add is a plain copy.
    """
    kh, kw = kernel
    (sh, sw), (dh, dw) = stride, dilation
    oh, ow = windows_grad.shape[-4], windows_grad.shape[-3]
    disjoint = sh >= dh * (kh - 1) + 1 and sw >= dw * (kw - 1) + 1
    # windows that tile the input exactly write every element once: nothing to zero first
    tiled = (sh, sw) == (kh, kw) and dh == dw == 1 and (oh * sh, ow * sw) == tuple(input_shape[-2:])
    grad = _like(windows_grad, input_shape, np.empty if tiled else np.zeros)
    for a in range(kh):
        for b in range(kw):
            rows = slice(a * dh, a * dh + sh * (oh - 1) + 1, sh)
            cols = slice(b * dw, b * dw + sw * (ow - 1) + 1, sw)
            if disjoint:
                grad[..., rows, cols] = windows_grad[..., a, b]
            else:
                grad[..., rows, cols] += windows_grad[..., a, b]
    return grad


def _like(windows_grad, input_shape, make):
    """A new array of input_shape whose leading axes lie in memory in the order windows_grad's do,
    so that each slice add walks both arrays the same way (numpy's strided adds are much slower
    when the two disagree)."""
    lead = len(input_shape) - 2
    strides = windows_grad.strides[:lead]
    order = sorted(range(lead), key=lambda i: -strides[i]) + [lead, lead + 1]
    if order == list(range(lead + 2)):
        return make(input_shape, dtype=windows_grad.dtype)
    inverse = [order.index(i) for i in range(lead + 2)]
    return make([input_shape[i] for i in order], dtype=windows_grad.dtype).transpose(inverse)
