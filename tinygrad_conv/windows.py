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
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)  # the input extent one dilated window covers
    view = np.lib.stride_tricks.sliding_window_view(x, span, axis=(-2, -1))
    return view[..., ::sh, ::sw, ::dh, ::dw]


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
    tiled = disjoint and dh * (kh - 1) + 1 == sh and dw * (kw - 1) + 1 == sw and dh == dw == 1 \
        and oh * sh == input_shape[-2] and ow * sw == input_shape[-1]
    grad = (np.empty if tiled else np.zeros)(input_shape, dtype=windows_grad.dtype)
    for a in range(kh):
        for b in range(kw):
            target = (..., slice(a * dh, a * dh + sh * (oh - 1) + 1, sh), slice(b * dw, b * dw + sw * (ow - 1) + 1, sw))
            if disjoint:
                grad[target] = windows_grad[..., a, b]
            else:
                grad[target] += windows_grad[..., a, b]
    return grad
