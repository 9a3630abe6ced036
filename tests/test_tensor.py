"""The Tensor engine on its own: every op's gradient against central differences, broadcasting,
the max tie rule, dtypes, backward's rules and bad input. float64 throughout unless a test says not.

A gradient is checked through L = sum(op(inputs) * R) for a random R, so every element of the
upstream gradient differs and a VJP that mixes up elements cannot pass.
"""
import gc
import weakref

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_conv import Tensor
from tinygrad_conv.layout import reshape as layout_reshape
from tinygrad_conv.tensor import no_grad
from tinygrad_conv.windows import sliding_windows
from strategies import examples, seeds

H = 1e-4  # fourth-order central differences: O(H^4) truncation, ~1e-11 rounding in float64
FD_RTOL, FD_ATOL = 1e-6, 1e-8


def numeric_grad(fn, arrays, R):
    """d sum(fn(*arrays) * R) / d arrays[i], for every i, by central differences on plain numpy.

    f'(x) ~ (8 (f(x+h) - f(x-h)) - (f(x+2h) - f(x-2h))) / 12h: the plain two-point difference at a
    step small enough for its truncation error loses ~eps*|f|/h to rounding, about 1e-8 here; this
    one reaches its accuracy at a step 100x larger."""
    grads = []
    for i, a in enumerate(arrays):
        g = np.zeros_like(a)
        for index in np.ndindex(*a.shape):
            saved = a[index]

            def f(step):
                a[index] = saved + step
                return np.sum(fn(*[Tensor(x) for x in arrays]).data * R)
            g[index] = (8 * (f(H) - f(-H)) - (f(2 * H) - f(-2 * H))) / (12 * H)
            a[index] = saved
        grads.append(g)
    return grads


