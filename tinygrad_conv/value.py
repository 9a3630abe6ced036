"""The scalar autograd engine: one `Value` per number, reverse mode over the recorded graph.

Every operation makes a new Value that remembers, for each Value it was
computed from, that input and the local derivative d(result)/d(input),
worked out at forward time. They are kept as one flat tuple of pairs,

    _edges = (input_1, d(result)/d(input_1),  input_2, d(result)/d(input_2), ...)

(`_prev` and `_local` read the two halves). `backward()` then needs no
per-op code at all: it walks the graph from the output back to the leaves
and applies the chain rule

    input.grad += local_derivative * result.grad

One exception, as in PyTorch: an input that does not reach the result at
all (a dead relu's input, a losing max input, the base of x**0) has the
local derivative NO_PATH, a zero that passes nothing back. Every other
derivative multiplies, even a zero by an inf (giving nan, as PyTorch does).

A convolution built from `*` and `Value.sum` therefore gets its filter
gradients from this one loop; there is no conv-specific backward anywhere.

Nodes hold references only to their inputs, never to their users, so a graph
has no reference cycles and is freed the moment the last reference to its
output goes away. One flat tuple per node, rather than a tuple of inputs and
another of derivatives, keeps a product node at 168 bytes.
"""
import math
import numbers


class _NoPath(float):
    """A local derivative of 0 that marks an input with no path to the result.

    It reads and computes as 0.0. backward() skips it instead of multiplying, so an infinite
    gradient upstream gives 0 here rather than 0 * inf = nan: PyTorch masks these inputs
    (relu, max, x**0) the same way, while a derivative that merely happens to be 0 (d(a*b)/da
    when b = 0) multiplies, in PyTorch and here.
    """
    __slots__ = ()

    def __repr__(self):
        return "0.0"


