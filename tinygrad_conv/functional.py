"""Layers written once for both engines: a grid of Values in, a grid out; a Tensor in, a Tensor out.

Each layer is composed from a handful of backend ops (`pad`, `reduce_windows`,
`window_rows`, `matmul`, `rows_to_images`, `reduce_sum/mean/max`,
`log_softmax`, `nll_loss`, `relu`) that `grid_ops` builds from Value primitives and
`tensor_ops` from Tensor primitives. No layer has
a backward of its own: its gradient is whatever reverse mode makes of the ops
it was composed from. For a conv that is the textbook result

    o[n,k,i,j]    = sum_{c,a,b} x_pad[n, c, s*i + d*a, s*j + d*b] * W[k,c,a,b]  (+ bias[k])
    dL/dW[k,c,a,b] = sum_{n,i,j} dL/do[n,k,i,j] * x_pad[n, c, s*i + d*a, s*j + d*b]

because W[k,c,a,b] is one factor of one product in every output o[n,k,i,j].
"""
import functools
import math
import numbers

import numpy as np

from . import grid_ops
from .grid import name_grid
from .value import Value
from .windows import as_pair, output_size


def _backend(x, what="x"):
    """The ops module for x's engine: grid_ops for a grid of Values, tensor_ops for a Tensor."""
    if type(x).__name__ == "Tensor":
        tensor_ops = _tensor_ops()
        if isinstance(x, tensor_ops.Tensor):
            return tensor_ops
    if isinstance(x, (np.ndarray, Value)) or isinstance(x, (list, tuple)):
        return grid_ops
    raise TypeError(f"{what} must be a grid of Values (numpy array, dtype=object) or a Tensor, "
                    f"got {type(x).__name__}")


@functools.cache
def _tensor_ops():
    from . import tensor_ops  # imported on first use: grid users never need it
    return tensor_ops  # (cached: an import statement costs a microsecond on every call)


def _named(B, out, name):
    """Grid outputs get their textbook names (o11 ...); Tensors have none."""
    if B is grid_ops and name is not None:
        name_grid(out, name)
    return out


def _check_fits(H, W, kernel, dilation, padding, what, shape):
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    if span[0] > H + 2 * padding[0] or span[1] > W + 2 * padding[1]:
        raise ValueError(f"{what} of extent {span[0]}x{span[1]} (kernel {kernel[0]}x{kernel[1]}, dilation "
                         f"{dilation}) is larger than the padded input {H + 2 * padding[0]}x{W + 2 * padding[1]} "
                         f"(input shape {shape}, padding {padding})")


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, name="o"):
    """2-D cross-correlation, as PyTorch's conv2d: windows, multiply, sum.

    x (H, W) with weight (kh, kw) gives (OH, OW); x (C, H, W) or (N, C, H, W)
    with weight (K, C // groups, kh, kw) gives (K, OH, OW) or (N, K, OH, OW),
    where OH = floor((H + 2p - d*(kh-1) - 1) / s) + 1.

    On grids every output is one `Value.sum` of `input * weight` products
    (plus the bias), named o11 ... (or `name`).
    """
    B = _backend(x)
    x, weight = B.check(x, "conv2d input"), B.check(weight, "conv2d weight")
    stride, padding, dilation = as_pair(stride, "stride", 1), as_pair(padding, "padding", 0), \
        as_pair(dilation, "dilation", 1)
    x4, w4 = _as_batch(x, weight, groups)  # (N, C, H, W) and (K, C/groups, kh, kw)
    N, C, H, W = x4.shape
    K, Cg, kh, kw = w4.shape
    _check_fits(H, W, (kh, kw), dilation, padding, "filter", x.shape)
    if bias is not None:
        bias = B.check(bias, "conv2d bias")
        if bias.size != K or bias.ndim > 1:
            raise ValueError(f"bias must have shape ({K},), one per output channel, got {bias.shape}")
        if groups > 1:  # (one group's bias, shape (K,), already lines up with its product's columns)
            bias = bias.reshape(groups, 1, K // groups)  # one per column of each group's product

    OH = output_size(H + 2 * padding[0], kh, stride[0], dilation[0])
    OW = output_size(W + 2 * padding[1], kw, stride[1], dilation[1])

    x_pad = B.pad(x4, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2), 0.0)
    # im2col: one row per window of every image, holding the window in (c, a, b) order, so that
    # one matmul per group makes every output: o = window . filter (+ bias)
    rows = B.window_rows(x_pad, (kh, kw), stride, dilation, groups)  # (groups, N*OH*OW, Cg*kh*kw)
    filters = w4.reshape(groups, K // groups, Cg * kh * kw)  # one row per filter
    out = B.matmul(rows, filters, bias, transpose_b=True)  # rows @ filters^T, (groups, N*OH*OW, K/groups)
    out = B.rows_to_images(out, x_pad, OH, OW)  # (N, K, OH, OW)
    return _named(B, out if x.ndim == 4 else out.reshape(out.shape[4 - x.ndim:]), name)


def _as_batch(x, weight, groups):
    """x as (N, C, H, W) and the weight as (K, C/groups, kh, kw), with every shape checked."""
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"groups must be a positive int, got {groups!r}")
    if x.ndim == 2:
        if weight.ndim != 2:
            raise ValueError(f"a 2-D input {x.shape} needs a 2-D filter (kh, kw), got weight of shape {weight.shape}")
        x4, w4 = x.reshape(1, 1, *x.shape), weight.reshape(1, 1, *weight.shape)
    elif x.ndim in (3, 4):
        if weight.ndim != 4:
            raise ValueError(f"input of shape {x.shape} needs a weight of shape (K, C/groups, kh, kw), "
                             f"got {weight.shape}")
        x4, w4 = (x.reshape(1, *x.shape) if x.ndim == 3 else x), weight
    else:
        raise ValueError(f"conv2d input must be (H, W), (C, H, W) or (N, C, H, W), got shape {x.shape}")
    C, (K, Cg, kh, kw) = x4.shape[1], w4.shape
    if C % groups or K % groups:
        raise ValueError(f"groups={groups} must divide both the input channels ({C}, input {x.shape}) and the "
                         f"output channels ({K}, weight {weight.shape})")
    if Cg != C // groups:
        raise ValueError(f"weight {weight.shape} expects {Cg * groups} input channels (C/groups = {Cg}), "
                         f"but the input {x.shape} has {C}")
    if min(kh, kw) < 1:
        raise ValueError(f"weight {weight.shape} has an empty kernel")
    return x4, w4


