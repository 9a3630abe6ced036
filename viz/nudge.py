"""The learner's own idea, done once as a check: nudge a number, rerun, see how much the loss moved.

    dL/dv  ~  (L(v + h) - L(v - h)) / (2h)                (a central difference)

Rerunning means recomputing every Value downstream of v from the ops the
graph recorded (`_op` and the inputs), and only those: nudging one pixel of a
28x28 image touches the nine products it takes part in, their outputs, the
pool and the loss, not the other thousands of nodes. Nothing in the graph is
changed; the nudged numbers live in a dictionary.
"""
import math
from collections import Counter

from tinygrad_conv.value import Value

REL_STEP = 1e-5   # h = REL_STEP * max(1, |v|): small enough for curvature, large enough for rounding
WIDE = 16         # a sum of more inputs than this is updated by its inputs' changes, not added up again


def _relu(a):
    return 0.0 if a <= 0.0 else a


def _sigmoid(a):
    return 1.0 / (1.0 + math.exp(-a)) if a >= 0.0 else math.exp(a) / (1.0 + math.exp(a))


def _max(xs):
    return math.nan if any(x != x for x in xs) else max(xs)


def _sum(xs):
    total = 0.0
    for x in xs:  # left to right from 0, as Value.sum adds
        total += x
    return total


_UNARY = {"neg": lambda a: -a, "relu": _relu, "tanh": math.tanh, "sigmoid": _sigmoid, "exp": math.exp,
          "log": math.log}
_BINARY = {"-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b, "**": lambda a, b: a ** b}


def forward(op, xs):
    """The number an op of the recorded graph makes from its inputs' numbers (what Value's ops compute).

    "**n" ops keep their exponent only as printed (`f"**{n:g}"`), so an exponent
    like 1/3 is used to 6 digits: fine for a finite difference.
    """
    if op == "+":
        return _sum(xs)
    if op == "max":
        return _max(xs)
    if op in _UNARY and len(xs) == 1:
        return _UNARY[op](xs[0])
    if op in _BINARY and len(xs) == 2:
        return _BINARY[op](xs[0], xs[1])
    if op.startswith("**") and len(xs) == 1:
        return xs[0] ** float(op[2:])
    raise ValueError(f"cannot recompute an op {op!r} with {len(xs)} inputs")


class Rerun:
    """Recompute a root's number with one Value changed, visiting only the Values downstream of it."""

    def __init__(self, root, order=None):
        self.root = root
        self.order = root._topological_order() if order is None else order
        self.position = {node: i for i, node in enumerate(self.order)}
        self.users = {}
        self._times = {}  # a wide sum -> how many times it adds each input
        for node in self.order:
            for child in set(node._prev):
                self.users.setdefault(child, []).append(node)

    def downstream(self, v):
        """The computed Values that depend on v, in forward (topological) order."""
        seen, todo = set(), list(self.users.get(v, ()))
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(self.users.get(node, ()))
        return sorted(seen, key=self.position.__getitem__)

    def loss_with(self, v, x, nodes):
        """The root's number when v holds x instead of v.data (nodes: v's downstream).

        A wide sum (a global pool, a dense output over hundreds of inputs) is not added up again:
        it moves by exactly what its changed inputs moved, (new - old) for each, which rounds
        the same way in L(v + h) as in L(v - h).
        """
        if v is self.root:
            return x
        changed, moved = {v: x}, {}
        for user in self.users.get(v, ()):
            moved.setdefault(user, []).append(v)
        for node in nodes:
            inputs = node._edges[0::2]
            if node._op == "+" and len(inputs) > WIDE:
                times = self._times.get(node) or self._times.setdefault(node, Counter(inputs))
                new = node.data
                for c in moved[node]:
                    new += times[c] * (changed[c] - c.data)
            else:
                new = forward(node._op, [changed[c] if c in changed else c.data for c in inputs])
            changed[node] = new
            for user in self.users.get(node, ()):
                moved.setdefault(user, []).append(node)
        return changed[self.root]

    def gradient(self, v, rel_step=REL_STEP):
        """(L(v + h) - L(v - h)) / (2h) for the root L, or nan where an op fails off v's number."""
        if v is not self.root and v not in self.users:
            return 0.0  # L does not depend on v at all
        h = rel_step * max(1.0, abs(v.data))
        up, down = v.data + h, v.data - h
        nodes = self.downstream(v)
        try:
            return (self.loss_with(v, up, nodes) - self.loss_with(v, down, nodes)) / (up - down)
        except (ValueError, OverflowError, ZeroDivisionError):
            return math.nan


def nudged_gradients(root, values, rel_step=REL_STEP):
    """{v: central-difference dL/dv} for each Value v in `values`, L = root."""
    if not isinstance(root, Value):
        raise TypeError(f"root must be a Value, got {type(root).__name__}")
    rerun = Rerun(root)
    return {v: rerun.gradient(v, rel_step) for v in values}
