"""The scalar autograd engine: one `Value` per number, reverse mode over the recorded graph.

Every operation makes a new Value that remembers

    _prev   the Values it was computed from (a tuple, in argument order), and
    _local  d(result)/d(input) for each of them, worked out at forward time.

`backward()` then needs no per-op code at all: it walks the graph from the
output back to the leaves and applies the chain rule

    input.grad += local_derivative * result.grad

A convolution built from `*` and `Value.sum` therefore gets its filter
gradients from this one loop; there is no conv-specific backward anywhere.

Nodes hold references only to their inputs, never to their users, so a graph
has no reference cycles and is freed the moment the last reference to its
output goes away.
"""
import math
import numbers

_ONE = (1.0,)
_ZERO = (0.0,)
_MINUS_ONE = (-1.0,)
_ONE_ONE = (1.0, 1.0)
_ONE_MINUS_ONE = (1.0, -1.0)
_ONES = {}  # n -> (1.0,) * n, shared by every n-ary sum of that width (widths up to _ONES_MAX)
_ONES_MAX = 1024  # wider sums get their own tuple, so the cache stays small whatever widths are used


def _ones(n):
    ones = _ONES.get(n)
    if ones is None:
        ones = (1.0,) * n
        if n <= _ONES_MAX:
            _ONES[n] = ones
    return ones


_ONE_HOTS = {}  # (n, i) -> n-tuple with 1.0 at i and 0.0 elsewhere, shared by every max node that picks i of n


def _one_hot(n, i):
    local = _ONE_HOTS.get((n, i))
    if local is None:
        local = [0.0] * n
        local[i] = 1.0
        local = tuple(local)
        if n <= 32:  # a 2x2 or 3x3 pooling window: a handful of tuples serve every window
            _ONE_HOTS[n, i] = local
    return local


def _check_number(x, what):
    """x as a float; a TypeError naming x if it is not a real number."""
    if type(x) is float:
        return x
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        return float(x)  # ints and numpy scalars become plain Python floats
    raise TypeError(f"{what} must be a real number, got {x!r} of type {type(x).__name__}")


