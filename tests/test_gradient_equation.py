"""viz.gradient_equation / gradient_path on drawn multi-layer models: every term's numbers against
backward() and finite differences, names that stay distinct in a network, and the dense head's
equation against the closed form dL/df = V^T dL/dz."""
import math
import re

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_conv as tc
import viz
from tinygrad_conv import functional as F, nn
from tinygrad_conv.grid import parse_name
from tinygrad_conv.value import Value
from viz.text import latex_number, number

from strategies import distinct_values, examples


def close(a, b, rel=1e-9):
    return math.isclose(a, b, rel_tol=rel, abs_tol=rel * 1e-3)


def graph(root):
    """Every Value root depends on."""
    seen, stack = {root}, [root]
    while stack:
        for child in stack.pop()._prev:
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


@st.composite
def networks(draw):
    """conv -> relu -> conv -> relu -> flatten -> linear, with drawn channels, kernels, strides and padding."""
    c0, c1, c2 = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    k1, s1, p1 = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(0, 1))
    k2, s2 = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    size = draw(st.integers(k1 + 1, 6))
    h1 = (size + 2 * p1 - k1) // s1 + 1
    if h1 < k2:
        size += k2
        h1 = (size + 2 * p1 - k1) // s1 + 1
    h2 = (h1 - k2) // s2 + 1
    classes = draw(st.integers(1, 3))
    model = nn.Sequential(nn.Conv2d(c0, c1, k1, stride=s1, padding=p1, engine="scalar", seed=draw(st.integers(0, 99))),
                          nn.ReLU(),
                          nn.Conv2d(c1, c2, k2, stride=s2, engine="scalar", seed=draw(st.integers(0, 99))),
                          nn.ReLU(), nn.Flatten(),
                          nn.Linear(c2 * h2 * h2, classes, engine="scalar", seed=draw(st.integers(0, 99))))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = distinct_values(rng, (1, c0, size, size), gap=0.5)
    loss = draw(st.sampled_from(["mse", "cross_entropy"]))
    label = draw(st.integers(0, classes - 1))
    return model, x, loss, label


def forward(model, x, loss, label):
    out = model(tc.values(x, name="x"))
    if loss == "mse":
        return F.mse_loss(out, np.full(out.shape, 0.5))
    return F.cross_entropy(out, np.array([label]))


@examples(20)
@given(net=networks())
def test_every_equation_adds_up_to_backwards_gradient_and_each_term_is_local_times_upstream(net):
    model, x, loss, label = net
    L = forward(model, x, loss, label)
    L.backward()
    for v in graph(L):
        eq = viz.gradient_equation(L, v)
        assert eq.grad == v.grad
        assert close(eq.total, v.grad), (eq, v.grad)
        for t in eq.terms:
            assert t.upstream == (1.0 if t.target is L else t.target.grad)
            # the local derivative is the product of the engine's own along the chain of Values passed
            chain, local, below = t.chain, 1.0, v
            for node in chain:
                local *= node._local[node._prev.index(below)] if node._prev.count(below) == 1 else float("nan")
                below = node
            if not math.isnan(local):
                assert close(t.local, local)
            assert t.value == 0.0 or close(t.value, t.local * t.upstream)
        # the text ends in v.grad, and the latex form has the same numbers
        assert str(eq).rstrip().endswith(number(v.grad))
        latex = viz.gradient_equation(L, v, form="latex")
        assert latex.rstrip().endswith(latex_number(v.grad) + "\n" + r"\end{aligned}")
        assert latex.count("{") == latex.count("}") and latex.count(r"\begin{aligned}") == 1


@examples(10)
@given(net=networks(), pick=st.integers(0, 10**6))
def test_a_filter_values_equation_matches_a_finite_difference(net, pick):
    """Nudging a first-layer filter value and rerunning gives the number the equation adds up to."""
    model, x, loss, label = net
    L = forward(model, x, loss, label)
    L.backward()
    weights = list(model[0].weight.flat) + list(model[2].weight.flat)
    w = weights[pick % len(weights)]
    eq = viz.gradient_equation(L, w)
    h, before = 1e-6, w.data
    w.data = before + h
    up = forward(model, x, loss, label).data
    w.data = before - h
    down = forward(model, x, loss, label).data
    w.data = before
    assert math.isclose(eq.total, (up - down) / (2 * h), rel_tol=1e-5, abs_tol=1e-8)


