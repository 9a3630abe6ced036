"""The Tensor engine: the scalar engine's idea, one numpy array per node instead of one number.

A `Value` stores d(result)/d(input) as a number. For arrays that derivative
is a Jacobian matrix, far too big to store, so every Tensor op instead
keeps a small function, its vector-Jacobian product (VJP):

    vjp(g) = the gradients of the inputs, given g = dL/d(result)

    a + b  ->  (g, g)              a * b  ->  (g * b, g * a)
    a @ b  ->  (g @ b.T, a.T @ g)  x.sum() -> (g broadcast back to x's shape,)

`backward()` walks the graph from the loss back to the leaves, as
`Value.backward` does, and applies each node's VJP in place of
`local * grad`. Where numpy broadcast an input to a larger shape, its
gradient is summed back to the input's own shape, in one place (the loop).

A convolution built from `windows`, `reshape`, `@` and `+` therefore gets
its filter gradients from these few VJPs alone, exactly as the scalar engine
gets them from `*` and `Value.sum`: no conv-specific backward anywhere.

Each VJP is a closure over the op's inputs and the arrays it saved, never
over its own result, so a graph has no reference cycles and is freed the
moment the last reference to its output goes away.

Speed comes from where numbers sit in memory, not from special cases:
a reshape that must copy keeps the source's contiguous runs together (so
the conv's im2col matrix is stored column by column, whole image rows at a
time, as PyTorch's is), `@` keeps its left operand's layout for its result
and gradient (rows that would be whole 4 KB pages get a spare cache line,
see layout.empty_rows), and a reduction over a few positions of a large
array (a pooling window) runs as a handful of whole-array operations.
Large results are written into arrays from a small cache (buffers.py),
reused once the graph that held them is freed, rather than into fresh
memory the operating system must fault in page by page on every step.
"""
import functools
import math
import numbers
import sys

import numpy as np

from . import buffers, layout, reductions
from .windows import add_windows_back, as_pair, copy_rows, output_size, sliding_windows

_grad_enabled = True  # switched off inside `with no_grad():`


class no_grad:
    """Inside `with no_grad():` ops record nothing (evaluation, parameter updates), as in PyTorch."""

    def __enter__(self):
        global _grad_enabled
        self._previous, _grad_enabled = _grad_enabled, False

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._previous


