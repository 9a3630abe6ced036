"""grid_ops, the scalar backend, called directly: each op's promise beyond what functional's layers use.

functional's layers pad symmetrically, pool without dilation, and multiply batches of equal
shape, so the conv and pooling tests never reach these promises. Values are checked against
numpy on the numbers (or worked by hand), and names and graph links against the docstrings.
"""
import math

import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import Value, grid_ops


def grid(shape, name="x", start=1.0):
    return tc.values(np.arange(start, start + math.prod(shape)).reshape(shape), name=name)


# ---- pad: new leaf Values named after their number, on any side ---------------------------------


@pytest.mark.parametrize("value, label", [(0.0, "0"), (-math.inf, "-inf"), (1.5, "1.5"), (1.0, "1")])
def test_pad_on_one_side_only_with_leaves_named_after_their_number(value, label):
    x = grid((2, 3))
    pads = ((1, 0), (0, 2))  # a row above, two columns on the right
    out = grid_ops.pad(x, pads, value)
    np.testing.assert_array_equal(tc.data(out), np.pad(tc.data(x), pads, constant_values=value))
    assert all(out[r + 1, c] is x[r, c] for r in range(2) for c in range(3))  # the input's own Values
    added = [v for (r, c), v in np.ndenumerate(out) if r == 0 or c >= 3]
    assert len(added) == 3 * 5 - 6 == len({id(v) for v in added})  # one leaf per padded place
    assert all(v.name == label and v._prev == () and v.data == value for v in added)


def test_no_padding_is_the_grid_itself():
    x = grid((2, 2))
    assert grid_ops.pad(x, ((0, 0), (0, 0)), 0.0) is x


# ---- windows: dilation moves the taps apart -------------------------------------------------------


def test_windows_with_stride_and_dilation_view_the_inputs_themselves():
    x = grid((5, 6))
    win = grid_ops.windows(x, (2, 2), (1, 2), (2, 3))  # (OH, OW, kh, kw) = (3, 2, 2, 2)
    assert win.shape == (3, 2, 2, 2)
    for (i, j, a, b), v in np.ndenumerate(win):
        assert v is x[i + 2 * a, 2 * j + 3 * b]


# ---- matmul: batch axes broadcast, as numpy's --------------------------------------------------------


@pytest.mark.parametrize("a_shape, b_shape", [((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)), ((2, 1, 3, 4), (3, 4, 2)),
                                              ((1, 2, 3), (4, 3, 2))])
def test_matmul_broadcasts_batch_axes_like_numpy(a_shape, b_shape):
    a, b = grid(a_shape, "a"), grid(b_shape, "b", start=-5.0)
    bias = tc.values(np.array([0.5, -1.5] + [0.0] * (b_shape[-1] - 2)), name="c")
    out = grid_ops.matmul(a, b, bias)
    expected = np.matmul(tc.data(a), tc.data(b)) + tc.data(bias)
    assert out.shape == expected.shape
    np.testing.assert_allclose(tc.data(out), expected, rtol=1e-15)
    assert all(o._op == "+" and len(o._prev) == a_shape[-1] + 1 for o in out.flat)  # one sum, bias inside


def node_fields(v, leaves):
    """Everything a Value holds, its inputs as leaf positions or (recursively) their own fields."""
    def show(x):
        return ("leaf", leaves[id(x)]) if id(x) in leaves else node_fields(x, leaves)
    edges = tuple(show(x) if i % 2 == 0 else (type(x), x) for i, x in enumerate(v._edges))
    return (type(v.data), v.data, type(v.grad), v.grad, v.name, v._op, edges)


@pytest.mark.parametrize("a_shape, b_shape, with_bias", [((2, 3, 4), (4, 5), True), ((3, 4), (2, 4, 5), False),
                                                         ((2, 0, 3), (3, 2), True), ((2, 3), (3, 0), False),
                                                         ((2, 0), (0, 3), True)])
def test_matmul_makes_the_very_nodes_of_products_and_value_sum(a_shape, b_shape, with_bias):
    # matmul builds its products and sums itself (grid_ops._dot), for speed: they must be the nodes
    # `x * w` and Value.sum make, field for field (data, grad, name, op, inputs, local derivatives)
    rng = np.random.default_rng(0)
    a, b = tc.values(rng.standard_normal(a_shape), "a"), tc.values(rng.standard_normal(b_shape), "b")
    bias = tc.values(rng.standard_normal(b_shape[-1]), "c") if with_bias else None
    out = grid_ops.matmul(a, b, bias)
    leaves = {id(v): i for i, v in enumerate([*a.flat, *b.flat, *([] if bias is None else bias.flat)])}
    A, Bm = np.broadcast_arrays(a[..., :, :, None], b[..., None, :, :])  # (..., m, n, p)
    assert out.shape == A.shape[:-3] + (a_shape[-2], b_shape[-1])
    for index in np.ndindex(*out.shape):
        terms = [x * w for x, w in zip(A[index[:-1]][:, index[-1]], Bm[index[:-1]][:, index[-1]])]
        by_hand = Value.sum(terms + ([bias[index[-1]]] if bias is not None else []))
        assert node_fields(out[index], leaves) == node_fields(by_hand, leaves)


# ---- reductions ------------------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2), (1,)])
def test_reduce_sum_is_numpys_sum_and_every_input_gets_slope_one(axis):
    x = grid((2, 3, 4))
    out = grid_ops.reduce_sum(x, axis)
    expected = np.sum(tc.data(x), axis=axis)
    np.testing.assert_allclose(tc.data(out) if isinstance(out, np.ndarray) else out.data, expected, rtol=1e-15)
    if axis is None:
        assert isinstance(out, Value)  # a whole reduction is the Value itself, so .backward() works
        out.backward()
    else:
        assert out.shape == expected.shape
        Value.sum(list(out.flat)).backward()
    assert all(v.grad == 1.0 for v in x.flat)


def test_reduce_max_sends_the_gradient_to_the_first_nan_or_with_last_nan_the_last():
    """Value.max's rule (torch.max: the first nan) by default; max-pool asks for the last."""
    for last_nan, winner in ((False, 1), (True, 3)):
        row = tc.values(np.array([[1.0, math.nan, 2.0, math.nan]]), name="r")
        out = grid_ops.reduce_max(row, 1, last_nan=last_nan) if last_nan else grid_ops.reduce_max(row, 1)
        assert math.isnan(out[0].data)
        out[0].backward()
        assert [v.grad for v in row.flat] == [1.0 if i == winner else 0.0 for i in range(4)]


# ---- log_softmax: along the last axis, however it is named ------------------------------------------


def test_log_softmax_along_the_last_axis_named_either_way():
    x = tc.values(np.array([[1.0, 2.0, 4.0], [0.5, -1.0, 0.0]]), name="z")
    for axis in (-1, 1):
        out = grid_ops.log_softmax(x, axis)
        for r in range(2):
            row = tc.data(x)[r]
            log_total = math.log(sum(math.exp(z) for z in row))
            for c in range(3):
                assert out[r, c].data == pytest.approx(row[c] - log_total, rel=1e-14)
    with pytest.raises(ValueError, match=r"^log_softmax on grids works along the last axis, got axis=0$"):
        grid_ops.log_softmax(x, 0)