class Value:
    """A scalar that records how it was computed, so gradients can flow back to it.

    >>> a, b = Value(2.0, name="a"), Value(-3.0, name="b")
    >>> c = a * b          # c.data == -6.0
    >>> c.backward()       # dc/da = b = -3, dc/db = a = 2
    >>> a.grad, b.grad
    (-3.0, 2.0)
    """

    __slots__ = ("data", "grad", "name", "_prev", "_local", "_op")

    def __init__(self, data, name=None):
        self.data = _check_number(data, "Value data")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Value name must be a string or None, got {name!r}")
        self.grad = 0.0
        self.name = name
        self._prev = ()
        self._local = ()
        self._op = ""

    def __repr__(self):
        label = f"{self.name}=" if self.name else ""
        return f"Value({label}{self.data!r}, grad={self.grad!r})"

    # ---- the ops; each states its local derivative -------------------------

    def __add__(self, other):  # d(a+b)/da = 1, d(a+b)/db = 1
        other = other if type(other) is Value else _constant(other)
        return _node(self.data + other.data, (self, other), _ONE_ONE, "+")

    def __sub__(self, other):  # d(a-b)/da = 1, d(a-b)/db = -1
        other = other if type(other) is Value else _constant(other)
        return _node(self.data - other.data, (self, other), _ONE_MINUS_ONE, "-")

    def __mul__(self, other):  # d(a*b)/da = b, d(a*b)/db = a
        other = other if type(other) is Value else _constant(other)
        return _node(self.data * other.data, (self, other), (other.data, self.data), "*")

    def __truediv__(self, other):  # d(a/b)/da = 1/b, d(a/b)/db = -a/b**2
        other = other if type(other) is Value else _constant(other)
        a, b = self.data, other.data
        if b == 0.0:
            raise ValueError(f"division by zero: {a!r} / {b!r}")
        return _node(a / b, (self, other), (1.0 / b, -a / (b * b)), "/")

    def __pow__(self, other):
        """a ** n for a number n, or a ** b for a Value b.

        d(a**n)/da = n * a**(n-1);  d(a**b)/db = a**b * log(a)
        """
        a = self.data
        if type(other) is not Value:
            n = _check_number(other, "exponent")
            out = _power(a, n)
            return _node(out, (self,), (n * _power(a, n - 1.0) if n != 0.0 else 0.0,), f"**{n:g}")
        b = other.data
        out = _power(a, b)
        # a**b * log(a) is undefined for a <= 0; at a == 0 the limit is 0 (as PyTorch takes it)
        d_exponent = out * math.log(a) if a > 0.0 else (0.0 if a == 0.0 else math.nan)
        d_base = b * _power(a, b - 1.0) if b != 0.0 else 0.0
        return _node(out, (self, other), (d_base, d_exponent), "**")

    def __neg__(self):  # d(-a)/da = -1
        return _node(-self.data, (self,), _MINUS_ONE, "neg")

    def __radd__(self, other):
        return _constant(other) + self

    def __rsub__(self, other):
        return _constant(other) - self

    def __rmul__(self, other):
        return _constant(other) * self

    def __rtruediv__(self, other):
        return _constant(other) / self

    def __rpow__(self, other):
        return _constant(other) ** self

    def relu(self):  # d relu(a)/da = 1 if a > 0 else 0
        a = self.data
        return _node(a if a > 0.0 else 0.0, (self,), _ONE if a > 0.0 else _ZERO, "relu")

    def tanh(self):  # d tanh(a)/da = 1 - tanh(a)**2
        t = math.tanh(self.data)
        return _node(t, (self,), (1.0 - t * t,), "tanh")

    def sigmoid(self):  # d s(a)/da = s(a) * (1 - s(a))
        a = self.data
        if a >= 0.0:
            s = 1.0 / (1.0 + math.exp(-a))
        else:  # the same value, written so that exp cannot overflow
            e = math.exp(a)
            s = e / (1.0 + e)
        return _node(s, (self,), (s * (1.0 - s),), "sigmoid")

    def exp(self):  # d exp(a)/da = exp(a)
        try:
            e = math.exp(self.data)
        except OverflowError:
            e = math.inf
        return _node(e, (self,), (e,), "exp")

    def log(self):  # d log(a)/da = 1/a
        a = self.data
        if not a > 0.0:
            raise ValueError(f"log needs a positive number, got {a!r}" + (f" ({self.name})" if self.name else ""))
        return _node(math.log(a), (self,), (1.0 / a,), "log")

    @staticmethod
    def sum(values):
        """One n-ary add node: d(v1 + ... + vn)/dvi = 1 for every i.

        A conv output `o11 = I11*W11 + I12*W12 + I21*W21 + I22*W22` is one such
        node with four `*` inputs, so the graph reads as the equation does.
        """
        terms = tuple(values)
        total = 0.0
        for v in terms:
            if type(v) is not Value:  # numbers among the terms become leaves; then add up again
                return Value.sum([_constant(v) for v in terms])
            total += v.data
        return _node(total, terms, _ones(len(terms)), "sum")

    @staticmethod
    def max(values):
        """One n-ary max node: the gradient goes to the first maximal input only.

        d max(v1..vn)/dvi = 1 for the first i with vi == max, 0 for the rest
        (PyTorch's rule for ties in max pooling).
        """
        terms = tuple(v if type(v) is Value else _constant(v) for v in values)
        if not terms:
            raise ValueError("Value.max needs at least one value, got none")
        best = 0
        for i in range(1, len(terms)):
            if terms[i].data > terms[best].data:
                best = i
        return _node(terms[best].data, terms, _one_hot(len(terms), best), "max")

    # ---- reverse mode --------------------------------------------------------

    def backward(self):
        """Fill in d(self)/d(v) as v.grad for every Value v that self depends on.

        Leaves accumulate (call zero_grad between steps, as in PyTorch); the
        grads of intermediate nodes are recomputed from zero on every call, so
        that each one holds d(self)/d(node) afterwards, for inspection.
        """
        order = self._topological_order()
        for node in order:
            node.grad = 0.0
        self.grad += 1.0
        for node in reversed(order):
            g = node.grad
            if g == 0.0:  # nothing flows back through here (a dead relu, a losing max input)
                continue
            for child, local in zip(node._prev, node._local):
                if local == 1.0 and not child.grad:
                    child.grad = g  # 0 + 1 * g is g itself: share its float rather than make a new one
                else:
                    child.grad += local * g

    def _topological_order(self):
        """The computed Values self depends on, self last, each after the computed Values it uses.

        Iterative depth-first search, so depth is limited by memory only, and
        inputs are visited in argument order, so the order is deterministic.
        Leaves are left out: they have nothing to pass back, and backward()
        reaches them through their users.
        """
        if not self._prev:
            return []
        order = []
        visited = {self}
        stack = [(self, iter(self._prev))]
        while stack:
            node, inputs = stack[-1]
            for child in inputs:
                if child._prev and child not in visited:
                    visited.add(child)
                    stack.append((child, iter(child._prev)))
                    break
            else:  # every input of node is already in order
                stack.pop()
                order.append(node)
        return order


_new_value = object.__new__


def _node(data, prev, local, op):
    """A Value computed by `op` from the Values `prev`, with d(data)/d(prev[i]) = local[i]."""
    v = _new_value(Value)
    v.data = data
    v.grad = 0.0
    v.name = None
    v._prev = prev
    v._local = local
    v._op = op
    return v


def _constant(x):
    """A number used in an op becomes a leaf, so the graph shows it (as micrograd does)."""
    if type(x) is Value:
        return x
    try:
        return Value(x)
    except TypeError:
        raise TypeError(f"cannot combine a Value with {x!r} of type {type(x).__name__}") from None


def _power(a, n):
    """a ** n as a real number; ValueError where it has none (0 ** -1, (-8) ** 0.5)."""
    if a == 0.0 and n < 0.0:
        raise ValueError(f"0 ** {n:g} is undefined (division by zero)")
    if a < 0.0 and not n.is_integer():
        raise ValueError(f"({a!r}) ** {n!r} is not a real number")
    try:
        return a ** n
    except OverflowError:
        return math.inf if a > 0.0 or n % 2 == 0 else -math.inf