def _pool(x, kernel_size, stride, padding, pad_value, reduce_name, name, **reduce_options):
    B = _backend(x)
    x = B.check(x, "pooling input")
    kernel = as_pair(kernel_size, "kernel_size", 1)
    stride = kernel if stride is None else as_pair(stride, "stride", 1)
    padding = as_pair(padding, "padding", 0)
    if x.ndim < 2:
        raise ValueError(f"pooling needs an input of at least 2 dimensions (..., H, W), got shape {x.shape}")
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"padding {padding} must be at most half the kernel size {kernel}")
    H, W = x.shape[-2:]
    _check_fits(H, W, kernel, (1, 1), padding, "pooling window", x.shape)
    x_pad = B.pad(x, ((0, 0),) * (x.ndim - 2) + ((padding[0],) * 2, (padding[1],) * 2), pad_value)
    # every output reduces one window: reduce(windows(x_pad), over the window's two axes (-2, -1))
    out = B.reduce_windows(x_pad, kernel, stride, getattr(B, reduce_name), **reduce_options)
    return _named(B, out, name)


def max_pool2d(x, kernel_size, stride=None, padding=0, name="p"):
    """The largest value in each window; its gradient goes to that one input (the first, on ties).

    A nan is larger than every number; in a window with several nans the LAST takes the
    gradient, as in PyTorch's CPU max_pool2d (torch.max, and Value.max, take the first).
    Padding is -inf, so a padded position never beats a real input (as in PyTorch). (Only a window
    whose real inputs are all -inf ties with its padding, and there the first of them, possibly a
    padded one, takes the gradient; PyTorch gives it to a real one.)
    """
    return _pool(x, kernel_size, stride, padding, -np.inf, "reduce_max", name, last_nan=True)


def avg_pool2d(x, kernel_size, stride=None, padding=0, name="p"):
    """The mean of each kh x kw window; each input in it gets 1/(kh*kw) of the window's gradient.

    Padding is zeros that count in the mean, as PyTorch's default (count_include_pad=True).
    """
    return _pool(x, kernel_size, stride, padding, 0.0, "reduce_mean", name)


def global_avg_pool2d(x, name="p"):
    """The mean over the last two axes: p = (o11 + o12 + ... + o_HW) / (H*W)."""
    B = _backend(x)
    x = B.check(x, "global_avg_pool2d input")
    if x.ndim < 2:
        raise ValueError(f"global_avg_pool2d needs an input of at least 2 dimensions (..., H, W), got {x.shape}")
    if x.shape[-2] * x.shape[-1] == 0:  # the mean of no numbers: 0 / 0
        raise ValueError(f"global_avg_pool2d needs a grid of at least 1x1 to average over, got shape {x.shape}")
    return _named(B, B.reduce_mean(x, (-2, -1)), name)


def global_max_pool2d(x, name="p"):
    """The largest value over the last two axes: p = max(o11, o12, ..., o_HW).

    max_pool2d with one window the size of the whole grid, without its window axes: a 2-D grid
    gives one Value (a Tensor of shape ()), as global_avg_pool2d does, not a (1, 1) grid. The
    gradient goes to that one input, under max_pool2d's rules (the first on ties; of several
    nans, the last).
    """
    B = _backend(x)
    x = B.check(x, "global_max_pool2d input")
    if x.ndim < 2:
        raise ValueError(f"global_max_pool2d needs an input of at least 2 dimensions (..., H, W), got {x.shape}")
    if x.shape[-2] * x.shape[-1] == 0:  # the max of no numbers
        raise ValueError(f"global_max_pool2d needs a grid of at least 1x1 to take the max of, got shape {x.shape}")
    return _named(B, B.reduce_max(x, (-2, -1), last_nan=True), name)