def _as_array(data):
    """data as a float array: float32 stays float32, every other real kind becomes float64."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, (str, bytes)) or data is None:
        raise TypeError(f"Tensor data must be numbers, got {data!r} of type {type(data).__name__}")
    try:
        array = np.asarray(data)
    except ValueError as e:  # ragged nested lists
        raise ValueError(f"Tensor data must be a rectangular array of numbers: {e}") from None
    if array.dtype == np.float32:
        copy = buffers.empty(array.shape, np.float32)  # a copy, so the Tensor owns its numbers
        np.copyto(copy, array)
        return copy
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool) \
            or np.iscomplexobj(array):
        raise TypeError(f"Tensor data must be real numbers, got an array of dtype {array.dtype} "
                        f"and shape {array.shape}"
                        + (" (a grid of Values? use tinygrad_conv.data(grid) for its numbers)"
                           if array.dtype == object else ""))
    return np.array(array, dtype=np.float64)


class Tensor:
    """An array that records how it was computed, so gradients can flow back to it.

    >>> x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x * x).sum()      # y = sum x_ij**2
    >>> y.backward()           # dy/dx = 2x
    >>> x.grad
    array([[2., 4.],
           [6., 8.]])
    """

    __slots__ = ("data", "grad", "requires_grad", "_prev", "_vjp", "_op", "_retain", "__weakref__")
    __array_ufunc__ = None  # `ndarray * Tensor` defers to Tensor.__rmul__ instead of looping over elements

    def __init__(self, data, requires_grad=False):
        if not isinstance(requires_grad, bool):
            raise TypeError(f"requires_grad must be True or False, got {requires_grad!r}")
        _start(self, _as_array(data), requires_grad)

    # ---- what a numpy user expects to find ------------------------------------

    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    dtype = property(lambda self: self.data.dtype)
    T = property(lambda self: self.transpose())

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d Tensor")
        return self.data.shape[0]

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extra = ", requires_grad=True" if self.requires_grad else ""
        extra += f", dtype={self.data.dtype}" if self.data.dtype != np.float64 else ""
        extra += f", op={self._op!r}" if self._op else ""
        return f"Tensor({body}{extra})"

    def numpy(self):
        """The data array itself (shared, as torch's .numpy())."""
        return self.data

    def item(self):
        """The one number a one-element Tensor holds, as a Python float."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a Tensor holding one element, this one has shape {self.shape}")
        return float(self.data.reshape(()))

    def detach(self):
        """The same numbers (shared), cut off from the graph: a new leaf that needs no gradient."""
        return _leaf(self.data)

    def zero_grad(self):
        self.grad = None

    def retain_grad(self):
        """Keep dL/d(self) in .grad after backward() although self is not a leaf (to inspect it);
        it accumulates over backward() calls, as a leaf's does (and as in PyTorch)."""
        self._retain = True
        return self

    # ---- elementwise arithmetic, with numpy broadcasting -----------------------

    def __add__(self, other):  # d(a+b)/da = 1, d(a+b)/db = 1
        a, b = self, _lift(other, self)
        return _result(_broadcast_op(np.add, a, b, "+"), (a, b), "+", lambda g: (g, g))

    def __sub__(self, other):  # d(a-b)/da = 1, d(a-b)/db = -1
        a, b = self, _lift(other, self)
        return _result(_broadcast_op(np.subtract, a, b, "-"), (a, b), "-", lambda g: (g, -g))

    def __mul__(self, other):  # d(a*b)/da = b, d(a*b)/db = a
        a, b = self, _lift(other, self)
        x, y = a.data, b.data
        return _result(_broadcast_op(np.multiply, a, b, "*"), (a, b), "*", lambda g: (g * y, g * x))

    def __truediv__(self, other):  # d(a/b)/da = 1/b, d(a/b)/db = -a/b**2 = -(a/b)/b
        a, b = self, _lift(other, self)
        y = b.data
        out = _broadcast_op(np.divide, a, b, "/")
        return _result(out, (a, b), "/", lambda g: (g / y, -g * out / y))

    def __pow__(self, other):
        """a ** n for a number n, or a ** b for a Tensor b (elementwise).

        d(a**n)/da = n * a**(n-1);  d(a**b)/db = a**b * log(a)
        """
        a = self
        x = a.data
        if not isinstance(other, Tensor) and isinstance(other, numbers.Real) and not isinstance(other, bool):
            n = float(other)
            if n == 2.0:  # the common square, without a general power in its VJP
                return _result(x * x, (a,), "**2", lambda g: (g * (2.0 * x),))
            out = x ** x.dtype.type(n)
            return _result(out, (a,), f"**{n:g}",  # (x**0 is constant: no path back, even for an inf g)
                           lambda g: (g * (n * x ** x.dtype.type(n - 1.0)) if n != 0.0 else np.zeros_like(g),))
        b = _lift(other, self)
        y = b.data
        out = _broadcast_op(np.power, a, b, "**")

        def vjp(g):
            with np.errstate(divide="ignore", invalid="ignore"):
                # where b == 0, a**b is constant in a: no path back, even for an inf g (as PyTorch masks it)
                grad_base = np.where(y == 0.0, 0.0, g * (y * x ** (y - 1.0))).astype(out.dtype, copy=False)
                # a**b * log(a) is undefined for a <= 0; at a == 0 the limit is 0, as the scalar engine takes it
                d_exponent = np.where(x > 0.0, out * np.log(np.where(x > 0.0, x, 1.0)),
                                      np.where(x == 0.0, 0.0, np.nan)).astype(out.dtype, copy=False)
            return grad_base, g * d_exponent
        return _result(out, (a, b), "**", vjp)

    def __neg__(self):  # d(-a)/da = -1
        return _result(-self.data, (self,), "neg", lambda g: (-g,))

    def __radd__(self, other):
        return _lift(other, self) + self

    def __rsub__(self, other):
        return _lift(other, self) - self

    def __rmul__(self, other):
        return _lift(other, self) * self

    def __rtruediv__(self, other):
        return _lift(other, self) / self

    def __rpow__(self, other):
        return _lift(other, self) ** self

    # ---- matrix product ---------------------------------------------------------

    def __matmul__(self, other):
        """a @ b over the last two axes, batch axes broadcast (numpy's matmul); 1-D operands as numpy.

        out[..., i, j] = sum_k a[..., i, k] * b[..., k, j]
        VJP: dL/da = g @ b^T,  dL/db = a^T @ g  (each summed over the batch axes it was broadcast along)
        """
        a, b = self, _lift(other, self)
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul needs operands of at least 1 dimension, got shapes {a.shape} and {b.shape}")
        if a.ndim == 1 and b.ndim == 1:  # two vectors: their dot product
            if a.shape != b.shape:
                raise ValueError(f"matmul shape mismatch: {a.shape} @ {b.shape}")
            return (a * b).sum()
        if a.ndim == 1:  # a vector on the left is a one-row matrix
            out = a.reshape(1, a.shape[0]) @ b
            return out.reshape(*out.shape[:-2], out.shape[-1])
        if b.ndim == 1:  # a vector on the right is a one-column matrix
            return (a @ b.reshape(b.shape[0], 1)).reshape(*a.shape[:-1])
        if a.shape[-1] != b.shape[-2]:
            raise ValueError(f"matmul shape mismatch: {a.shape} @ {b.shape} (inner sizes {a.shape[-1]} "
                             f"and {b.shape[-2]} differ)")
        try:
            batch = a.shape[:-2] if a.shape[:-2] == b.shape[:-2] else np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(f"matmul batch axes of {a.shape} and {b.shape} cannot be broadcast together") from None
        x, y = a.data, b.data
        (m, n), p = x.shape[-2:], y.shape[-1]
        need_a, need_b = a.requires_grad, b.requires_grad

        if x.ndim > 2 and y.size == n * p and x.flags.c_contiguous:
            # b is one matrix (a linear layer's weights): fold a's batch axes into its rows, one BLAS
            # call instead of a loop of small ones; the VJP folds the same way.
            rows = math.prod(x.shape[:-1])  # (not -1: numpy cannot infer it when a size is 0)
            x2, y2 = x.reshape(rows, n), y.reshape(n, p)
            out = layout.product(x2, y2).reshape(batch + (m, p))

            def vjp(g):
                # BLAS needs real strides (g may be broadcast)
                g2 = (g if g.flags.c_contiguous else layout.contiguous_copy(g)).reshape(rows, p)
                return (layout.product(g2, y2.T).reshape(x.shape) if need_a else None,
                        layout.product(x2.T, g2).reshape(y.shape) if need_b else None)
            return _result(out, (a, b), "@", vjp)

        # a stored column by column (the conv's im2col matrix, see layout.reshape): compute
        # out = (b^T a^T)^T, so that out and dL/da come out stored the same way, ready for the next op
        by_columns = layout.column_major(x)
        x, y = layout.blas_ready(x), layout.blas_ready(y)
        out = layout.transposed(layout.product(layout.transposed(y), layout.transposed(x))) if by_columns \
            else layout.product(x, y)

        def vjp(g):
            g = layout.blas_ready(g)
            # dL/db first: dL/da is then the array last written, still in cache for the op that reads it next
            grad_b = layout.product(layout.transposed(x), g) if need_b else None
            if not need_a:
                grad_a = None
            elif by_columns:
                grad_a = layout.transposed(layout.product(y, layout.transposed(g)))
            else:
                grad_a = layout.product(g, layout.transposed(y))
            return grad_a, grad_b
        return _result(out, (a, b), "@", vjp)

    def __rmatmul__(self, other):
        return _lift(other, self) @ self

    # ---- reductions ---------------------------------------------------------------

    def sum(self, axis=None, keepdims=False):
        """Sum over `axis` (an int, a tuple, or None for all).  VJP: g copied to every summed element."""
        axes = _axes(axis, self.shape, "sum")
        shape = self.shape
        out = reductions.reduce(self.data, axes, np.add)
        kept = _keepdims_shape(shape, axes)
        return _result(out.reshape(kept) if keepdims else out, (self,), "sum",
                       lambda g: (_spread(g.reshape(kept), shape),))

    def mean(self, axis=None, keepdims=False):
        """Mean over `axis`: the sum over n elements, / n.  VJP: g / n to each of the n averaged elements."""
        axes = _axes(axis, self.shape, "mean")
        shape = self.shape
        count = math.prod([shape[i] for i in axes])
        if count == 0:
            raise ValueError(f"mean over an empty axis of a Tensor of shape {shape}")
        out = reductions.reduce(self.data, axes, np.add) / self.dtype.type(count)
        kept = _keepdims_shape(shape, axes)
        return _result(out.reshape(kept) if keepdims else out, (self,), "mean",
                       lambda g: (_spread(g.reshape(kept) / g.dtype.type(count), shape),))

    def max(self, axis=None, keepdims=False, last_nan=False):
        """The largest element over `axis`; its gradient goes to the FIRST maximal element only.

        "First" is in C order of the reduced axes: PyTorch's rule for ties in
        max pooling, and `Value.max`'s.  VJP: g to that one element, 0 elsewhere.
        A nan is the largest; of several nans the first wins (torch.max), or the
        last with last_nan=True (PyTorch's CPU max_pool2d; functional.max_pool2d).
        """
        axes = _axes(axis, self.shape, "max")
        shape, x = self.shape, self.data
        if any(shape[i] == 0 for i in axes):
            raise ValueError(f"max over an empty axis of a Tensor of shape {shape}")
        out, winner = reductions.argmax(x, axes, last_nan)  # winner: which position won, 0 .. R-1
        kept = _keepdims_shape(shape, axes)
        winner_count = math.prod([shape[i] for i in axes])

        def vjp(g):
            # g to the winner of each reduction, as one (R, kept...) stack: reduced positions outermost,
            # each slice laid out in memory as the winners are (so no step below walks across the grain)
            positions = np.arange(winner_count, dtype=winner.dtype).reshape((-1,) + (1,) * winner.ndim)
            mask = np.equal(positions, winner, out=buffers.empty_like(winner, bool, outer=(winner_count,)))
            stack = _masked(g.reshape(winner.shape), mask, out=buffers.empty_like(winner, g.dtype, outer=(winner_count,)))
            return (reductions.unstack(stack, shape, axes),)
        return _result(out.reshape(kept) if keepdims else out, (self,), "max", vjp)

    def logsumexp(self, axis=-1, keepdims=False):
        """log(sum(exp(x))) over `axis`, shifted by the largest value so exp cannot overflow.

        log sum_i exp(x_i) = m + log sum_i exp(x_i - m) for any constant m.
        VJP: g * softmax(x) (= g * exp(x - out)).
        """
        axes = _axes(axis, self.shape, "logsumexp")
        x = self.data
        m = x.max(axis=axes, keepdims=True) if x.size else np.zeros(_keepdims_shape(x.shape, axes), x.dtype)
        m = np.where(np.isinf(m), 0.0, m).astype(x.dtype, copy=False)  # all -inf (or an inf): no shift
        e = np.exp(x - m)
        total = e.sum(axis=axes, keepdims=True)
        with np.errstate(divide="ignore"):  # all -inf: log 0 = -inf, the right answer
            out = np.log(total) + m
        shape = self.shape
        kept = out.shape
        return _result(out if keepdims else out.reshape(_reduced_shape(shape, axes)), (self,), "logsumexp",
                       lambda g: (g.reshape(kept) * (e / total),))

    def log_softmax(self, axis=-1):
        """x - logsumexp(x) over `axis`, computed stably.

        VJP: g - softmax(x) * sum(g) over the axis.
        """
        axes = _axes(axis, self.shape, "log_softmax")
        x = self.data
        m = x.max(axis=axes, keepdims=True)
        if np.isfinite(m).all():  # the usual case: each row's sum of exp is at least exp(0) = 1
            shifted = x - m
            out = shifted - np.log(np.exp(shifted).sum(axis=axes, keepdims=True))
        else:  # a row whose largest number is inf, -inf or nan is nan throughout, as in PyTorch (inf - inf)
            finite = np.isfinite(m)
            shifted = x - np.where(finite, m, 0.0).astype(x.dtype, copy=False)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                out = shifted - np.log(np.exp(shifted).sum(axis=axes, keepdims=True))
            out = np.where(finite, out, x.dtype.type(np.nan))
        return _result(out, (self,), "log_softmax",
                       lambda g: (g - np.exp(out) * g.sum(axis=axes, keepdims=True),))

    # ---- elementwise functions -----------------------------------------------------

    def exp(self):  # d exp(a)/da = exp(a)
        out = np.exp(self.data)
        return _result(out, (self,), "exp", lambda g: (g * out,))

    def log(self):  # d log(a)/da = 1/a   (log of a non-positive number is nan or -inf, as numpy and PyTorch)
        x = self.data
        return _result(np.log(x), (self,), "log", lambda g: (g / x,))

    def tanh(self):  # d tanh(a)/da = 1 - tanh(a)**2
        t = np.tanh(self.data)
        return _result(t, (self,), "tanh", lambda g: (g * (1.0 - t * t),))

    def sigmoid(self):  # d s(a)/da = s(a) * (1 - s(a))
        x = self.data
        e = np.exp(-np.abs(x))  # written so that exp cannot overflow
        s = np.where(x >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)
        return _result(s, (self,), "sigmoid", lambda g: (g * (s * (1.0 - s)),))

    def relu(self):  # d relu(a)/da = 0 if a <= 0 else 1 (a nan passes through, as in PyTorch)
        out = buffers.empty_like(self.data)
        out.fill(0)  # (numpy's maximum against an array of zeros runs several times faster than against 0.0)
        np.maximum(self.data, out, out=out)  # (maximum keeps a nan: out != 0 there)
        return _result(out, (self,), "relu", lambda g: (_masked(g, _nonzero(out), out=buffers.empty_like(out, g.dtype)),))

    # ---- movement: the numbers stay, only their places change ----------------------

    def reshape(self, *shape):
        """The same numbers in a new shape (a tuple or ints; one -1 is inferred).  VJP: g reshaped back."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        before = self.data.shape
        if shape == before:
            data = self.data
        else:
            try:  # the usual case, a view of the same numbers: numpy checks the sizes itself
                data = self.data.reshape(shape, copy=False)
            except (ValueError, TypeError):  # a copy is needed, a -1, a bad shape, or numpy < 2.1
                data = None
        if data is not None and data.shape == shape and all(type(n) is int for n in shape):  # (not a -1, not a bool)
            return _result(data, (self,), "reshape", lambda g: (layout.reshape(g, before),))
        if not all(type(n) is int for n in shape):  # (plain ints, the usual case, skip the slower checks)
            if not all(_is_int(n) for n in shape):
                raise TypeError(f"reshape takes ints, got {shape!r}")
            shape = tuple(int(n) for n in shape)
        shape = layout.resolve_shape(shape, before)
        return _result(layout.reshape(self.data, shape), (self,), "reshape", lambda g: (layout.reshape(g, before),))

    def transpose(self, *axes):
        """Axes permuted (reversed if none given), as numpy's transpose.  VJP: g permuted back."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        if not axes:
            axes = tuple(range(self.ndim))[::-1]
        n = self.ndim
        if not (all(type(a) is int for a in axes) and sorted(axes) == list(range(n))):  # check; allow negatives
            if not all(_is_int(a) and -n <= a < n for a in axes) \
                    or sorted(int(a) % n for a in axes) != list(range(n)):
                raise ValueError(f"transpose axes {axes} are not a permutation of the axes of shape {self.shape}")
            axes = tuple(int(a) % n for a in axes)
        inverse = layout.inverse(axes)
        return _result(self.data.transpose(axes), (self,), "transpose", lambda g: (g.transpose(inverse),))

    def contiguous(self):
        """The same numbers stored in the order of the axes (C order), as PyTorch's contiguous().

        A layout op: it changes where the numbers sit in memory, never a value. self if it is
        already so stored.  VJP: g unchanged.
        """
        if self.data.flags.c_contiguous:
            return self
        return _result(layout.contiguous_copy(self.data), (self,), "contiguous", lambda g: (g,))

    def __getitem__(self, index):
        """Indexing and slicing as numpy, including integer-array (fancy) indexing.

        VJP: g scattered back to the indexed places; where an index repeats,
        its gradients add up (np.add.at).
        """
        index = _plain_index(index)
        shape = self.shape
        try:
            out = self.data[index]
        except IndexError as e:
            raise IndexError(f"{e} (indexing a Tensor of shape {shape} with {index!r})") from None
        out = np.asarray(out)  # an int index gives a numpy scalar
        basic = _is_basic(index)

        def vjp(g):
            grad = buffers.zeros(shape, g.dtype)
            if basic:  # slices and ints never pick an element twice
                grad[index] = g
            else:
                np.add.at(grad, index, g)
            return (grad,)
        return _result(out, (self,), "index", vjp)

    def pad(self, pads, value=0.0):
        """Surround the data with `value`: pads = ((before, after), ...), one pair per axis.

        VJP: the gradient of the original part, g with the padding cut off.
        """
        pads = _pads(pads, self.shape)
        if not any(before or after for before, after in pads):
            return self
        inner = tuple(slice(before, before + n) for n, (before, _) in zip(self.shape, pads))
        shape = tuple(n + before + after for n, (before, after) in zip(self.shape, pads))
        out = buffers.empty(shape, self.dtype)
        out.fill(value)
        copy_rows(out[inner], self.data)
        return _result(out, (self,), "pad", lambda g: (g[inner],))

    def windows(self, kernel, stride=1, dilation=1):
        """Sliding kh x kw windows over the last two axes: (..., H, W) -> (..., OH, OW, kh, kw).

        windows[..., i, j, a, b] = x[..., s*i + d*a, t*j + e*b], a strided view (no copy).
        VJP: every window element's gradient added back to the input it viewed
        (windows.add_windows_back). A movement op, the same for conv and pooling.
        """
        kernel, stride, dilation = (as_pair(kernel, "kernel"), as_pair(stride, "stride"),
                                    as_pair(dilation, "dilation"))
        if self.ndim < 2:
            raise ValueError(f"windows need an input of at least 2 dimensions (..., H, W), got shape {self.shape}")
        H, W = self.shape[-2:]
        if output_size(H, kernel[0], stride[0], dilation[0]) < 1 or \
                output_size(W, kernel[1], stride[1], dilation[1]) < 1:
            raise ValueError(f"a {kernel[0]}x{kernel[1]} window (dilation {dilation}) does not fit in "
                             f"the input of shape {self.shape}")
        shape = self.shape
        out = sliding_windows(self.data, kernel, stride, dilation)
        return _result(out, (self,), "windows",
                       lambda g: (add_windows_back(g, shape, kernel, stride, dilation),))

    # ---- reverse mode ------------------------------------------------------------------

    def backward(self, gradient=None):
        """Fill in dL/dx as x.grad for every leaf x (requires_grad=True) that self depends on.

        self must hold one element (a loss): its own gradient is seeded with 1
        (or pass `gradient`, an array of self's shape). Leaves accumulate
        across calls (call zero_grad between steps, as in PyTorch); other
        nodes keep their gradient only if retain_grad() was called.
        """
        if gradient is None:
            if self.data.size != 1:
                raise ValueError(f"backward() needs a Tensor holding one element (a loss); this one has shape "
                                 f"{self.shape}. Reduce it first (e.g. .sum()), or pass gradient=")
            gradient = np.ones_like(self.data)
        else:
            gradient = np.array(gradient.data if isinstance(gradient, Tensor) else gradient, dtype=self.dtype)
            if gradient.shape != self.shape:
                raise ValueError(f"backward(gradient) needs a gradient of shape {self.shape}, "
                                 f"got {gradient.shape}")
        if not self.requires_grad:
            raise ValueError(f"backward() on a Tensor of shape {self.shape} that does not require grad: "
                             "no Tensor it was computed from has requires_grad=True")
        grads = {self: gradient}
        handed_out = set()  # ids of the arrays that became a leaf's .grad without a copy
        for node in reversed(self._topological_order()):
            g = grads.pop(node, None)
            if g is None:  # nothing flows back through here
                continue
            if not node._prev:  # a leaf: accumulate, as PyTorch does
                if node.grad is not None:
                    node.grad += g
                elif _unshared(g) and id(g) not in handed_out:
                    node.grad = g  # numbers no one else holds: keep them rather than copy them
                    handed_out.add(id(g))
                else:
                    # a copy laid out in memory as g is (numpy's order "K"): a copy along g's runs
                    node.grad = buffers.empty_like(g, node.data.dtype)
                    copy_rows(node.grad, g)
                continue
            if node._retain:
                node.grad = np.array(g) if node.grad is None else node.grad + g
            for child, child_grad in zip(node._prev, node._vjp(g)):
                if child_grad is None or not child.requires_grad:
                    continue
                if child_grad.shape != child.data.shape:  # numpy broadcast child: sum the copies back
                    child_grad = _unbroadcast(child_grad, child.data.shape)
                if child_grad.dtype != child.data.dtype:
                    child_grad = child_grad.astype(child.data.dtype)
                earlier = grads.get(child)
                grads[child] = child_grad if earlier is None else \
                    np.add(earlier, child_grad, out=buffers.empty_like(earlier))

    def _topological_order(self):
        """Every Tensor needing a gradient that self depends on, each after its inputs (iterative DFS)."""
        order = []
        visited = {self}
        stack = [(self, iter(self._prev))]
        while stack:
            node, inputs = stack[-1]
            for child in inputs:
                if child not in visited and child.requires_grad:
                    visited.add(child)
                    if child._prev:
                        stack.append((child, iter(child._prev)))
                        break
                    order.append(child)
            else:
                stack.pop()
                order.append(node)
        return order


_new_tensor = object.__new__


def _start(t, data, requires_grad):
    """Every field of a new Tensor: a leaf with no gradient yet."""
    t.data = data
    t.grad = None
    t.requires_grad = requires_grad
    t._prev = ()
    t._vjp = None
    t._op = ""
    t._retain = False


def _leaf(data, requires_grad=False):
    """A Tensor around an array that is already float32/float64 (no checks, no copy)."""
    t = _new_tensor(Tensor)
    _start(t, data, requires_grad)
    return t


def _masked(g, mask, out=None):
    """g where mask is True, 0 elsewhere (broadcast together): the VJP of an input that may have no
    path to the result (a dead relu's, a losing max input's). Those get 0 even where g is inf or
    nan, as in PyTorch, which a plain g * mask would turn into 0 * inf = nan.

    g * mask first, as it is many times faster than np.where. It holds a nan only if g holds an
    inf or a nan, and only then is it done again with np.where. (max finds a nan: it propagates
    them, and it runs several times faster than a float32 sum.)
    """
    with np.errstate(invalid="ignore"):  # (0 * inf: replaced below)
        product = np.multiply(g, mask, out=out)
    if product.size and np.isnan(product.max()):
        product[...] = np.where(mask, g, g.dtype.type(0))
    return product


def _unshared(g):
    """Whether g's numbers are g's alone: a new array, or a view of the whole of a new array that
    nothing else refers to (a VJP's reshaped or transposed product)."""
    if not g.flags.writeable:
        return False
    base = g.base
    # (the references to base: g's own, the name `base` and getrefcount's argument)
    return base is None or base.base is None and base.size == g.size and sys.getrefcount(base) == 3


def _nonzero(out):
    """out != 0 (True at a nan too), as a cached array rather than fresh memory."""
    return np.not_equal(out, 0.0, out=buffers.empty_like(out, bool))


def _result(data, inputs, op, vjp):
    """The Tensor `op` computed from `inputs`; it records `vjp` only if some input needs a gradient."""
    out = _new_tensor(Tensor)  # (the fields set here rather than through _leaf: every op pays for this)
    out.data, out.grad, out._op, out._retain = data, None, op, False
    if _grad_enabled:
        for t in inputs:
            if t.requires_grad:
                out.requires_grad, out._prev, out._vjp = True, inputs, vjp
                return out
    out.requires_grad, out._prev, out._vjp = False, (), None
    return out


def _lift(x, like):
    """An operand as a Tensor: a number becomes a 0-d constant of like's dtype (so float32 stays float32)."""
    if isinstance(x, Tensor):
        return x
    if type(x) in (float, int) or isinstance(x, numbers.Real):
        return _leaf(np.asarray(x, dtype=like.data.dtype))
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":  # a float array: numpy's promotion, as PyTorch's
        return _leaf(_as_array(x))
    if isinstance(x, (np.ndarray, list, tuple)):  # ints, bools, plain numbers: like numbers, in like's dtype
        array = _as_array(x)
        return _leaf(array.astype(like.data.dtype, copy=False))
    raise TypeError(f"cannot combine a Tensor of shape {like.shape} with {type(x).__name__} {x!r}")


def _broadcast_op(ufunc, a, b, symbol):
    """ufunc(a, b) with numpy broadcasting; a mismatch names both shapes."""
    x, y = a.data, b.data
    try:
        # a large result goes into a cached buffer, laid out as the operand of its shape is
        if x.nbytes >= buffers.SMALLEST_BYTES and x.dtype == y.dtype and _broadcasts_to(y.shape, x.shape):
            return ufunc(x, y, out=buffers.empty_like(x))
        if y.nbytes >= buffers.SMALLEST_BYTES and x.dtype == y.dtype and _broadcasts_to(x.shape, y.shape):
            return ufunc(x, y, out=buffers.empty_like(y))
        return ufunc(x, y)
    except ValueError:
        raise ValueError(f"shapes {a.shape} and {b.shape} cannot be broadcast together for {symbol!r}") from None


def _spread(g, shape):
    """g broadcast to `shape`: a read-only view for a large shape (no memory), a new array for a small
    one (numpy's broadcast_to costs more than filling a few numbers)."""
    if math.prod(shape) * g.itemsize >= buffers.SMALLEST_BYTES:
        return np.broadcast_to(g, shape)
    out = np.empty(shape, g.dtype)
    out[...] = g
    return out


def _broadcasts_to(small, big):
    """True if numpy broadcasts an array of shape `small` against `big` to `big` itself."""
    return small == big or len(small) <= len(big) and all(
        n == 1 or n == m for n, m in zip(small[::-1], big[::-1]))


def _unbroadcast(g, shape):
    """g summed down to `shape`: over the leading axes numpy added and the size-1 axes it stretched."""
    axes = _summed_axes(g.shape, shape)
    return np.add.reduce(g, axis=axes, keepdims=True).reshape(shape) if axes else g.reshape(shape)  # (g.sum's own)


@functools.lru_cache(maxsize=256)
def _summed_axes(big, shape):
    """The axes of `big` that broadcasting added or stretched to make it from `shape`. (Cached: a
    training step unbroadcasts the same few shapes, a bias's gradient among them, every time.)"""
    extra = len(big) - len(shape)
    return tuple(range(extra)) + tuple(extra + i for i, n in enumerate(shape) if n == 1 and big[extra + i] != 1)


def _is_int(n):
    """An integer (Python or numpy), but not a bool."""
    return type(n) is int or (isinstance(n, numbers.Integral) and not isinstance(n, bool))


def _axes(axis, shape, what):
    """axis (None, an int or a tuple of ints) as a sorted tuple of distinct non-negative axes of shape."""
    ndim = len(shape)
    if axis is None:
        return tuple(range(ndim))
    items = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in items:
        if not _is_int(a):
            raise TypeError(f"{what}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -ndim <= a < ndim:
            raise ValueError(f"{what}: axis {a} is out of range for a Tensor of shape {shape}")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{what}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def _keepdims_shape(shape, axes):
    """shape with the reduced axes kept as 1s (the keepdims shape)."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _reduced_shape(shape, axes):
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _pads(pads, shape):
    """pads as one (before, after) pair of non-negative ints per axis of shape."""
    try:
        pairs = tuple((before, after) for before, after in pads)
    except (TypeError, ValueError):
        pairs = None
    if pairs is None or len(pairs) != len(shape) or not all(
            _is_int(x) for pair in pairs for x in pair):
        raise ValueError(f"pad needs one (before, after) pair of ints per axis of shape {shape}, got {pads!r}")
    pairs = tuple((int(before), int(after)) for before, after in pairs)
    if any(x < 0 for pair in pairs for x in pair):
        raise ValueError(f"pad widths must be non-negative, got {pads!r} for shape {shape}")
    return pairs


def _plain_index(index):
    """An index with any Tensors in it replaced by integer arrays of the whole numbers they hold."""
    def plain(i):
        if isinstance(i, Tensor):
            i = i.data
            if i.size > 1 and np.all((i == 0) | (i == 1)):
                # a Tensor holds floats, so one made from a boolean mask holds 0.0 and 1.0: as positions
                # it would pick elements 0 and 1 over and over, not the masked ones
                raise IndexError(f"a Tensor of 0s and 1s used as an index is ambiguous (a Tensor made from a "
                                 f"boolean mask holds 0.0 and 1.0), got {i!r}; index with a numpy array "
                                 "instead: dtype bool for a mask, int for positions")
            if np.all(i == np.round(i)):
                return i.astype(np.intp)
            raise IndexError(f"a Tensor used as an index must hold whole numbers, got {i!r}")
        if isinstance(i, list):
            return np.asarray(i)
        return i
    return tuple(plain(i) for i in index) if isinstance(index, tuple) else plain(index)


def _is_basic(index):
    """True for numpy basic indexing (ints, slices, None, ...), which never repeats an element."""
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, slice)
               or _is_int(i) for i in items)