@examples(20)
@given(net=networks())
def test_names_are_unique_readable_and_the_second_conv_reads_the_firsts_names(net):
    model, x, loss, label = net
    L = forward(model, x, loss, label)
    by_name = {}
    for v in graph(L):
        if v.name and not (v.name in ("0", "-inf") and not v._prev):
            assert by_name.setdefault(v.name, v) is v, f"two Values are named {v.name}"
            assert parse_name(v.name) is not None, v.name
    names = set(by_name)
    assert {"W[1,1,1,1]", "W2[1,1,1,1]", "c1"} <= names
    assert model[5].weight.flat[0].name in ("V11", "V[1,1]")
    assert any(n.startswith("o[") for n in names) and any(n.startswith("o2[") for n in names)
    assert any(n.startswith("r[") for n in names) and any(n.startswith("r2[") for n in names)
    # every product of the second conv multiplies a named input (the first layer's r, or padding) by W2
    for o2 in model[2](model[1](model[0](tc.values(x, name="x")))).flat:
        for product in o2._prev:
            if product._op == "*":
                a, b = product._prev
                assert a.name.startswith("r[") and b.name.startswith("W2[")


def test_the_tensor_engine_and_single_layers_keep_their_names_and_numbers():
    conv = nn.Conv2d(1, 2, 2, engine="scalar", seed=0)
    out = conv(tc.values(np.ones((1, 1, 3, 3)), name="I"))
    assert conv.weight.flat[0].name == "W[1,1,1,1]" and out.flat[0].name == "o[1,1,1,1]"
    lin = nn.Linear(3, 2, engine="scalar", seed=0)
    assert lin(tc.values(np.ones(3))).flat[0].name is None  # a lone Linear leaves its outputs unnamed
    # the seed's names
    I, W = tc.values(np.arange(9.0).reshape(3, 3), name="I"), tc.values(np.ones((2, 2)), name="W")
    assert [v.name for v in F.conv2d(I, W).flat] == ["o11", "o12", "o21", "o22"]
    # a model named on the Tensor engine computes what the same layers compute by hand
    model = nn.Sequential(nn.Conv2d(1, 2, 2, seed=1), nn.ReLU(), nn.Conv2d(2, 1, 2, seed=2))
    x = tc.Tensor(np.random.default_rng(0).standard_normal((1, 1, 4, 4)))
    by_hand = F.conv2d(F.relu(F.conv2d(x, model[0].weight, model[0].bias)), model[2].weight, model[2].bias)
    np.testing.assert_array_equal(model(x).data, by_hand.data)
    # moving to the scalar engine names the second conv's parameters as the second layer's
    model.to("scalar")
    assert model[2].weight.flat[0].name == "W2[1,1,1,1]" and model[2].bias.flat[0].name == "b2[1]"


def test_a_custom_model_is_named_the_first_time_it_runs():
    class Net(nn.Module):
        def __init__(self):
            self.first = nn.Conv2d(1, 1, 2, engine="scalar", seed=0)
            self.second = nn.Conv2d(1, 1, 2, engine="scalar", seed=1)

        def forward(self, x):
            return self.second(self.first(x))

    net = Net()
    out = net(tc.values(np.ones((1, 1, 4, 4)), name="x"))
    assert net.first.weight.flat[0].name == "W[1,1,1,1]" and net.second.weight.flat[0].name == "W2[1,1,1,1]"
    assert out.flat[0].name == "o2[1,1,1,1]"
    assert out.flat[0]._prev[0]._prev[0].name == "o[1,1,1,1]"


@examples(20)
@given(channels=st.integers(1, 3), side=st.integers(2, 4), outputs=st.integers(1, 4), seed=st.integers(0, 10**6))
def test_the_heads_equation_is_v_transpose_times_dl_dz(channels, side, outputs, seed):
    """dL/do = V^T dL/dz, reshaped to o's grid, term by term: V_ji * dL/dz_j for every output z_j."""
    rng = np.random.default_rng(seed)
    I = tc.values(rng.standard_normal((channels, side + 1, side + 1)), name="I")
    W = tc.values(rng.standard_normal((channels, channels, 2, 2)), name="W")
    o = F.conv2d(I, W)
    f = o.reshape(-1)
    V = tc.values(rng.standard_normal((outputs, f.size)), name="V")
    z = F.linear(f, V, name="z")
    L = F.mse_loss(z, np.zeros(outputs))
    L.backward()
    closed = (tc.data(V).T @ tc.grads(z)).reshape(o.shape)
    for index, oi in np.ndenumerate(o):
        eq = viz.gradient_equation(L, oi)
        i = np.ravel_multi_index(index, o.shape)
        assert [t.target for t in eq.terms] == list(z)
        assert [t.factors[0].value for t in eq.terms] == [V[j, i].data for j in range(outputs)]
        assert [t.factors[0].text for t in eq.terms] == [V[j, i].name for j in range(outputs)]
        assert close(eq.total, closed[index]) and close(oi.grad, closed[index])