def relu(x, name=None):
    """max(0, x) elementwise."""
    B = _backend(x)
    return _named(B, B.relu(B.check(x, "relu input")), name)


def linear(x, weight, bias=None, name=None):
    """x @ weight.T + bias, with weight (out, in) as in PyTorch; x is (in,) or (..., in).

    On grids each output is one `Value.sum` of `x_i * W_ji` products and b_j.
    """
    B = _backend(x)
    x, weight = B.check(x, "linear input"), B.check(weight, "linear weight")
    if weight.ndim != 2:
        raise ValueError(f"linear weight must be (out, in), got shape {weight.shape}")
    if x.ndim < 1 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear input {x.shape} must end in in_features = {weight.shape[1]} "
                         f"(weight {weight.shape})")
    if bias is not None:
        bias = B.check(bias, "linear bias")
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"linear bias must have shape ({weight.shape[0]},), got {bias.shape}")
    rows = x if x.ndim == 2 else x.reshape(math.prod(x.shape[:-1]), weight.shape[1])
    out = B.matmul(rows, weight, bias, transpose_b=True)  # x W^T + b
    return _named(B, out if x.ndim == 2 else out.reshape(*x.shape[:-1], weight.shape[0]), name)


def mse_loss(pred, target):
    """mean((pred - target)**2) over all elements, as PyTorch's default; a target of one number
    is compared with every element."""
    B = _backend(pred, "pred")
    pred = B.check(pred, "mse_loss pred")
    if _is_kind(B, target):
        target = B.check(target, "mse_loss target")
    else:
        try:
            numbers_in = np.asarray(target)
        except (TypeError, ValueError):  # a ragged list: numpy's own message would not say which argument
            numbers_in = np.asarray(None)
        # real numbers only: None would become nan, and a complex target would lose its imaginary part
        if numbers_in.dtype.kind not in "biuf":
            raise TypeError(f"mse_loss target must be numbers, real ones (or a grid / Tensor like pred), got "
                            f"{target!r} of type {type(target).__name__}")
        target = B.constant(numbers_in, like=pred)
    if target.shape != pred.shape and target.shape != ():
        raise ValueError(f"mse_loss needs pred and target of the same shape (or a target of one number), got "
                         f"{pred.shape} and {target.shape}")
    return B.reduce_mean((pred - target) ** 2)


def cross_entropy(logits, target):
    """mean over the batch of -log softmax(logits)[target] = logsumexp(logits) - logits[target].

    logits (N, classes) with target (N,) class indices, or logits (classes,) with one index.
    """
    B = _backend(logits, "logits")
    logits = B.check(logits, "cross_entropy logits")
    if logits.ndim not in (1, 2):
        raise ValueError(f"cross_entropy logits must be (N, classes) or (classes,), got shape {logits.shape}")
    from_tensor = type(target).__name__ == "Tensor"
    labels = np.asarray(target.data if from_tensor else target)
    if from_tensor and np.all(labels == np.round(labels)):  # a Tensor holds floats: whole ones are labels
        labels = labels.astype(np.int64)
    if labels.dtype.kind not in "iu":  # (signed or unsigned integers; np.issubdtype costs a few us)
        raise TypeError(f"cross_entropy target must be integer class indices, got dtype {labels.dtype}"
                        + (" with numbers that are not whole" if from_tensor else ""))
    if labels.shape != logits.shape[:-1]:
        raise ValueError(f"cross_entropy target must have shape {logits.shape[:-1]} for logits {logits.shape}, "
                         f"got {labels.shape}")
    classes = logits.shape[-1]
    if classes == 0:
        raise ValueError(f"cross_entropy logits of shape {logits.shape} have no classes")
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"cross_entropy target indices must be in 0..{classes - 1}, got values from "
                         f"{labels.min()} to {labels.max()}")
    # log softmax computed as (z - m) - log sum exp(z - m), m a row's largest logit: written as
    # z_t - logsumexp(z), the large parts would cancel only after rounding (logits of 1000 in
    # float32 would lose four digits of the loss)
    log_probs = B.log_softmax(logits, -1)
    if logits.ndim == 1:
        return -log_probs[int(labels)]
    return B.nll_loss(log_probs, labels)  # -mean over n of log_probs[n, labels[n]]


def _is_kind(B, x):
    if B is grid_ops:
        return isinstance(x, Value) or (isinstance(x, np.ndarray) and x.dtype == object)
    return type(x) is B.Tensor
