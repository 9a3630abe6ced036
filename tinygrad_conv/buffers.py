"""A small cache of the Tensor engine's large arrays, reused once the graph that held them is freed.

Every op makes its result in a new array, and a training step makes the same
arrays (the same shapes) step after step. A large array, though, does not
come from Python's or C's heap: the C allocator maps fresh pages from the
operating system for it and hands them back when it is freed, so every step
pays a page fault on every 4 KB it writes. On this project's machine that was
more than half the time of a small conv's forward and backward.

So the engine asks `empty(shape, dtype)` for its large arrays, and this
module keeps each one it hands out. An array is free again when nothing but
this cache refers to it: no Tensor's data or grad, no view, no saved VJP
input. That is when the graph holding it has been freed. `sys.getrefcount`
tells: the cache's own references are the only ones left. No result ever
changes, and no process-wide setting is touched.

The cache holds at most `LIMIT_BYTES`; beyond that, arrays no one uses are
dropped (the least recently asked-for shapes first), and if all are in use
new arrays are simply not kept. `clear()` drops every unused array now.
"""
import functools
import math
import sys
import threading

import numpy as np

SMALLEST_BYTES = 32 * 1024  # smaller arrays come from the heap, which reuses them cheaply
LIMIT_BYTES = 128 * 1024 * 1024

_cache = {}  # (shape, dtype) -> [arrays]; a dict keeps insertion order: least recently used first
_held = [0]  # bytes in the cache, in use or not
_lock = threading.Lock()  # so that two threads never both take the same free array

# The references to a cached array that no one else holds: its list, the loop variable, and
# getrefcount's own argument.
_UNUSED = 3


def empty(shape, dtype):
    """An uninitialised array of `shape` and `dtype` that no one else refers to (as np.empty)."""
    dtype = np.dtype(dtype)
    nbytes = dtype.itemsize * math.prod(shape)
    if nbytes < SMALLEST_BYTES:
        return np.empty(shape, dtype)
    key = (shape if type(shape) is tuple else tuple(shape), dtype)
    with _lock:
        arrays = _cache.pop(key, None)
        if arrays is None:
            arrays = []
        _cache[key] = arrays  # (re)inserted last: the most recently used
        for array in arrays:
            if sys.getrefcount(array) == _UNUSED:
                return array
        if _held[0] + nbytes > LIMIT_BYTES:
            _drop_unused(LIMIT_BYTES - nbytes)
        array = np.empty(shape, dtype)
        if _held[0] + nbytes <= LIMIT_BYTES:
            arrays.append(array)
            _held[0] += nbytes
        return array


def zeros(shape, dtype):
    """As np.zeros, from the cache."""
    array = empty(shape, dtype)
    array.fill(0)
    return array


def empty_like(array, dtype=None, outer=()):
    """An uninitialised array of array's shape, laid out in memory as array is (numpy's order "K"),
    so that copying between the two walks both the same way. `outer`: extra leading axes, each
    a whole copy of that layout (a stack of arrays like `array`)."""
    dtype = array.dtype if dtype is None else np.dtype(dtype)
    if not outer and array.size * dtype.itemsize < SMALLEST_BYTES:
        return np.empty_like(array, dtype)  # (numpy's, laid out the same way: order "K")
    if array.flags.c_contiguous or array.ndim < 2:
        return empty(tuple(outer) + array.shape, dtype)
    shape, axes = _memory_order(array.shape, array.strides, tuple(outer))
    return empty(shape, dtype).transpose(axes)


@functools.lru_cache(maxsize=256)
def _memory_order(shape, strides, outer):
    """(the shape of array's numbers in memory order, after the outer axes; the transpose that
    views them in array's order). Cached: a training step asks about the same few layouts."""
    order = sorted(range(len(shape)), key=lambda i: -abs(strides[i]))  # largest stride first
    lead = len(outer)
    back = sorted(range(len(shape)), key=order.__getitem__)
    return outer + tuple(shape[i] for i in order), tuple(range(lead)) + tuple(lead + j for j in back)


def _drop_unused(target):
    """Forget unused arrays, least recently used shapes first, until at most `target` bytes are held."""
    for key in list(_cache):
        arrays = _cache[key]
        for i in reversed(range(len(arrays))):
            if _held[0] <= target:
                return
            if sys.getrefcount(arrays[i]) == _UNUSED - 1:  # (only the list and getrefcount's argument)
                _held[0] -= arrays.pop(i).nbytes  # (by position: `remove` would compare arrays with ==)
        if not arrays:
            del _cache[key]


def clear():
    """Drop every cached array that no one uses (they go back to the operating system)."""
    with _lock:
        _drop_unused(0)


def held_bytes():
    """How many bytes the cache holds, in use or not."""
    return _held[0]
