"""The scalar engine, op by op: forward against math, gradient against the formula and against
finite differences; then the properties of backward() itself (accumulation, determinism, depth,
and freeing a dropped graph without the cyclic garbage collector)."""
import gc
import math
import sys
import tracemalloc
import weakref

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import tinygrad_conv as tc
from tinygrad_conv import Value
from tinygrad_conv import functional as F

# ---- finite differences -------------------------------------------------------------------------


def derivative(f, x, h=1e-3):
    """df/dx by central differences with one Richardson step: (4 D(h/2) - D(h)) / 3, error O(h^4).

    A plain central difference D(h) = f' + f''' h^2 / 6 + O(h^4) is good to ~1e-7 at best in
    float64; cancelling the h^2 term gets ~1e-11, enough to check gradients to 1e-8 relative.
    """
    D = lambda h: (f(x + h) - f(x - h)) / (2 * h)  # noqa: E731
    return (4 * D(h / 2) - D(h)) / 3


def close(a, b, rel=1e-8, abs=1e-10):
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs)


def grad_of(op, *xs):
    """Build op(Value(x1), ...), run backward, return (output data, [dL/dx_i])."""
    leaves = [Value(x) for x in xs]
    out = op(*leaves)
    out.backward()
    return out.data, [v.grad for v in leaves]


def fd_grads(op, *xs):
    """Finite-difference gradient of op's output data in each argument."""
    grads = []
    for i in range(len(xs)):
        def f(t, i=i):
            args = list(xs)
            args[i] = t
            return op(*[Value(a) for a in args]).data
        grads.append(derivative(f, xs[i]))
    return grads


# ---- the ops --------------------------------------------------------------------------------------

small = st.floats(-4, 4)
away_from_zero = st.floats(0.25, 4) | st.floats(-4, -0.25)
positive = st.floats(0.25, 6)

# name: (op on Values, the same math on floats, its derivative(s), strategy per argument)
UNARY = {
    "neg": (lambda a: -a, lambda x: -x, lambda x: -1.0, small),
    "relu": (lambda a: a.relu(), lambda x: max(x, 0.0), lambda x: float(x > 0), away_from_zero),
    "tanh": (lambda a: a.tanh(), math.tanh, lambda x: 1 - math.tanh(x) ** 2, small),
    "sigmoid": (lambda a: a.sigmoid(), lambda x: 1 / (1 + math.exp(-x)),
                lambda x: math.exp(-x) / (1 + math.exp(-x)) ** 2, st.floats(-20, 20)),
    "exp": (lambda a: a.exp(), math.exp, math.exp, small),
    "log": (lambda a: a.log(), math.log, lambda x: 1 / x, positive),
    "square": (lambda a: a ** 2, lambda x: x * x, lambda x: 2 * x, small),
    "cube": (lambda a: a ** 3, lambda x: x ** 3, lambda x: 3 * x * x, small),
    "reciprocal": (lambda a: a ** -1, lambda x: 1 / x, lambda x: -1 / x ** 2, away_from_zero),
    "sqrt": (lambda a: a ** 0.5, math.sqrt, lambda x: 0.5 / math.sqrt(x), positive),
    "pow 0": (lambda a: a ** 0, lambda x: 1.0, lambda x: 0.0, small),
    # numbers on the left: the reversed operators
    "2.5 + a": (lambda a: 2.5 + a, lambda x: 2.5 + x, lambda x: 1.0, small),
    "2.5 - a": (lambda a: 2.5 - a, lambda x: 2.5 - x, lambda x: -1.0, small),
    "2.5 * a": (lambda a: 2.5 * a, lambda x: 2.5 * x, lambda x: 2.5, small),
    "2.5 / a": (lambda a: 2.5 / a, lambda x: 2.5 / x, lambda x: -2.5 / x ** 2, away_from_zero),
    "2.5 ** a": (lambda a: 2.5 ** a, lambda x: 2.5 ** x, lambda x: 2.5 ** x * math.log(2.5), small),
    # numbers on the right
    "a + 2.5": (lambda a: a + 2.5, lambda x: x + 2.5, lambda x: 1.0, small),
    "a - 2.5": (lambda a: a - 2.5, lambda x: x - 2.5, lambda x: 1.0, small),
    "a * 2.5": (lambda a: a * 2.5, lambda x: x * 2.5, lambda x: 2.5, small),
    "a / 2.5": (lambda a: a / 2.5, lambda x: x / 2.5, lambda x: 1 / 2.5, small),
}