NO_PATH = _NoPath(0.0)


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

    # __weakref__ lets tools (and the tests) watch a node without keeping it alive
    __slots__ = ("data", "grad", "name", "_op", "_edges", "__weakref__")

    def __init__(self, data, name=None):
        self.data = _check_number(data, "Value data")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Value name must be a string or None, got {name!r}")
        self.grad = 0.0
        self.name = name
        self._op = ""
        self._edges = ()  # a leaf: computed from nothing

    @property
    def _prev(self):
        """The Values this one was computed from, in argument order."""
        return self._edges[0::2]

    @property
    def _local(self):
        """d(self)/d(input) for each input in _prev."""
        return self._edges[1::2]

    def __repr__(self):
        label = f"{self.name}=" if self.name else ""
        return f"Value({label}{self.data!r}, grad={self.grad!r})"

    # ---- the ops; each states its local derivative -------------------------

    def __add__(self, other):  # d(a+b)/da = 1, d(a+b)/db = 1
        if type(other) is not Value:
            return _with_number(self.__add__, other)
        return _node(self.data + other.data, "+", (self, 1.0, other, 1.0))

    def __sub__(self, other):  # d(a-b)/da = 1, d(a-b)/db = -1
        if type(other) is not Value:
            return _with_number(self.__sub__, other)
        return _node(self.data - other.data, "-", (self, 1.0, other, -1.0))

    def __mul__(self, other):  # d(a*b)/da = b, d(a*b)/db = a
        if type(other) is not Value:
            return _with_number(self.__mul__, other)
        return _node(self.data * other.data, "*", (self, other.data, other, self.data))

    def __truediv__(self, other):  # d(a/b)/da = 1/b, d(a/b)/db = -a/b**2 = -(a/b)/b
        if type(other) is not Value:
            return _with_number(self.__truediv__, other)
        a, b = self.data, other.data
        if b == 0.0:
            raise ValueError(f"division by zero: {a!r} / {b!r}")
        out = a / b
        return _node(out, "/", (self, 1.0 / b, other, -out / b))  # (b*b would underflow for |b| < 1e-162)

    def __pow__(self, other):
        """a ** n for a number n, or a ** b for a Value b.

        d(a**n)/da = n * a**(n-1);  d(a**b)/db = a**b * log(a)
        """
        a = self.data
        if type(other) is not Value:
            if _is_array(other):
                return NotImplemented
            n = _check_number(other, "exponent")
            return _node(_power(a, n), f"**{n:g}", (self, _power_slope(a, n)))
        b = other.data
        out = _power(a, b)
        # a**b * log(a) is undefined for a <= 0; at a == 0 the limit is 0 (as PyTorch takes it)
        d_exponent = out * math.log(a) if a > 0.0 else (0.0 if a == 0.0 else math.nan)
        return _node(out, "**", (self, _power_slope(a, b), other, d_exponent))

    def __neg__(self):  # d(-a)/da = -1
        return _node(-self.data, "neg", (self, -1.0))

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

    def relu(self):  # d relu(a)/da = 0 if a <= 0 else 1 (a nan passes through, as in PyTorch)
        a = self.data
        return _node(0.0 if a <= 0.0 else a, "relu", (self, NO_PATH if a <= 0.0 else 1.0))  # dead: no path

    def tanh(self):  # d tanh(a)/da = 1 - tanh(a)**2
        t = math.tanh(self.data)
        return _node(t, "tanh", (self, 1.0 - t * t))

    def sigmoid(self):  # d s(a)/da = s(a) * (1 - s(a))
        a = self.data
        # exp of minus |a| only, so it cannot overflow; 1 - s from e directly, so it keeps its digits
        e = math.exp(-abs(a))
        s, one_minus_s = (1.0 / (1.0 + e), e / (1.0 + e)) if a >= 0.0 else (e / (1.0 + e), 1.0 / (1.0 + e))
        return _node(s, "sigmoid", (self, s * one_minus_s))

    def exp(self):  # d exp(a)/da = exp(a)
        try:
            e = math.exp(self.data)
        except OverflowError:
            e = math.inf
        return _node(e, "exp", (self, e))

    def log(self):  # d log(a)/da = 1/a
        a = self.data
        if not a > 0.0:
            raise ValueError(f"log needs a positive number, got {a!r}" + (f" ({self.name})" if self.name else ""))
        return _node(math.log(a), "log", (self, 1.0 / a))

    @staticmethod
    def sum(values):
        """One n-ary add node, recorded as "+": d(v1 + ... + vn)/dvi = 1 for every i.

        A conv output `o11 = I11*W11 + I12*W12 + I21*W21 + I22*W22` is one such
        `+` node with four `*` inputs, so the graph reads as the equation does.
        """
        terms = list(values)
        total = 0.0
        for v in terms:
            if type(v) is not Value:  # numbers among the terms become leaves; then add up again
                return Value.sum([_constant(v) for v in terms])
            total += v.data
        edges = [1.0] * (2 * len(terms))
        edges[0::2] = terms
        return _node(total, "+", tuple(edges))

    @staticmethod
    def max(values, last_nan=False):
        """One n-ary max node: the gradient goes to the first maximal input only.

        d max(v1..vn)/dvi = 1 for the first i with vi == max, 0 (NO_PATH) for the
        rest (PyTorch's rule for ties in max pooling). A nan counts as the
        largest: the max is nan and the first nan gets the gradient, as
        torch.max does; with last_nan=True the last nan gets it, as PyTorch's
        CPU max_pool2d does (functional.max_pool2d asks for that).
        """
        terms = [v if type(v) is Value else _constant(v) for v in values]
        if not terms:
            raise ValueError("Value.max needs at least one value, got none")
        best, largest = 0, terms[0].data
        for i in range(1, len(terms)):
            x = terms[i].data
            if x > largest or (math.isnan(x) and (last_nan or not math.isnan(largest))):  # a nan wins
                best, largest = i, x
        edges = [NO_PATH] * (2 * len(terms))  # the losers do not reach the max
        edges[0::2] = terms
        edges[2 * best + 1] = 1.0
        return _node(terms[best].data, "max", tuple(edges))

    # ---- reverse mode --------------------------------------------------------

    def backward(self):
        """Fill in d(self)/d(v) as v.grad for every Value v that self depends on.

        Leaves accumulate (call zero_grad between steps, as in PyTorch); the
        grads of intermediate nodes are recomputed from zero on every call, so
        that each one holds d(self)/d(node) afterwards, for inspection.
        """
        order = self._order_marking_grads()  # what _topological_order() gives, found faster
        for node in order:
            node.grad = 0.0
        self.grad += 1.0
        for node in reversed(order):
            g = node.grad  # (even a 0 multiplies: 0 * an infinite slope is nan, as in PyTorch)
            edges = node._edges
            if len(edges) == 4:
                # two inputs, as most nodes have (every product): the loop below written out, the
                # same steps in the same order, without making two iterators per node (which took
                # 40% of the time)
                a, local_a, b, local_b = edges
                if local_a is not NO_PATH:
                    if local_a == 1.0 and not a.grad:
                        a.grad = g
                    else:
                        a.grad += local_a * g
                if local_b is not NO_PATH:
                    if local_b == 1.0 and not b.grad:
                        b.grad = g
                    else:
                        b.grad += local_b * g
                continue
            if len(edges) == 2:  # one input (relu, tanh, ...): the same, for one pair
                a, local_a = edges
                if local_a is not NO_PATH:
                    if local_a == 1.0 and not a.grad:
                        a.grad = g
                    else:
                        a.grad += local_a * g
                continue
            edges = iter(edges)
            for child, local in zip(edges, edges):  # (input, local derivative) pairs
                if local is NO_PATH:  # a dead relu's input, a losing max input: nothing flows back
                    continue
                if local == 1.0 and not child.grad:
                    child.grad = g  # 0 + 1 * g is g itself: share its float rather than make a new one
                else:
                    child.grad += local * g

    def _topological_order(self):
        """The computed Values self depends on, self last, each after the computed Values it uses.

        Iterative depth-first search, so depth is limited by memory only, and
        inputs are visited in argument order, so the order is deterministic.
        Leaves are left out: they have nothing to pass back, and backward()
        reaches them through their users. A one- or two-input node whose inputs
        are leaves or already in order goes into the order as soon as it is met:
        pushing it, finding nothing below and popping it again would give the
        same order at twice the cost (a conv's I*W products and an MLP's w*h
        products are almost all such nodes).
        """
        if not self._edges:
            return []
        order, visited = [], {self}
        path, waiting = [self], []  # the nodes from self down, and the inputs each one has left to visit
        inputs = iter(self._edges[0::2])  # (those of path[-1])
        while True:
            for child in inputs:
                edges = child._edges
                if edges and child not in visited:
                    visited.add(child)
                    if len(edges) == 4:
                        a, _, b, _ = edges
                        if (not a._edges or a in visited) and (not b._edges or b in visited):
                            order.append(child)  # its inputs are leaves or in order: nothing to visit first
                            continue
                    elif len(edges) == 2:
                        a = edges[0]
                        if not a._edges or a in visited:
                            order.append(child)  # the same for one input
                            continue
                    path.append(child)
                    waiting.append(inputs)
                    inputs = iter(edges[0::2])
                    break
            else:  # every input of path[-1] is in order: it goes next
                order.append(path.pop())
                if not path:
                    return order
                inputs = waiting.pop()

    def _order_marking_grads(self):
        """_topological_order(), found the same way, with each node's grad as its mark of "met".

        For backward() only, which zeroes those grads next: the search sets the grad of each
        node it meets to a new object of its own, and `node.grad is seen` is a quicker test than
        a lookup in a set of the nodes met (backward() about 20% faster on a conv). The lines are
        those of _topological_order with `child in visited` read as `child.grad is seen`; the
        tests check that both give the same order. (Stopped halfway, by Ctrl-C, it leaves those
        grads holding the mark until the next backward().)
        """
        if not self._edges:
            return []
        seen = object()  # no grad held before can be this new object
        self.grad = seen
        order = []
        path, waiting = [self], []
        inputs = iter(self._edges[0::2])
        while True:
            for child in inputs:
                edges = child._edges
                if edges and child.grad is not seen:
                    child.grad = seen
                    if len(edges) == 4:
                        a, _, b, _ = edges
                        if (not a._edges or a.grad is seen) and (not b._edges or b.grad is seen):
                            order.append(child)
                            continue
                    elif len(edges) == 2:
                        a = edges[0]
                        if not a._edges or a.grad is seen:
                            order.append(child)
                            continue
                    path.append(child)
                    waiting.append(inputs)
                    inputs = iter(edges[0::2])
                    break
            else:
                order.append(path.pop())
                if not path:
                    return order
                inputs = waiting.pop()


