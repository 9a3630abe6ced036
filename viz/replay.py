"""The engine's backward pass, replayed one accumulation at a time.

`Value.backward()` visits the computed Values in reverse topological order,
and for each node u and each input v it was computed from it does

    v.grad += (du/dv) * u.grad            (du/dv recorded at forward time)

skipping the inputs marked NO_PATH (a dead relu's input, a losing max
input). `backward_events(root)` lists those `+=` in the same order, with the
same numbers, and the running total each one leaves behind. Starting every
gradient at 0 (and the root's at 1, dL/dL), the last total of each Value is
exactly, bit for bit, what backward() leaves in `v.grad`: the same floats,
multiplied and added in the same order.
"""
from dataclasses import dataclass

from tinygrad_conv.value import NO_PATH, Value


@dataclass(frozen=True)
class Accumulation:
    """One `target.grad += local * user.grad` of the backward pass."""
    target: Value    # the input whose gradient grows
    user: Value      # the Value computed from it; its own gradient is complete by now
    local: float     # d(user)/d(target), recorded when user was computed
    user_grad: float  # dL/d(user)
    total: float     # target's gradient after this step


def backward_events(root):
    """Every accumulation of `root.backward()`, in the engine's order, with its running total.

    Uses the engine's own topological order (`Value._topological_order`), so
    the order is the engine's, not a copy of it that could drift.
    """
    order = root._topological_order()
    grad = {}
    if order:
        grad[root] = 1.0  # backward() starts from dL/dL = 1
    events = []
    for node in reversed(order):
        g = grad.get(node, 0.0)
        edges = iter(node._edges)
        for child, local in zip(edges, edges):  # (input, local derivative) pairs
            if local is NO_PATH:  # backward() passes nothing along these
                continue
            before = grad.get(child, 0.0)
            # the same arithmetic as backward(): 0 + 1 * g is g itself there, so it is here
            total = g if (local == 1.0 and not before) else before + local * g
            grad[child] = total
            events.append(Accumulation(child, node, local, g, total))
    return events


def final_gradients(events, root):
    """{Value: its gradient after the whole replay}: the last running total of each target."""
    grads = {root: 1.0} if root._edges else {}
    for event in events:
        grads[event.target] = event.total
    return grads
