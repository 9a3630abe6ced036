"""Where each number sits in memory: the layout choices that keep the Tensor engine fast.

None of this changes a result; it decides which copies are made and how, so
that numpy hands contiguous blocks to BLAS and moves whole rows at a time.
"""
import functools
import math

import numpy as np

from . import buffers
from .windows import copy_rows


def inverse(permutation):
    """The permutation that undoes `permutation` (numpy's argsort of it, without numpy's overhead)."""
    inverse = [0] * len(permutation)
    for i, p in enumerate(permutation):
        inverse[p] = i
    return tuple(inverse)


def resolve_shape(shape, before):
    """shape (a tuple of ints) with its one -1 filled in; a ValueError naming both shapes if the sizes
    cannot match."""
    size = math.prod(before)
    if -1 not in shape:
        if math.prod(shape) == size and min(shape, default=0) >= 0:
            return shape
    elif shape.count(-1) == 1 and min(shape) == -1:
        known = -math.prod(shape)  # the product of the other sizes
        if known > 0 and size % known == 0:
            i = shape.index(-1)
            return shape[:i] + (size // known,) + shape[i + 1:]
    raise ValueError(f"cannot reshape a Tensor of shape {before} ({size} elements) into shape {shape}")


def reshape(x, shape):
    """x's numbers (in C order) in `shape`: a view where one exists, else a copy.

    The copy keeps the runs that are contiguous in x contiguous. For the
    conv's im2col reshape (N, OH, OW, C, kh, kw) -> (N, OH*OW, C*kh*kw) of a
    window view, that means moving whole image rows (OW numbers) rather than
    kw numbers at a time: the columns are stored position-fastest, as in
    PyTorch's im2col, and `@` then keeps that layout (see column_major).
    """
    if x.shape == shape:
        return x
    try:
        return x.reshape(shape, copy=False)
    except TypeError:  # numpy < 2.1 cannot be asked not to copy
        return x.reshape(shape)
    except ValueError as e:  # a copy is needed; but an empty array never needs one, so then numpy refuses the shape
        if x.size == 0:
            raise ValueError(f"cannot reshape an array of shape {x.shape} into shape {shape}: {e}") from None
    plan = _copy_plan(x.shape, x.strides, tuple(shape))
    if plan is None:  # C order is already the order of x's runs
        return x.reshape(shape)
    source_axes, source_shape, target_shape, back, inner = plan
    copy = empty_rows(x.size // inner, inner, x.dtype).reshape(source_shape)
    copy_rows(copy, x.transpose(source_axes))
    return copy.reshape(target_shape).transpose(back)


@functools.lru_cache(maxsize=256)
def _copy_plan(before, strides, shape):
    """How reshape copies an array of shape `before` with `strides` into `shape`: (the source axes
    in the copy's order, the copy's shape, that shape regrouped as the target's axes, the transpose
    back to `shape`, the length of one row of the copy), or None for a plain C-order copy. (Cached:
    a training step reshapes the same few layouts every time.)"""
    blocks = equal_size_blocks(before, shape)

    def innermost(block):  # the stride and length of the block's last real axis
        axes = [i for i in block[0] if before[i] > 1]
        return (abs(strides[axes[-1]]), -before[axes[-1]]) if axes else (np.inf, 0)
    order = sorted(range(len(blocks)), key=lambda k: innermost(blocks[k]), reverse=True)
    if order == list(range(len(blocks))):
        return None
    source_axes = tuple(i for k in order for i in blocks[k][0])
    target_axes = [i for k in order for i in blocks[k][1]]
    inner = math.prod([before[i] for i in blocks[order[-1]][0]])  # the last block: one row of the copy
    return (source_axes, tuple(before[i] for i in source_axes), tuple(shape[i] for i in target_axes),
            inverse(target_axes), inner)


def equal_size_blocks(source, target):
    """Cut two shapes of the same (nonzero) size into the finest consecutive blocks of equal size.

    [(source axes, target axes), ...]: a reshape regroups axes only inside a block.
    """
    blocks, i, j = [], 0, 0
    while i < len(source) and j < len(target):
        src, dst, ps, pt = [i], [j], source[i], target[j]
        i, j = i + 1, j + 1
        while ps != pt:
            if ps < pt:
                src.append(i)
                ps, i = ps * source[i], i + 1
            else:
                dst.append(j)
                pt, j = pt * target[j], j + 1
        blocks.append((src, dst))
    blocks[-1][0].extend(range(i, len(source)))  # trailing size-1 axes
    blocks[-1][1].extend(range(j, len(target)))
    return blocks


def transposed(m):
    return m.swapaxes(-1, -2)


def column_major(m):
    """True if each matrix in m is stored column by column (and is not one row or column)."""
    return m.ndim >= 2 and min(m.shape[-2:]) > 1 and m.strides[-2] == m.itemsize \
        and m.strides[-1] >= m.shape[-2] * m.itemsize


def empty_rows(rows, row_length, dtype):
    """An uninitialised (rows, row_length) array whose rows do not start a multiple of 4 KB apart.

    When rows are a whole number of 4096-byte pages long (8192 float32s: a conv's im2col matrix
    for 32 images of 16x16), every row starts in the same few cache sets. OpenBLAS products reading
    or writing such a (144, 8192) float32 matrix measured 10-15% slower here, which is about 2% of
    a whole conv forward and backward. One spare cache line after each row spreads the rows out:
    the array is a view that leaves it unused.
    """
    dtype = np.dtype(dtype)
    if (row_length * dtype.itemsize) % 4096 or rows < 16:
        return buffers.empty((rows, row_length), dtype)
    return buffers.empty((rows, row_length + 64 // dtype.itemsize), dtype)[:, :row_length]


BLOCK = 4096  # how long a piece of a long, thin product one BLAS call gets (see product)


def product(a, b):
    """a @ b (numpy's matmul), its rows laid out by empty_rows.

    A long, thin product (a conv's im2col matrix of 50,000 rows times a handful of filters, or
    its gradient) is computed in pieces of BLOCK along its long side: numpy's OpenBLAS did such
    products 2-4x faster in pieces than whole here (50176x25 times 25x6: 0.22 ms against 0.53 ms
    with one thread, 0.79 ms with two; 9x43264 times 43264x8: 0.10 ms against 0.36). The sums
    are the same, each number added in the same order within a piece.
    """
    if a.ndim < 2 or b.ndim < 2:
        return a @ b
    (m, n), p = a.shape[-2:], b.shape[-1]
    longest = max(m, n, p)
    if longest >= 4 * BLOCK and m * n * p <= 1024 * longest:
        return _in_pieces(a, b)
    if m * p * a.itemsize < buffers.SMALLEST_BYTES:
        return a @ b  # (checked early: most products are small, and this one is on their path)
    return np.matmul(a, b, out=_empty_product(a, b))


def _empty_product(a, b):
    batch = a.shape[:-2] if a.shape[:-2] == b.shape[:-2] else np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    shape = batch + (a.shape[-2], b.shape[-1])
    dtype = a.dtype if a.dtype == b.dtype else np.result_type(a.dtype, b.dtype)  # (result_type costs a few us)
    return empty_rows(math.prod(shape[:-1]), shape[-1], dtype).reshape(shape)


def _in_pieces(a, b):
    """a @ b as a loop over pieces of BLOCK along its longest side (rows of a, columns of b, or
    the inner side, where the pieces' products are summed)."""
    (m, n), p = a.shape[-2:], b.shape[-1]
    if n >= max(m, p):  # the inner side: out = sum over pieces of a[:, piece] @ b[piece, :]
        out = a[..., :, :BLOCK] @ b[..., :BLOCK, :]
        for i in range(BLOCK, n, BLOCK):
            out += a[..., :, i:i + BLOCK] @ b[..., i:i + BLOCK, :]
        return out
    out = _empty_product(a, b)
    for i in range(0, max(m, p), BLOCK):
        if p >= m:
            np.matmul(a, b[..., :, i:i + BLOCK], out=out[..., :, i:i + BLOCK])
        else:
            np.matmul(a[..., i:i + BLOCK, :], b, out=out[..., i:i + BLOCK, :])
    return out


def blas_ready(m):
    """m, copied if needed so that each matrix has one unit stride: numpy hands only those to BLAS
    (a broadcast gradient, with stride 0, would otherwise go through a slow generic loop)."""
    if m.ndim < 2:
        return m
    (rows, cols), (rs, cs), item = m.shape[-2:], m.strides[-2:], m.itemsize
    if (cs == item or cols == 1) and rs >= cols * item or (rs == item or rows == 1) and cs >= rows * item:
        return m
    return contiguous_copy(m)


def contiguous_copy(m):
    """A C-ordered copy of m (np.ascontiguousarray's, always a copy), in a cached buffer."""
    copy = buffers.empty(m.shape, m.dtype)
    copy_rows(copy, m)
    return copy
