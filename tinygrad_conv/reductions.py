"""Reductions over a few positions of a large array (a pooling window), as whole-array steps.

numpy reduces slowly along short strided axes; a loop over the handful of
positions, each step one ufunc call over the whole array, is faster and
makes the max-pool tie rule (the first maximum in C order wins) explicit.
"""
import functools
import math

import numpy as np

from . import buffers
from .layout import inverse, reshape


def reduced_count(shape, axes):
    return math.prod([shape[i] for i in axes])


def few(shape, axes):
    """True when few positions are reduced over a large array (a pooling window): then a loop over
    those positions, each a whole-array ufunc call, beats numpy's reduction along short strided axes."""
    reduced = reduced_count(shape, axes)
    return 1 < reduced <= 16 and math.prod(shape) >= 64 * reduced


def positions(shape, axes):
    """One index per position of the reduced axes, in C order; x[index] keeps all other axes."""
    return _positions(len(shape), tuple(axes), tuple(shape[i] for i in axes))


@functools.lru_cache(maxsize=64)
def _positions(ndim, axes, sizes):  # (a pooling layer asks for the same few every step)
    indices = []
    for position in np.ndindex(*sizes):
        index = [slice(None)] * ndim
        for axis, i in zip(axes, position):
            index[axis] = i
        indices.append(tuple(index))
    return tuple(indices)


def _copy(x, axes, index):
    """x[index] copied into a new (cached) array: in C order, unless x's innermost kept axis is not
    its last (the output of a conv whose batch lies innermost, see tensor_ops.window_rows). Then laid
    out as x is: each whole-array step below would otherwise transpose as it goes."""
    kept = [i for i in range(x.ndim) if i not in axes and x.shape[i] > 1]
    innermost = min(kept, key=lambda i: abs(x.strides[i]), default=None)
    part = x[index]
    copy = buffers.empty(part.shape, x.dtype) if innermost is None or innermost == kept[-1] \
        else buffers.empty_like(part)
    np.copyto(copy, part)
    return copy


def reduce(x, axes, ufunc):
    """ufunc (np.add) over `axes` of x, as a new array."""
    if few(x.shape, axes):
        total = None
        for index in positions(x.shape, axes):
            total = _copy(x, axes, index) if total is None else ufunc(total, x[index], out=total)
        return total
    return np.asarray(ufunc.reduce(x, axis=axes))


def argmax(x, axes, last_nan=False):
    """(the max over axes, which reduced position holds it): the first, in C order, on ties.

    A nan counts as larger than every number: the max is nan, and its gradient goes to the first
    nan (as torch.max), or to the last with last_nan=True (as PyTorch's CPU max_pool2d).
    """
    if few(x.shape, axes) and tuple(x.shape[i] for i in axes) == (2, 2):  # pooling's usual window
        found = _argmax_of_two_pairs(x, axes)
        if found is not None:
            return found
    elif few(x.shape, axes):  # a running maximum over the window's positions, in C order
        first, *others = positions(x.shape, axes)
        best = _copy(x, axes, first)
        winner = buffers.empty_like(best, np.uint8)  # (laid out as best is)
        winner.fill(0)
        v, better = buffers.empty_like(best), buffers.empty_like(best, np.uint8)
        for k, index in enumerate(others, start=1):
            np.copyto(v, x[index])  # the one strided read; the steps below run along whole arrays
            np.greater(v, best, out=better.view(bool))  # strictly: on a tie the earlier position keeps its win
            np.maximum(best, v, out=best)
            np.multiply(better, np.uint8(k), out=better)
            np.maximum(winner, better, out=winner)  # k only grows: the last improvement wins
        if not np.isnan(best.max()):  # (max is nan if any number is: one pass, no temporary)
            return best, winner
        # v > nan is never true, so the winners of windows holding a nan are wrong: find them all anew
    kept_axes = [i for i in range(x.ndim) if i not in axes]
    # the reduced axes moved last and flattened: argmax finds the first maximum in C order
    rows = reshape(x.transpose(kept_axes + list(axes)),
                    tuple(x.shape[i] for i in kept_axes) + (reduced_count(x.shape, axes),))
    winner = rows.argmax(axis=-1)  # numpy's argmax, like max, stops at the first nan
    if last_nan:
        nans = np.isnan(rows)
        last = rows.shape[-1] - 1 - nans[..., ::-1].argmax(axis=-1)  # the first nan from the end
        winner = np.where(nans.any(axis=-1), last, winner)
    return np.take_along_axis(rows, winner[..., None], axis=-1)[..., 0], winner


def _argmax_of_two_pairs(x, axes):
    """argmax over a 2x2 window, as a knockout: the better of each row's pair, then the better row.

    Every comparison is strict (>), so the earlier of two equal numbers wins, and the winner is
    the first maximum in C order, as the running maximum finds it, in 10 whole-array steps instead
    of 19. None if some window holds a nan (max keeps it, but a comparison with a nan is never
    true): the caller then finds those winners its own way.
    """
    x00, x01, x10, x11 = (x[index] for index in positions(x.shape, axes))
    top, bottom = buffers.empty_like(x00), buffers.empty_like(x00)  # (laid out as x: the steps run along it)
    np.maximum(x00, x01, out=top)
    np.maximum(x10, x11, out=bottom)
    right_in_top, right_in_bottom, bottom_wins = (buffers.empty_like(x00, np.uint8) for _ in range(3))
    np.greater(x01, x00, out=right_in_top.view(bool))
    np.greater(x11, x10, out=right_in_bottom.view(bool))
    np.greater(bottom, top, out=bottom_wins.view(bool))
    best = np.maximum(top, bottom, out=top)
    if best.size and np.isnan(best.max()):
        return None
    # winner = right_in_top if the top row wins, else 2 + right_in_bottom; in uint8, wrapping:
    # right_in_top + bottom_wins * (2 + right_in_bottom - right_in_top)
    winner = np.subtract(right_in_bottom, right_in_top, out=right_in_bottom)
    np.add(winner, np.uint8(2), out=winner)
    np.multiply(winner, bottom_wins, out=winner)
    return best, np.add(winner, right_in_top, out=winner)


def unstack(stack, shape, axes):
    """A (R, kept...) stack of slices, one per reduced position, as an array of `shape`.

    The reduced positions stay outermost in memory (each slice contiguous),
    which is the layout add_windows_back reads fastest."""
    kept_axes = [i for i in range(len(shape)) if i not in axes]
    full = stack.reshape(tuple(shape[i] for i in axes) + tuple(shape[i] for i in kept_axes))
    return full.transpose(inverse(list(axes) + kept_axes))