def check_grads(fn, *arrays, seed=0):
    """backward() of sum(fn(*tensors) * R) equals the central differences, for every input."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    tensors = [Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    R = np.random.default_rng(seed).standard_normal(out.shape)
    (out * Tensor(R)).sum().backward()
    for t, expected in zip(tensors, numeric_grad(fn, arrays, R)):
        assert t.grad.shape == t.shape
        np.testing.assert_allclose(t.grad, expected, rtol=FD_RTOL, atol=FD_ATOL)
    return out


def normal(seed, shape):
    return np.random.default_rng(seed).standard_normal(shape)


small_shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)


# ---- elementwise arithmetic with broadcasting -------------------------------------------------------

BINARY = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "**": lambda a, b: a ** b,
}


@pytest.mark.parametrize("op", sorted(BINARY))
@examples(20)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3), seed=seeds)
def test_binary_ops_broadcast_and_sum_gradients_back(op, shapes, seed):
    a_shape, b_shape = shapes.input_shapes
    a, b = normal(seed, a_shape), normal(seed + 1, b_shape)
    if op == "/":
        b = np.sign(b) * (0.5 + np.abs(b))  # away from zero
    if op == "**":
        a = 0.5 + np.abs(a)  # a positive base: a ** b and its log are defined
    out = check_grads(BINARY[op], a, b, seed=seed)
    assert out.shape == shapes.result_shape
    np.testing.assert_allclose(out.data, BINARY[op](a, b), rtol=1e-15, atol=0)


NUMBER_OPS = {
    "2+t": lambda t: 2 + t, "t+2": lambda t: t + 2, "3-t": lambda t: 3 - t, "t-3": lambda t: t - 3,
    "2*t": lambda t: 2 * t, "t/4": lambda t: t / 4, "3/t": lambda t: 3 / t, "2**t": lambda t: 2 ** t,
    "t**2": lambda t: t ** 2, "t**3": lambda t: t ** 3, "t**-1.5": lambda t: t ** -1.5,
    "t**0.5": lambda t: t ** 0.5, "t**0": lambda t: t ** 0, "-t": lambda t: -t,
    "np2*t": lambda t: np.float64(2.0) * t, "array*t": lambda t: np.arange(3.0) * t,
}


@pytest.mark.parametrize("name", sorted(NUMBER_OPS))
def test_ops_with_numbers_on_either_side(name):
    x = 0.5 + np.abs(normal(1, (2, 3)))
    out = check_grads(NUMBER_OPS[name], x)
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(out.data, NUMBER_OPS[name](x), rtol=1e-15)


UNARY = {
    "exp": (Tensor.exp, np.exp), "log": (Tensor.log, np.log), "tanh": (Tensor.tanh, np.tanh),
    "sigmoid": (Tensor.sigmoid, lambda x: 1 / (1 + np.exp(-x))), "relu": (Tensor.relu, lambda x: np.maximum(x, 0)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@examples(15)
@given(shape=small_shapes, seed=seeds)
def test_unary_functions(name, shape, seed):
    x = normal(seed, shape)
    x = np.sign(x) * (0.1 + np.abs(x))  # relu: no kink within a step; log: made positive below
    if name == "log":
        x = np.abs(x)
    method, reference = UNARY[name]
    out = check_grads(method, x, seed=seed)
    np.testing.assert_allclose(out.data, reference(x), rtol=1e-14, atol=1e-300)


def test_sigmoid_does_not_overflow_and_relu_gradient_at_zero_is_zero():
    x = Tensor([-1000.0, 0.0, 1000.0], requires_grad=True)
    s = x.sigmoid()
    np.testing.assert_array_equal(s.data, [0.0, 0.5, 1.0])
    s.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.25, 0.0])
    z = Tensor([0.0, -1.0, 2.0], requires_grad=True)
    z.relu().sum().backward()
    np.testing.assert_array_equal(z.grad, [0.0, 0.0, 1.0])  # as PyTorch: relu'(0) = 0


def test_power_with_a_tensor_exponent_at_a_zero_base():
    a, b = Tensor([0.0, 2.0], requires_grad=True), Tensor([2.0, 3.0], requires_grad=True)
    (a ** b).sum().backward()
    np.testing.assert_allclose(a.grad, [0.0, 12.0])
    np.testing.assert_allclose(b.grad, [0.0, 8.0 * np.log(2.0)])  # d(0**b)/db taken as 0, as the scalar engine


def test_the_same_tensor_twice_gets_both_contributions():
    x = Tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x + x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + 1)


# ---- matmul -------------------------------------------------------------------------------------------


@examples(25)
@given(batch=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3),
       m=st.integers(1, 3), n=st.integers(1, 3), p=st.integers(1, 3), seed=seeds)
def test_matmul_with_batch_broadcasting(batch, m, n, p, seed):
    a, b = normal(seed, batch.input_shapes[0] + (m, n)), normal(seed + 1, batch.input_shapes[1] + (n, p))
    out = check_grads(lambda x, y: x @ y, a, b, seed=seed)
    np.testing.assert_allclose(out.data, a @ b, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("a_shape, b_shape", [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((4, 2, 3), (3,)),
                                              ((3,), (4, 3, 2)), ((5, 2, 3), (3, 4)), ((2, 3), (2, 3, 4))])
def test_matmul_vectors_and_single_matrices_as_numpy(a_shape, b_shape):
    a, b = normal(0, a_shape), normal(1, b_shape)
    out = check_grads(lambda x, y: x @ y, a, b)
    assert out.shape == np.matmul(a, b).shape
    np.testing.assert_allclose(out.data, a @ b, rtol=1e-13)
    # an ndarray on the left goes through __rmatmul__
    np.testing.assert_allclose((a @ Tensor(b)).data, a @ b, rtol=1e-13)


def test_matmul_on_stored_by_column_and_broadcast_operands():
    # operands whose matrices are stored column by column, or are stride-0 broadcasts, still multiply right
    a = normal(0, (3, 4, 5)).transpose(0, 2, 1)  # (3, 5, 4), each matrix column-major
    A = Tensor(np.zeros((3, 5, 4)), requires_grad=True)
    A.data = a  # keep the layout (the constructor would copy into C order)
    B = Tensor(normal(1, (4, 2)), requires_grad=True)
    out = A @ B
    np.testing.assert_allclose(out.data, a @ B.data, rtol=1e-13)
    out.sum().backward()  # a stride-0 upstream gradient
    np.testing.assert_allclose(A.grad, np.broadcast_to(B.data.sum(1), (3, 5, 4)), rtol=1e-13)
    np.testing.assert_allclose(B.grad, np.broadcast_to(a.sum((0, 1))[:, None], (4, 2)), rtol=1e-13)


@pytest.mark.parametrize("dtype, c", [(np.float32, 1024), (np.float64, 512)])
@pytest.mark.parametrize("case", ["matrix", "batch of rows", "stored by columns"])
def test_matmul_results_with_rows_of_whole_4k_pages(dtype, c, case):
    # results whose rows are 4096 bytes long get a spare cache line per row (layout.product): the same numbers
    rng = np.random.default_rng(7)
    a_shape, b_shape = {"matrix": ((20, c), (c, c)), "batch of rows": ((2, 20, c), (c, c)),
                        "stored by columns": ((2, c, 20), (20, 17))}[case]
    a = rng.standard_normal(a_shape)
    if case == "stored by columns":
        a = np.ascontiguousarray(np.swapaxes(a, -1, -2)).swapaxes(-1, -2)  # each matrix column-major
    b = rng.standard_normal(b_shape)
    g = rng.standard_normal(np.matmul(a, b).shape)
    A, B = Tensor(a.astype(dtype), requires_grad=True), Tensor(b.astype(dtype), requires_grad=True)
    A.data = a.astype(dtype, order="K")  # keep the layout
    out = A @ B
    out.backward(g.astype(dtype))
    tol = 1e-4 if dtype == np.float32 else 1e-12
    assert out.dtype == A.grad.dtype == B.grad.dtype == dtype
    np.testing.assert_allclose(out.data, a @ b, rtol=tol, atol=tol)
    np.testing.assert_allclose(A.grad, g @ b.T, rtol=tol, atol=tol)
    np.testing.assert_allclose(B.grad, (np.swapaxes(a, -1, -2) @ g).reshape(-1, *b.shape).sum(0), rtol=tol, atol=tol)

# ---- reductions -----------------------------------------------------------------------------------


def axes_for(shape):
    ndim = len(shape)
    options = [None] + [i for i in range(-ndim, ndim)]
    options += [(i, j) for i in range(ndim) for j in range(i + 1, ndim)]
    return st.sampled_from(options)


@pytest.mark.parametrize("op", ["sum", "mean", "max", "logsumexp"])
@examples(20)
@given(data=st.data(), seed=seeds)
def test_reductions_over_any_axes(op, data, seed):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    axis = data.draw(axes_for(shape))
    keepdims = data.draw(st.booleans())
    x = normal(seed, shape)
    if op == "max":  # distinct values at least 0.1 apart: no tie within a difference step (ties: below)
        x = np.random.default_rng(seed).permutation(x.size).reshape(shape) * 0.1 + 0.01 * x
    out = check_grads(lambda t: getattr(t, op)(axis, keepdims=keepdims), x, seed=seed)
    if op == "logsumexp":
        expected = np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))
    else:
        expected = getattr(np, op)(x, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(out.data, expected, rtol=1e-13)


def first_max_mask(x, axes):
    """1 at the first maximal element (C order of the reduced axes) of every reduction, else 0."""
    kept = [i for i in range(x.ndim) if i not in axes]
    rows = x.transpose(kept + list(axes)).reshape([x.shape[i] for i in kept] + [-1])
    onehot = np.zeros_like(rows)
    np.put_along_axis(onehot, rows.argmax(-1)[..., None], 1.0, -1)
    full = onehot.reshape([x.shape[i] for i in kept] + [x.shape[i] for i in axes])
    return full.transpose(np.argsort(kept + list(axes)))


@pytest.mark.parametrize("shape, axes", [
    ((2, 3, 4), (2,)), ((2, 3, 4), (0, 2)), ((3, 3), None), ((5, 4, 3, 3), (2, 3)),
    ((8, 8, 4, 4), (2, 3)),  # few positions over many elements: the running-maximum path
    ((4, 4, 16, 16), (0, 1, 2)),  # many positions: the argmax path
])
@examples(15)
@given(seed=seeds)
def test_max_gives_the_gradient_to_the_first_maximal_element(shape, axes, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-1, 2, size=shape).astype(float)  # three values: ties everywhere
    t = Tensor(x, requires_grad=True)
    out = t.max(axes)
    reduced = tuple(range(len(shape))) if axes is None else axes
    np.testing.assert_array_equal(out.data, x.max(axis=reduced))
    g = rng.standard_normal(out.shape)
    (out * Tensor(g)).sum().backward()
    expected = first_max_mask(x, reduced) * np.expand_dims(g, reduced)
    np.testing.assert_array_equal(t.grad, expected)


def test_logsumexp_and_log_softmax_are_stable():
    x = Tensor([[1000.0, 1000.0, -1000.0], [-np.inf, 0.0, 1.0]], requires_grad=True)
    lse = x.logsumexp(-1)
    np.testing.assert_allclose(lse.data, [1000.0 + np.log(2.0), np.log(1.0 + np.e)], rtol=1e-15)
    ls = x.log_softmax(-1)
    np.testing.assert_allclose(np.exp(ls.data).sum(-1), [1.0, 1.0], rtol=1e-15)
    ls[:, 1].sum().backward()
    # d log_softmax(x)_1 / dx_i = [i == 1] - softmax(x)_i, with softmax (1/2, 1/2, e**-2000 = 0) and
    # (0, 1/(1+e), e/(1+e)): the -inf and the -1000 take no gradient, and none is nan
    e = np.e
    np.testing.assert_allclose(x.grad, [[-0.5, 0.5, 0.0], [0.0, 1.0 - 1.0 / (1.0 + e), -e / (1.0 + e)]],
                               rtol=1e-15, atol=0)
    all_minus_inf = Tensor([-np.inf, -np.inf]).logsumexp()
    assert all_minus_inf.item() == -np.inf


@examples(15)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), scale=st.sampled_from([1.0, 5.0]), seed=seeds)
def test_log_softmax_gradient(shape, scale, seed):
    x = normal(seed, shape) * scale
    out = check_grads(lambda t: t.log_softmax(-1), x, seed=seed)
    shifted = x - x.max(-1, keepdims=True)
    np.testing.assert_allclose(out.data, shifted - np.log(np.exp(shifted).sum(-1, keepdims=True)), rtol=1e-12,
                               atol=1e-12)


# ---- movement ops ---------------------------------------------------------------------------------


def test_reshape_transpose_and_T():
    x = normal(0, (2, 3, 4))
    check_grads(lambda t: t.reshape(4, -1), x)
    check_grads(lambda t: t.reshape((6, 4)), x)
    out = check_grads(lambda t: t.transpose(2, 0, 1), x)
    np.testing.assert_array_equal(out.data, x.transpose(2, 0, 1))
    np.testing.assert_array_equal(Tensor(x).transpose().data, x.T)
    np.testing.assert_array_equal(Tensor(x).transpose((1, 0, 2)).data, x.transpose(1, 0, 2))
    np.testing.assert_array_equal(Tensor(x[0]).T.data, x[0].T)


@examples(40)
@given(data=st.data(), seed=seeds)
def test_reshape_of_any_view_keeps_the_numbers_in_c_order(data, seed):
    # the engine's reshape may store its copy in another memory order; the numbers must be numpy's
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=5, min_side=1, max_side=4))
    perm = data.draw(st.permutations(range(len(shape))))
    view = normal(seed, shape).transpose(perm)[..., ::data.draw(st.sampled_from([1, 2]))]
    sizes = [n for n in view.shape]
    target = data.draw(st.sampled_from([(-1,), (view.shape[0], -1), (int(np.prod(sizes[:-1])), sizes[-1]),
                                        tuple(sizes[::-1])]))
    target = tuple(target)
    if -1 not in target and np.prod(target) != view.size:
        return
    expected = view.reshape(target)
    got = layout_reshape(view, expected.shape)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype, images", [(np.float32, 4), (np.float64, 2)])
def test_im2col_copy_with_rows_of_whole_4k_pages(dtype, images):
    # 16x16 windows positions per image: 4 float32 or 2 float64 images make each copied row 4096 bytes,
    # which layout.empty_rows pads; the numbers and the conv's gradients must not notice
    x = normal(3, (images, 2, 18, 18)).astype(dtype)
    win = sliding_windows(x, (3, 3)).transpose(0, 2, 3, 1, 4, 5)  # (N, OH, OW, C, kh, kw), as conv2d takes it
    expected = np.ascontiguousarray(win).reshape(images * 256, 18)
    got = layout_reshape(win, (images * 256, 18))
    assert got.strides[1] == 4096 + 64  # stored column by column, each column padded by a cache line
    np.testing.assert_array_equal(got, expected)
    w = normal(4, (3, 2, 3, 3)).astype(dtype)
    X, W = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
    from tinygrad_conv import functional as F
    g = normal(5, (images, 3, 16, 16))
    F.conv2d(X, W).backward(g.astype(dtype))
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    cols = np.ascontiguousarray(sliding_windows(x64, (3, 3)).transpose(1, 4, 5, 0, 2, 3)).reshape(18, -1)
    dW = (g.transpose(1, 0, 2, 3).reshape(3, -1) @ cols.T).reshape(w.shape)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(W.grad, dW, rtol=tol, atol=tol)
    dX = np.zeros_like(x64)
    for a in range(3):
        for b in range(3):
            dX[:, :, a:a + 16, b:b + 16] += np.einsum("nkij,kc->ncij", g, w64[:, :, a, b])
    np.testing.assert_allclose(X.grad, dX, rtol=tol, atol=tol)


def test_contiguous_changes_the_layout_never_a_number():
    x = np.random.default_rng(9).standard_normal((3, 4, 5))
    t = Tensor(x, requires_grad=True)
    assert t.contiguous() is t  # already in C order: nothing to do
    view = t.transpose(2, 0, 1)
    c = view.contiguous()
    assert c is not view and c.data.flags.c_contiguous and not view.data.flags.c_contiguous
    np.testing.assert_array_equal(c.data, x.transpose(2, 0, 1))
    g = np.random.default_rng(10).standard_normal(c.shape)
    (c * Tensor(g)).sum().backward()
    np.testing.assert_array_equal(t.grad, g.transpose(1, 2, 0))


@pytest.mark.parametrize("index", [
    (slice(None), 1), (Ellipsis, slice(0, 2)), (1,), (slice(None, None, -1),), (None, 0),
    (np.array([0, 2, 0, 0]),), (np.array([1, 1]), np.array([0, 3])), ([2, 0],),
    (slice(None), np.array([[3, 3], [0, 3]])), (np.array([True, False, True]),),
])
def test_indexing_and_slicing_scatter_gradients_back(index):
    x = normal(3, (3, 4))
    out = check_grads(lambda t: t[index], x)
    np.testing.assert_array_equal(out.data, x[index])


def test_repeated_indices_add_up_and_tensor_indices_work():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[Tensor([0.0, 0.0, 2.0])].sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 0.0, 1.0])
    assert Tensor(np.arange(6.0).reshape(2, 3))[1, 2].item() == 5.0


def test_pad_gradient_is_the_unpadded_part():
    x = normal(0, (2, 3))
    out = check_grads(lambda t: t.pad(((1, 0), (2, 1)), -7.0), x)
    np.testing.assert_array_equal(out.data, np.pad(x, ((1, 0), (2, 1)), constant_values=-7.0))
    t = Tensor(x)
    assert t.pad(((0, 0), (0, 0))) is t


@pytest.mark.parametrize("kernel, stride, dilation", [((2, 2), 1, 1), ((3, 2), (2, 1), 1), ((2, 2), 1, (2, 1)),
                                                      ((2, 2), 2, 1), ((1, 3), (1, 3), 1)])
def test_windows_is_a_strided_view_whose_gradient_adds_back(kernel, stride, dilation):
    x = normal(1, (2, 5, 6))
    out = check_grads(lambda t: t.windows(kernel, stride, dilation), x)
    s = stride if isinstance(stride, tuple) else (stride, stride)
    d = dilation if isinstance(dilation, tuple) else (dilation, dilation)
    np.testing.assert_array_equal(out.data, sliding_windows(x, kernel, s, d))


@pytest.mark.parametrize("op", ["sum", "mean", "max"])
@pytest.mark.parametrize("memory", [(0, 1, 2, 3, 4, 5), (1, 2, 3, 4, 5, 0), (1, 0, 2, 3, 4, 5)])
def test_reductions_over_a_few_positions_of_a_large_array(op, memory):
    # a pooling window's reduction runs as a loop over its positions: same numbers as numpy, however
    # the input lies in memory (C order, batch innermost as a conv may leave it, channels outermost)
    x = np.random.default_rng(4).standard_normal((6, 5, 4, 3, 2, 2))
    t = Tensor(x, requires_grad=True)
    t.data = np.ascontiguousarray(x.transpose(memory)).transpose(np.argsort(memory))  # same numbers
    out = getattr(t, op)((-2, -1))
    np.testing.assert_allclose(out.data, getattr(np, op)(x, axis=(-2, -1)), rtol=1e-14)
    g = np.random.default_rng(5).standard_normal(out.shape)
    (out * Tensor(g)).sum().backward()
    if op == "max":
        expected = first_max_mask(x, (4, 5)) * g[..., None, None]
    else:
        expected = np.broadcast_to(g[..., None, None] / (4.0 if op == "mean" else 1.0), x.shape)
    np.testing.assert_allclose(t.grad, expected, rtol=1e-15)


@pytest.mark.parametrize("layout", [(0, 1, 2, 3, 4, 5), (1, 0, 4, 5, 2, 3), (4, 5, 1, 0, 2, 3), (1, 4, 5, 2, 3, 0)])
@pytest.mark.parametrize("kernel, stride, dilation", [((3, 3), (1, 1), (1, 1)), ((2, 2), (2, 2), (1, 1)),
                                                      ((2, 3), (2, 1), (1, 2))])
def test_add_windows_back_is_the_adjoint_whatever_the_memory_layout(layout, kernel, stride, dilation):
    # <windows(x), G> == <x, add_windows_back(G)> for every x and G: the definition of the adjoint
    from tinygrad_conv.windows import add_windows_back
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 2, 7, 8))
    win = sliding_windows(x, kernel, stride, dilation)
    stored = np.ascontiguousarray(rng.standard_normal(win.shape).transpose(layout))  # some memory order
    G = stored.transpose(np.argsort(layout))  # the same logical shape as win, laid out differently
    back = add_windows_back(G, x.shape, kernel, stride, dilation)
    assert back.shape == x.shape
    np.testing.assert_allclose(np.sum(win * G), np.sum(x * back), rtol=1e-12)


# ---- backward's rules ------------------------------------------------------------------------------


def test_backward_needs_one_element():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        (x * 2).backward()
    y = (x * 2).sum(axis=1, keepdims=True)[:1]  # (1, 1): one element is fine
    y.backward()
    np.testing.assert_array_equal(x.grad, [[2, 2, 2], [0, 0, 0]])


def test_backward_with_an_explicit_gradient_and_its_shape_check():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 3).backward(np.array([1.0, -1.0]))
    np.testing.assert_array_equal(x.grad, [3.0, -3.0])
    with pytest.raises(ValueError, match=r"\(2,\)"):
        (x * 3).backward(np.ones(3))


def test_leaves_accumulate_until_zeroed_and_inner_grads_are_not_kept():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    loss = y.sum()
    assert x.grad is None
    loss.backward()
    loss.backward()
    np.testing.assert_array_equal(x.grad, [4.0, 8.0])  # two calls: 2 * (2x)
    assert y.grad is None
    x.zero_grad()
    assert x.grad is None
    y2 = (x * x).retain_grad()
    y2.sum().backward()
    np.testing.assert_array_equal(y2.grad, [1.0, 1.0])
    x.grad = None
    (x * 1).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])


def test_leaf_gradients_are_never_shared_between_tensors():
    a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    assert a.grad is not b.grad
    a.grad += 5  # in place, as an optimiser might
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])


def test_no_graph_without_requires_grad_or_under_no_grad():
    x, w = Tensor([1.0, 2.0]), Tensor([3.0, 4.0], requires_grad=True)
    y = x * 2 + 1
    assert not y.requires_grad and y._prev == () and y._vjp is None
    with pytest.raises(ValueError, match="does not require grad"):
        y.sum().backward()
    with no_grad():
        z = (w * x).sum()
    assert not z.requires_grad and z._prev == ()
    assert (w * x).requires_grad  # recording is back on after the block


def test_a_graph_has_no_reference_cycles():
    gc.collect()
    gc.disable()
    try:
        x = Tensor(normal(0, (3, 4)), requires_grad=True)
        hidden = (x @ Tensor(normal(1, (4, 2)), requires_grad=True)).relu()
        loss = hidden.logsumexp(-1).mean()
        loss.backward()
        alive = weakref.ref(hidden)
        del hidden, loss
        assert alive() is None  # freed by reference counting alone, without the cycle collector
    finally:
        gc.enable()


def test_a_deep_graph_needs_no_recursion():
    x = Tensor([0.5], requires_grad=True)
    y = x
    for _ in range(20000):
        y = y * 1.0 + 0.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0])


# ---- dtypes ---------------------------------------------------------------------------------------


def test_float32_stays_float32_through_every_op_and_its_gradient():
    """Every op in float32 keeps float32, and gives float64's numbers to float32's precision."""
    from tinygrad_conv import functional as F

    def run(dtype):
        x = Tensor(normal(0, (2, 1, 5, 5)).astype(dtype), requires_grad=True)
        w = Tensor(normal(1, (3, 1, 2, 2)).astype(dtype), requires_grad=True)
        h = F.max_pool2d(F.conv2d(x, w, padding=1), 2)
        h = F.avg_pool2d(h.tanh() * 2 + h.sigmoid() - h.exp() / 3 + (h.relu() + 1).log() + h ** 2, 1)
        logits = h.reshape(2, -1) @ Tensor(np.ones((27, 4), dtype=dtype))
        loss = F.cross_entropy(logits, np.array([0, 3])) + F.mse_loss(h.mean(axis=(2, 3)), np.zeros((2, 3)))
        loss.backward()
        return loss, logits, x.grad, w.grad

    loss, logits, x_grad, w_grad = run(np.float32)
    assert loss.dtype == np.float32 and logits.dtype == np.float32
    assert x_grad.dtype == np.float32 and w_grad.dtype == np.float32
    loss64, logits64, x_grad64, w_grad64 = run(np.float64)
    # float32 keeps about 7 digits; a few dozen roundings along the way leave 5 or 6
    np.testing.assert_allclose(loss.data, loss64.data, rtol=1e-5)
    np.testing.assert_allclose(logits.data, logits64.data, rtol=1e-5, atol=1e-5 * np.abs(logits64.data).max())
    for ours, exact in ((x_grad, x_grad64), (w_grad, w_grad64)):
        np.testing.assert_allclose(ours, exact, rtol=1e-4, atol=1e-5 * np.abs(exact).max())
    assert np.abs(w_grad64).max() > 0.1  # (numbers worth comparing: not all zero)


@pytest.mark.parametrize("data", [[1, 2], np.arange(3, dtype=np.int32), np.ones(2, dtype=np.float16), True, 2.5,
                                  [[1.0, 2.0]]])
def test_everything_else_becomes_float64(data):
    assert Tensor(data).dtype == np.float64


def test_mixed_float32_and_float64_gives_float32_gradients_to_float32_leaves():
    a = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    out = (a * b).sum()
    assert out.dtype == np.float64
    out.backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


# ---- small conveniences ------------------------------------------------------------------------------


def test_conveniences():
    t = Tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    assert t.shape == (1, 3) and t.ndim == 2 and t.size == 3 and len(t) == 1
    assert isinstance(t.numpy(), np.ndarray) and t.numpy() is t.data
    d = t.detach()
    assert not d.requires_grad and np.shares_memory(d.data, t.data)
    assert Tensor(4.0).item() == 4.0 and isinstance(Tensor(4.0).item(), float)
    assert "requires_grad=True" in repr(t) and "Tensor(" in repr(t)
    assert "float32" in repr(Tensor(np.zeros(2, dtype=np.float32)))
    out = np.array([1.0, 2.0, 3.0]) * t  # an ndarray on the left defers to the Tensor
    assert isinstance(out, Tensor) and out.requires_grad
    data = np.array([1.0, 2.0])
    t2 = Tensor(data)
    data[0] = 9.0
    assert t2.data[0] == 1.0  # the Tensor owns a copy


# ---- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("data, error", [("x", TypeError), (None, TypeError), (np.array(["a"]), TypeError),
                                         (np.array([object()]), TypeError), ([1 + 2j], TypeError),
                                         ([[1.0, 2.0], [3.0]], ValueError)])
def test_bad_data(data, error):
    with pytest.raises(error):
        Tensor(data)


def test_bad_requires_grad_and_item():
    with pytest.raises(TypeError):
        Tensor(1.0, requires_grad="yes")
    with pytest.raises(ValueError, match=r"\(2,\)"):
        Tensor([1.0, 2.0]).item()


def test_shape_errors_name_the_shapes():
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 5\)"):
        a @ b
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 5\)"):
        a + b
    with pytest.raises(ValueError, match=r"\(2, 3, 3\).*\(4, 3, 1\)"):
        Tensor(np.ones((2, 3, 3))) @ Tensor(np.ones((4, 3, 1)))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)"):
        a.reshape(4)
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        a.reshape(-1, -1)
    with pytest.raises(ValueError, match=r"\(0,\).*\(4611686018427387904, 0\)"):
        Tensor(np.zeros(0)).reshape(2 ** 62, 0)  # sizes match (0), but numpy cannot make the shape
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        a.transpose(0, 0)
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        a.sum(axis=2)
    with pytest.raises(ValueError, match="repeated"):
        a.sum(axis=(0, 0))
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        a.pad(((1, 1),))
    with pytest.raises(ValueError, match="non-negative"):
        a.pad(((1, 1), (0, -1)))
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        a.windows((3, 3))
    with pytest.raises(ValueError, match="at least 1 dimension"):
        Tensor(1.0) @ a
    with pytest.raises(IndexError, match=r"\(2, 3\)"):
        a[5]


def test_type_errors():
    a = Tensor([1.0])
    with pytest.raises(TypeError):
        a + "x"
    with pytest.raises(TypeError):
        a * None
    with pytest.raises(TypeError):
        a.reshape(1.5)
    with pytest.raises(TypeError):
        a.sum(axis=0.5)
    with pytest.raises(TypeError):
        len(Tensor(1.0))


@pytest.mark.parametrize("a, b", [((2, 3, 0), (0, 4)), ((2, 3, 4), (4, 0)), ((0, 3, 4), (4, 5)), ((3, 0), (0, 2))])
def test_matmul_with_an_empty_axis_gives_numpys_shapes_and_zero_gradients(a, b):
    x, y = Tensor(np.ones(a), requires_grad=True), Tensor(np.ones(b), requires_grad=True)
    out = x @ y
    np.testing.assert_array_equal(out.data, np.ones(a) @ np.ones(b))  # an empty sum is 0
    (out * 2.0).sum().backward()
    # each gradient is a sum over an empty axis (or is empty itself): zeros of the operand's shape
    np.testing.assert_array_equal(x.grad, np.zeros(a))
    np.testing.assert_array_equal(y.grad, np.zeros(b))