BINARY = {
    "+": (lambda a, b: a + b, lambda x, y: x + y, lambda x, y: (1.0, 1.0), small, small),
    "-": (lambda a, b: a - b, lambda x, y: x - y, lambda x, y: (1.0, -1.0), small, small),
    "*": (lambda a, b: a * b, lambda x, y: x * y, lambda x, y: (y, x), small, small),
    "/": (lambda a, b: a / b, lambda x, y: x / y, lambda x, y: (1 / y, -x / y ** 2), small, away_from_zero),
    "**": (lambda a, b: a ** b, lambda x, y: x ** y,
           lambda x, y: (y * x ** (y - 1), x ** y * math.log(x)), positive, st.floats(-3, 3)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_op_forward_and_gradient(name, data):
    op, fn, dfn, xs = UNARY[name]
    x = data.draw(xs, label="x")
    out, (g,) = grad_of(op, x)
    assert close(out, fn(x), rel=1e-14, abs=0)
    rel = 1e-12
    if name == "sigmoid":  # s * (1 - s): for large x, 1 - s keeps only the bits of s below 1 (as in PyTorch)
        rel += 2.3e-16 / (1.0 - out) if out < 1.0 else math.inf
    assert close(g, dfn(x), rel=rel, abs=1e-300)
    assert close(g, fd_grads(op, x)[0], rel=max(rel, 1e-8))


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_op_forward_and_gradient(name, data):
    op, fn, dfn, xs, ys = BINARY[name]
    x, y = data.draw(xs, label="x"), data.draw(ys, label="y")
    out, grads = grad_of(op, x, y)
    assert close(out, fn(x, y), rel=1e-14, abs=0)
    for g, expected, numerical in zip(grads, dfn(x, y), fd_grads(op, x, y)):
        assert close(g, expected, rel=1e-12, abs=1e-300)
        assert close(g, numerical)


@given(x=small, y=small)
def test_add_sub_mul_are_exact(x, y):
    a, b = Value(x), Value(y)
    for out, value, grads in [(a + b, x + y, (1.0, 1.0)), (a - b, x - y, (1.0, -1.0)), (a * b, x * y, (y, x))]:
        a.grad = b.grad = 0.0
        out.backward()
        assert out.data == value and (a.grad, b.grad) == grads


def test_same_value_on_both_sides():
    a = Value(3.0)
    (a * a).backward()   # d(a^2)/da = 2a: both inputs are the same leaf, both contributions land on it
    assert a.grad == 6.0
    b = Value(3.0)
    (b - b).backward()
    assert b.grad == 0.0
    c = Value(3.0)
    (c / c).backward()
    assert c.grad == 0.0


@given(x=st.floats(0.25, 3))
def test_integer_powers_of_a_negative_base(x):
    for n in (2, 3, -1, -2):
        out, (g,) = grad_of(lambda a: a ** n, -x)
        assert close(out, (-x) ** n, rel=1e-14) and close(g, n * (-x) ** (n - 1), rel=1e-12)


def test_power_edge_cases():
    assert grad_of(lambda a: a ** 2, 0.0) == (0.0, [0.0])
    assert grad_of(lambda a: a ** 1, -2.0) == (-2.0, [1.0])
    # 0 ** b for a Value exponent b > 0: d/db = 0 ** b * log 0, taken as 0 (PyTorch's limit)
    data, (ga, gb) = grad_of(lambda a, b: a ** b, 0.0, 2.0)
    assert (data, ga, gb) == (0.0, 0.0, 0.0)


def test_sqrt_of_zero_is_zero_with_infinite_slope():
    a = Value(0.0)
    out = a ** 0.5
    out.backward()
    assert out.data == 0.0 and a.grad == math.inf


def test_no_overflow_at_the_extremes():
    assert Value(-1000.0).sigmoid().data == 0.0 and Value(1000.0).sigmoid().data == 1.0
    assert Value(-1000.0).exp().data == 0.0
    assert Value(1000.0).exp().data == math.inf  # as float64 exp: inf, not an OverflowError
    t = Value(1000.0)
    t.tanh().backward()
    assert t.grad == 0.0


def test_op_names_are_what_the_graph_shows():
    a, b = Value(2.0, name="a"), Value(3.0, name="b")
    ops = {"+": a + b, "-": a - b, "*": a * b, "/": a / b, "**2": a ** 2, "**": a ** b, "neg": -a,
           "relu": a.relu(), "tanh": a.tanh(), "sigmoid": a.sigmoid(), "exp": a.exp(), "log": a.log(),
           "max": Value.max([a, b])}
    for op, node in ops.items():
        assert node._op == op
        assert node.name is None
    # the n-ary add is a "+" node too, as an equation writes it: o11 = I11*W11 + I12*W12 + ...
    total = Value.sum([a, b, a * b])
    assert total._op == "+" and total._prev[:2] == (a, b) and total._prev[2]._op == "*" and total.name is None
    assert (a * b)._prev == (a, b)
    assert (a ** b)._prev == (a, b)


def test_numbers_become_unnamed_leaves_in_argument_order():
    a = Value(2.0, name="a")
    for out, first_is_number in [(a - 5, False), (5 - a, True), (5 / a, True), (a / 5, False),
                                 (5 ** a, True), (5 * a, True), (5 + a, True)]:
        assert len(out._prev) == 2
        number, value = out._prev if first_is_number else out._prev[::-1]
        assert value is a
        assert number.data == 5.0 and number.name is None and number._prev == ()


def test_data_is_a_plain_float():
    for x in [3, np.float32(0.5), np.int64(-2), np.float64(1.25), 2.0]:
        v = Value(x)
        assert type(v.data) is float and v.data == float(x)
        assert type(v.grad) is float and v.grad == 0.0
    assert not hasattr(Value(1.0), "__dict__")  # __slots__: no per-node dict


def test_names_are_kept():
    a, b = Value(1.0, name="a"), Value(2.0, "b")
    c = Value.sum([a * b, a])
    c.name = "c"
    c.backward()
    c.backward()
    assert (a.name, b.name, c.name) == ("a", "b", "c")
    assert Value(1.0).name is None


# ---- n-ary sum and max ---------------------------------------------------------------------------

floats_list = st.lists(small, min_size=1, max_size=12)


@given(xs=floats_list)
def test_sum_is_one_node_with_every_input_in_order(xs):
    leaves = [Value(x) for x in xs]
    s = Value.sum(leaves)
    assert s._op == "+" and s._prev == tuple(leaves)
    assert s.data == sum(xs, 0.0)  # added left to right, exactly as Python's sum
    # and within the rounding error of n additions of the exactly rounded sum
    assert abs(s.data - math.fsum(xs)) <= len(xs) * 2.3e-16 * math.fsum(map(abs, xs))
    s.backward()
    assert [v.grad for v in leaves] == [1.0] * len(xs)


def test_sum_takes_numbers_generators_and_nothing():
    a = Value(1.5)
    s = Value.sum(v for v in [a, 2, a])  # a generator; a number; a repeated input
    assert s.data == 5.0 and len(s._prev) == 3 and s._prev[1].data == 2.0
    s.backward()
    assert a.grad == 2.0
    assert Value.sum([]).data == 0.0  # the empty sum, as sum() and torch.sum


@given(xs=st.lists(st.integers(-3, 3), min_size=1, max_size=10))
def test_max_gradient_goes_to_the_first_maximal_input_only(xs):
    leaves = [Value(float(x)) for x in xs]  # small integers: plenty of ties
    m = Value.max(leaves)
    assert m._op == "max" and m._prev == tuple(leaves)
    m.backward()
    first = xs.index(max(xs))
    assert m.data == max(xs)
    assert [v.grad for v in leaves] == [1.0 if i == first else 0.0 for i in range(len(xs))]


@given(xs=st.lists(small, min_size=2, max_size=8, unique=True))
def test_max_gradient_by_finite_differences(xs):
    ordered = sorted(xs)
    assume(ordered[-1] - ordered[-2] > 1e-2)  # a clear winner: a nudge cannot change it
    op = lambda *vs: Value.max(vs) * 3.0  # noqa: E731
    _, grads = grad_of(op, *xs)
    for g, numerical in zip(grads, fd_grads(op, *xs)):
        assert close(g, numerical)


def test_max_of_one_and_of_numbers():
    a = Value(-1.0)
    m = Value.max([a])
    m.backward()
    assert m.data == -1.0 and a.grad == 1.0
    b = Value(0.5)
    m = Value.max([0.5, b])  # a tie with a number: the number is first, so b gets nothing
    m.backward()
    assert m.data == 0.5 and b.grad == 0.0


# ---- random expression graphs: the chain rule over shared subexpressions --------------------------

# each op keeps values in [-1, 1] so derivatives stay moderate and finite differences stay accurate
DAG_OPS = {
    "avg": (2, lambda a, b: (a + b) * 0.5, lambda x, y: (x + y) * 0.5),
    "half_diff": (2, lambda a, b: (a - b) * 0.5, lambda x, y: (x - y) * 0.5),
    "mul": (2, lambda a, b: a * b, lambda x, y: x * y),
    "tanh": (1, lambda a: a.tanh(), math.tanh),
    "sigmoid": (1, lambda a: a.sigmoid(), lambda x: 1 / (1 + math.exp(-x))),
    "sum3": (3, lambda a, b, c: Value.sum([a, b, c]) / 3, lambda x, y, z: (x + y + z) / 3),
}


@st.composite
def programs(draw):
    """(leaf numbers, [(op, input positions)]): each op reads any earlier node, so subexpressions are shared."""
    leaves = draw(st.lists(st.floats(-1, 1), min_size=1, max_size=4))
    steps = []
    for _ in range(draw(st.integers(1, 12))):
        op = draw(st.sampled_from(sorted(DAG_OPS)))
        n = len(leaves) + len(steps)
        steps.append((op, tuple(draw(st.integers(0, n - 1)) for _ in range(DAG_OPS[op][0]))))
    return leaves, steps


def run(program, numbers=None, make=Value):
    """Evaluate a program on Values (make=Value) or floats (make=float); returns all nodes."""
    leaves, steps = program
    nodes = [make(x) for x in (leaves if numbers is None else numbers)]
    for op, args in steps:
        fn = DAG_OPS[op][1] if make is Value else DAG_OPS[op][2]
        nodes.append(fn(*[nodes[i] for i in args]))
    return nodes


def signature(root):
    """The topological order as (op, data, name, inputs): equal iff same order and same wiring.

    An input is named by its position in the order, or, for a leaf (which the order may leave
    out), by when it was first met."""
    order = root._topological_order()
    position = {id(node): ("node", i) for i, node in enumerate(order)}
    for node in order:
        for c in node._prev:
            position.setdefault(id(c), ("leaf", len(position), c.data, c.name))
    return [(n._op, n.data, n.name, tuple(position[id(c)] for c in n._prev)) for n in order]


@given(program=programs())
def test_random_graphs_forward_and_gradient(program):
    nodes = run(program)
    floats = run(program, make=float)
    assert close(nodes[-1].data, floats[-1], rel=1e-12, abs=1e-15)
    nodes[-1].backward()
    leaves = program[0]
    for i, x in enumerate(leaves):
        def f(t, i=i):
            numbers = list(leaves)
            numbers[i] = t
            return run(program, numbers, make=float)[-1]
        assert close(nodes[i].grad, derivative(f, x), rel=1e-8, abs=1e-10)


def depth_first_postorder(root):
    """The order _topological_order promises, by its definition: recursive depth-first search,
    inputs in argument order, each computed node after its inputs, leaves left out."""
    order, visited = [], set()

    def visit(node):
        if node._prev and id(node) not in visited:
            visited.add(id(node))
            for child in node._prev:
                visit(child)
            order.append(node)
    visit(root)
    return order


@given(program=programs())
def test_topological_order_is_the_depth_first_postorder(program):
    # its shortcut (a node whose inputs are leaves or already in order is placed at once) keeps the order
    nodes = run(program)
    for root in (nodes[-1], Value.sum(nodes)):
        expected = depth_first_postorder(root)
        order = root._topological_order()
        assert len(order) == len(expected) and all(a is b for a, b in zip(order, expected))
        # backward()'s own search, which marks the nodes it meets in their grads, finds the same order,
        # also when the grads hold numbers from an earlier backward()
        for _ in range(2):
            order = root._order_marking_grads()
            assert len(order) == len(expected) and all(a is b for a, b in zip(order, expected))
            root.backward()


@given(program=programs())
def test_topological_order_is_complete_and_valid(program):
    nodes = run(program)
    order = nodes[-1]._topological_order()
    assert order[-1] is nodes[-1]
    assert len({id(n) for n in order}) == len(order)  # each node once
    seen = set()
    for node in order:
        assert all(id(c) in seen for c in node._prev if c._prev)  # computed inputs come first
        seen.add(id(node))
    # every computed node reachable from the root is there (leaves may be left out)
    stack, reachable = [nodes[-1]], set()
    while stack:
        n = stack.pop()
        if id(n) not in reachable and n._prev:
            reachable.add(id(n))
            stack.extend(n._prev)
    assert reachable == {id(n) for n in order if n._prev}


@given(program=programs())
def test_backward_is_deterministic(program):
    first, second = run(program), run(program)
    first[-1].backward()
    second[-1].backward()
    assert [n.grad for n in first] == [n.grad for n in second]
    assert signature(first[-1]) == signature(second[-1])


@given(program=programs())
def test_backward_twice_doubles_leaves_and_recomputes_intermediates(program):
    nodes = run(program)
    root, n_leaves = nodes[-1], len(program[0])
    root.backward()
    once = [n.grad for n in nodes]
    root.backward()
    twice = [n.grad for n in nodes]
    for g1, g2 in zip(once[:n_leaves], twice[:n_leaves]):
        # leaves accumulate; adding the same contributions onto a nonzero start rounds differently, so
        # a gradient that is a cancellation residue (~1e-17) is only doubled to within ~1 ulp of 1
        assert close(g2, 2 * g1, rel=1e-12, abs=1e-14)
    assert twice[n_leaves:] == once[n_leaves:]  # intermediates hold d(root)/d(node) again, not twice it


def test_backward_twice_exactly_doubles_single_use_leaves():
    a, b = Value(0.3), Value(-1.7)
    c = (a * b).tanh()
    c.backward()
    ga, gb, gab = a.grad, b.grad, c._prev[0].grad
    c.backward()
    assert (a.grad, b.grad) == (2 * ga, 2 * gb)
    assert c._prev[0].grad == gab and c.grad == 1.0


def test_backward_from_another_root_after_zeroing():
    a = Value(2.0)
    y, z = a * 3.0, a * a
    y.backward()
    a.grad = 0.0
    z.backward()
    assert a.grad == 4.0  # only z's gradient: y's graph is not involved


# ---- depth and memory ---------------------------------------------------------------------------


@pytest.mark.slow
def test_backward_through_a_million_node_chain():
    a = Value(1.5, name="a")
    x = a
    for _ in range(1_000_000):  # a chain of negations: depth 1,000,000, no recursion anywhere
        x = -x
    x.backward()
    assert x.data == 1.5 and a.grad == 1.0
    y = x * 2.0
    a.grad = 0.0
    y.backward()
    assert a.grad == 2.0
    del x, y  # freeing a million-deep chain must not overflow the C stack either


def _live_values():
    return sum(1 for o in gc.get_objects() if type(o) is Value)


def test_a_dropped_graph_is_freed_without_the_cycle_collector():
    """With gc disabled only reference counting frees memory, so a cycle anywhere in the graph
    (a node pointing at its users, a closure holding its output, a cache) would keep it alive.
    Checked three ways: weak references to a leaf, an inner node and the output die with the last
    strong reference; no Value is left alive; the traced memory goes back down."""
    rng = np.random.default_rng(0)
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        before = _live_values()
        tracemalloc.start()
        baseline = tracemalloc.get_traced_memory()[0]
        x = tc.values(rng.standard_normal((2, 6, 6)), name="x")
        w = tc.values(rng.standard_normal((3, 2, 3, 3)), name="W")
        out = F.max_pool2d(F.relu(F.conv2d(x, w, padding=1)), 2)
        loss = F.cross_entropy(out.reshape(1, -1), np.array([1]))
        chain = loss
        for _ in range(50_000):
            chain = chain.tanh()
        chain.backward()
        assert sys.getrefcount(chain) == 2  # backward kept no reference to the graph
        watched = [weakref.ref(v) for v in (x.flat[0], w.flat[0], out.flat[0], loss, chain)]
        assert all(ref() is not None for ref in watched)
        peak = tracemalloc.get_traced_memory()[0] - baseline
        assert _live_values() - before > 50_000
        del x, w, out, loss, chain
        assert all(ref() is None for ref in watched)  # freed by reference counting alone
        leftover = tracemalloc.get_traced_memory()[0] - baseline
        tracemalloc.stop()
        assert _live_values() == before
        # what stays is only CPython's free lists of small tuples and floats, a few hundred kB at most
        assert peak > 8_000_000 and leftover < peak / 20, (peak, leftover)
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        if was_enabled:
            gc.enable()


def test_grids_and_graphs_of_values_survive_a_full_collection():
    # the other half of the bargain: nothing the engine needs is only reachable through a cycle
    x = tc.values(np.arange(9.0).reshape(3, 3), name="I")
    w = tc.values(np.ones((2, 2)), name="W")
    loss = Value.sum(list(F.conv2d(x, w).flat))
    gc.collect()
    loss.backward()
    assert tc.grads(w).tolist() == [[8.0, 12.0], [20.0, 24.0]]


def test_numpy_scalars_on_either_side_give_values():
    v = Value(3.0)
    for out, expected in [(np.float64(2.0) * v, 6.0), (np.float64(2.0) - v, -1.0), (np.int64(2) / v, 2 / 3),
                          (np.float64(2.0) ** v, 8.0), (v + np.float32(0.5), 3.5)]:
        assert type(out) is Value and math.isclose(out.data, expected, rel_tol=1e-15)


def test_a_value_combines_with_an_array_element_by_element_from_either_side():
    I = tc.values(np.arange(1.0, 5.0).reshape(2, 2), name="I")
    s = Value(3.0, name="s")
    for grid in (s * I, I * s):
        assert grid.shape == (2, 2) and np.array_equal(tc.data(grid), 3.0 * np.arange(1.0, 5.0).reshape(2, 2))
    left = s * I
    assert all(v._op == "*" and v._prev == (s, x) for v, x in zip(left.flat, I.flat))  # s first, as written
    Value.sum(list(left.flat)).backward()
    assert s.grad == 10.0 and np.array_equal(tc.grads(I), np.full((2, 2), 3.0))
    # numbers in arrays become leaves, as plain numbers do
    assert [v.data for v in s - np.array([1.0, 2.0])] == [2.0, 1.0]
    assert [v.data for v in s / np.array([2.0, 4.0])] == [1.5, 0.75]
    assert [v.data for v in s ** np.array([2.0, 0.0])] == [9.0, 1.0]
    assert isinstance(s * np.array(2.0), Value) and (s * np.array(2.0)).data == 6.0
    with pytest.raises(TypeError, match="'3'"):
        s + "3"


def test_division_by_a_tiny_or_huge_number_has_the_right_gradients():
    # d(a/b)/db = -(a/b)/b: written as -a/(b*b), b*b underflows to 0 (a ZeroDivisionError) or overflows
    a, b = Value(1.0), Value(1e-200)
    out = a / b
    out.backward()
    assert (out.data, a.grad, b.grad) == (1e200, 1e200, -math.inf)
    a, b = Value(1e200), Value(1e200)
    (a / b).backward()
    assert (a.grad, b.grad) == (1e-200, -1e-200)
    b = Value(1e-200)
    (1.0 / b).backward()
    assert b.grad == -math.inf


def test_nan_propagates_through_max_and_relu_as_in_pytorch():
    values = [Value(1.0), Value(math.nan), Value(3.0), Value(math.nan)]
    top = Value.max(values)
    top.backward()
    assert math.isnan(top.data) and [v.grad for v in values] == [0.0, 1.0, 0.0, 0.0]  # the first nan
    a = Value(math.nan)
    out = a.relu()
    out.backward()
    assert math.isnan(out.data) and a.grad == 1.0
    assert Value(-0.0).relu().data == 0.0 and Value(-2.0).relu()._local == (0.0,)
