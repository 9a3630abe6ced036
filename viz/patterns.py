"""The two patterns in a conv's gradients, computed with plain numpy to check what the graph gave.

For one channel pair, stride s and dilation d (per axis):

    dL/dW[a,b] = sum_{i,j} x_pad[s*i + d*a, s*j + d*b] * dL/do[i,j]
               = the valid cross-correlation of the input with dL/do,
                 dL/do's entries s apart (holes between them), read every d-th place;

    dL/dx_pad[p,q] = sum_{i,j,a,b : s*i + d*a = p, s*j + d*b = q} dL/do[i,j] * W[a,b]
               = the full convolution of dL/do (with s-1 zeros between entries)
                 with the filter (taps d apart), i.e. the full cross-correlation
                 with the filter flipped (rotated 180 degrees).

These are independent of the graph: they take only the numbers.
"""
import numpy as np


def correlate(x, kernel, dilation=(1, 1), stride=(1, 1)):
    """Valid cross-correlation: out[p,q] = sum_{i,j} x[st_h*p + dil_h*i, st_w*q + dil_w*j] * kernel[i,j]."""
    x, kernel = np.asarray(x, dtype=np.float64), np.asarray(kernel, dtype=np.float64)
    (kh, kw), (dh, dw), (sh, sw) = kernel.shape, dilation, stride
    rows = (x.shape[0] - dh * (kh - 1) - 1) // sh + 1
    cols = (x.shape[1] - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((max(rows, 0), max(cols, 0)))
    for i in range(kh):
        for j in range(kw):
            out += kernel[i, j] * x[dh * i: dh * i + sh * (rows - 1) + 1: sh, dw * j: dw * j + sw * (cols - 1) + 1: sw]
    return out


def with_holes(g, stride):
    """g with stride-1 zeros inserted between neighbouring entries (what a stride does to dL/do)."""
    g = np.asarray(g, dtype=np.float64)
    (sh, sw) = stride
    out = np.zeros(((g.shape[0] - 1) * sh + 1, (g.shape[1] - 1) * sw + 1))
    out[::sh, ::sw] = g
    return out


def weight_gradient(x_pad, grad_out, stride, dilation, kernel_shape):
    """dL/dW: the input cross-correlated with dL/do spread out by the stride, sampled every `dilation`."""
    return correlate(x_pad, grad_out, dilation=stride, stride=dilation)[:kernel_shape[0], :kernel_shape[1]]


def input_gradient(grad_out, weight, stride, dilation):
    """dL/dx_pad: the full convolution of dL/do (holes for the stride) with the filter, taps `dilation` apart."""
    holes = with_holes(grad_out, stride)
    (kh, kw), (dh, dw) = np.shape(weight), dilation
    padded = np.pad(holes, ((dh * (kh - 1),) * 2, (dw * (kw - 1),) * 2))
    flipped = np.asarray(weight, dtype=np.float64)[::-1, ::-1]
    return correlate(padded, flipped, dilation=dilation)