def test_the_issues_example_reads_as_the_textbook_writes_it():
    I = tc.values(np.arange(1.0, 10.0).reshape(3, 3), name="I")
    W = tc.values(np.array([[1.0, -1.0], [2.0, 0.5]]), name="W")
    o = F.conv2d(I, W)
    V = tc.values(np.array([[0.5, -1, 1, 0.25], [1.5, -0.5, 2, -0.25], [0.75, -1.5, 0.5, 0.5]]), name="V")
    z = F.linear(o.reshape(4), V, name="z")
    L = F.mse_loss(z, np.ones(3))
    L.backward()
    text = str(viz.gradient_equation(L, o[0, 0]))
    assert text.splitlines() == ["dL/do11 = V11*dL/dz1 + V21*dL/dz2 + V31*dL/dz3",
                                 f"        = 0.5*{number(z[0].grad)} + 1.5*{number(z[1].grad)} + "
                                 f"0.75*{number(z[2].grad)}",
                                 f"        = {number(o[0, 0].grad)}"]
    assert str(viz.gradient_equation(L, W[0, 0])).startswith(
        "dL/dW11 = I11*dL/do11 + I12*dL/do12 + I21*dL/do21 + I22*dL/do22")
    assert str(viz.gradient_equation(L, z[0])).startswith("dL/dz1 = 2*(z1 - 1)*(1/3)")
    latex = viz.gradient_equation(L, o[0, 0], form="latex")
    assert r"\frac{\partial L}{\partial o_{11}} &= V_{11} \cdot \frac{\partial L}{\partial z_{1}}" in latex
    assert latex._repr_latex_().startswith("$$") and str(viz.gradient_equation(L, L)) == "dL/dL = 1"
    # a Value used several times by one unnamed fork: the terms still add up
    a = Value(1.5, name="a")
    s = a * a  # unnamed, two uses below
    out = s * s + s.relu()
    out.backward()
    eq = viz.gradient_equation(out, a)
    # two edges a -> s, each on to s's three uses (s*s twice, relu): six paths, six terms
    assert len(eq.terms) == 6 and close(eq.total, a.grad)
    assert str(eq).startswith("dL/da = a*a*a + a*a*a + a*relu'(a*a)")


def test_a_dead_relu_term_is_zero_even_under_an_infinite_gradient():
    a = Value(-1.0, name="a")
    r = a.relu()
    r.name = "r"
    top = r * Value(math.inf, name="k")
    top.backward()
    eq = viz.gradient_equation(top, a)
    assert eq.terms[0].value == 0.0 and eq.total == 0.0 == a.grad
    assert "relu'(a)*dL/dr" in eq


def test_the_path_goes_from_the_loss_down_to_the_value_one_equation_per_hop():
    model = nn.Sequential(nn.Conv2d(1, 2, 2, engine="scalar", seed=0), nn.ReLU(),
                          nn.Conv2d(2, 2, 2, engine="scalar", seed=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(2, 3, engine="scalar", seed=2))
    x = distinct_values(np.random.default_rng(1), (1, 1, 5, 5))
    L = forward(model, x, "cross_entropy", 1)
    L.backward()
    w = model[0].weight[1, 0, 0, 1]
    path = viz.gradient_path(L, w, max_terms=4)
    assert path.path[0] is L and path.path[-1] is w
    assert [parse_name(p.name)[0] for p in path.path[1:]] == ["z", "p", "r2", "o2", "r", "o", "W"]
    for above, eq in zip(path.path, path.equations):
        assert any(t.target is above for t in eq.terms)
        assert close(eq.total, eq.value.grad)
    assert str(path).count("step ") == len(path.path) - 1
    assert str(path).rstrip().endswith(number(w.grad))
    latex = viz.gradient_path(L, w, form="latex")
    assert latex.count("{") == latex.count("}")
    dot = viz.draw_gradient_path(L, w)
    source = dot.source
    assert all(re.search(r"\b" + re.escape(p.name if p is not L else "L"), source) for p in path.path)
    assert "shape=note" in source and "other\\ uses\\ add" in source


def test_bad_arguments_are_clear_errors():
    a, b = Value(1.0, name="a"), Value(2.0, name="b")
    L = a * 3.0
    with pytest.raises(ValueError, match="not in the loss's recorded graph"):
        viz.gradient_equation(L, b)
    with pytest.raises(ValueError, match="form"):
        viz.gradient_equation(L, a, form="html")
    with pytest.raises(TypeError, match="loss must be a Value"):
        viz.gradient_equation(3.0, a)
    with pytest.raises(ValueError, match="max_terms"):
        viz.gradient_equation(L, a, max_terms=0)