_new_value = object.__new__


def _node(data, op, edges):
    """A Value computed by `op`; edges = (input_1, d(data)/d(input_1), input_2, ...)."""
    v = _new_value(Value)
    v.data = data
    v.grad = 0.0
    v.name = None
    v._op = op
    v._edges = edges
    return v


def _constant(x):
    """A number used in an op becomes a leaf, so the graph shows it (as micrograd does)."""
    if type(x) is Value:
        return x
    try:
        return Value(x)
    except TypeError:
        raise TypeError(f"cannot combine a Value with {x!r} of type {type(x).__name__}") from None


def _with_number(op, x):
    """op applied to x made a leaf Value (a number); NotImplemented for an array, which numpy then
    combines with the Value element by element (so `value * grid` works as `grid * value` does)."""
    return NotImplemented if _is_array(x) else op(_constant(x))


def _is_array(x):
    """A numpy array (of any dimension), not a number; plain floats and ints are ruled out first."""
    return type(x) is not float and type(x) is not int and hasattr(x, "__array_ufunc__") \
        and not isinstance(x, numbers.Real)


def _power_slope(a, n):
    """n * a**(n-1), the slope of x**n at a; infinite at 0 for 0 < n < 1 (as PyTorch's sqrt).

    x**0 is the constant 1, so its base has no path to the result (NO_PATH, as PyTorch masks it).
    """
    if n == 0.0:
        return NO_PATH
    if a == 0.0:
        return 0.0 if n > 1.0 else (1.0 if n == 1.0 else math.inf)
    return n * _power(a, n - 1.0)


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
