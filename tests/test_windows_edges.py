"""windows.py beyond the common case: gradients laid out in any memory order, copies big enough to
take copy_rows' row-at-a-time path, numpy integers and bad pairs, windows that fit along one axis
only, and strides or dilations too big for numpy's byte strides.

Every value is checked against a definition: add_windows_back against the loop
    dL/dx[..., s*i + d*a, t*j + e*b] += dL/dwindows[..., i, j, a, b],
copy_rows against numpy's own assignment dest[...] = src.
"""
import numpy as np
import pytest
from hypothesis import example, given, strategies as st

from tinygrad_conv.windows import add_windows_back, as_pair, copy_rows, output_size, sliding_windows

from strategies import examples
from test_windows_adjoint import add_windows_back_by_loop

pairs = st.tuples(st.integers(1, 3), st.integers(1, 3))


@examples(30)
@given(kernel=pairs, stride=pairs, dilation=pairs, extra=pairs, lead=st.lists(st.integers(1, 3), max_size=2),
       order=st.permutations(range(6)), float32=st.booleans(), seed=st.integers(0, 2**16))
# the positions outermost in memory, batch and channel inside them (as the Tensor engine lays out
# a conv's gradient), once with overlapping windows and once with disjoint ones
@example(kernel=(2, 2), stride=(1, 1), dilation=(1, 1), extra=(3, 2), lead=[2, 3], order=(2, 3, 0, 1, 4, 5),
         float32=True, seed=0)
@example(kernel=(2, 2), stride=(2, 2), dilation=(1, 1), extra=(1, 0), lead=[2, 3], order=(2, 3, 0, 1, 4, 5),
         float32=False, seed=1)
# big enough (4096 numbers or more per copy) for copy_rows' row-at-a-time copies
@example(kernel=(2, 3), stride=(1, 1), dilation=(1, 2), extra=(40, 110), lead=[2], order=(0, 1, 2, 3, 4, 5),
         float32=False, seed=2)
@example(kernel=(2, 2), stride=(2, 2), dilation=(1, 1), extra=(126, 62), lead=[2], order=(0, 1, 2, 3, 4, 5),
         float32=True, seed=3)
@example(kernel=(3, 2), stride=(1, 2), dilation=(2, 1), extra=(60, 100), lead=[2], order=(1, 2, 3, 0, 4, 5),
         float32=False, seed=4)
def test_add_windows_back_is_its_definition_in_any_memory_layout(kernel, stride, dilation, extra, lead, order,
                                                                 float32, seed):
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    shape = tuple(lead) + (span[0] + extra[0], span[1] + extra[1])
    oh, ow = (output_size(n, k, s, d) for n, k, s, d in zip(shape[-2:], kernel, stride, dilation))
    logical = tuple(lead) + (oh, ow) + kernel
    axes = [a - (6 - len(logical)) for a in order if a >= 6 - len(logical)]  # a permutation of its axes
    dtype = np.float32 if float32 else np.float64
    in_memory = np.random.default_rng(seed).standard_normal([logical[a] for a in axes]).astype(dtype)
    G = in_memory.transpose(np.argsort(axes))  # the same numbers seen in the logical order
    assert G.shape == logical
    back = add_windows_back(G, shape, kernel, stride, dilation)
    assert back.shape == shape and back.dtype == dtype
    expected = add_windows_back_by_loop(G.astype(np.float64), shape, kernel, stride, dilation)
    np.testing.assert_allclose(back, expected, rtol=1e-5 if float32 else 1e-13, atol=1e-5 if float32 else 1e-13)


# ---- copy_rows: dest[...] = src, whichever way the copy goes -------------------------------------

BIG = (64, 80)  # 5120 numbers: over the 4096 from which copy_rows moves whole rows


def numpy_assign(dest, src):
    expected = dest.copy()
    expected[...] = src
    return expected


@pytest.mark.parametrize("make_src", [
    lambda rng: rng.standard_normal(BIG),                             # same shape and dtype
    lambda rng: rng.standard_normal(BIG).astype(np.float32),          # float32 into float64
    lambda rng: rng.integers(-2**40, 2**40, BIG),                     # int64: same item size, other meaning
    lambda rng: rng.standard_normal(BIG[-1]),                         # one row, broadcast down
    lambda rng: rng.standard_normal((BIG[0], 1)),                     # one column, broadcast across
    lambda rng: np.array(2.5),                                        # a 0-d array
    lambda rng: rng.standard_normal((BIG[1], BIG[0])).T,              # rows not contiguous
    lambda rng: rng.standard_normal((BIG[0], 2 * BIG[1]))[:, ::2],    # every other number
], ids=["same", "float32", "int64", "row", "column", "0-d", "transposed", "strided"])
def test_copy_rows_is_numpys_assignment(make_src):
    rng = np.random.default_rng(0)
    src = make_src(rng)
    for dest in (np.full(BIG, np.nan), np.full((BIG[0], 2 * BIG[1]), np.nan)[:, ::2], np.full(BIG[::-1], np.nan).T):
        expected = numpy_assign(dest, src)
        copy_rows(dest, src)
        np.testing.assert_array_equal(dest, expected)


def test_copy_rows_of_many_rows_in_three_axes_and_float32():
    rng = np.random.default_rng(1)
    src = rng.standard_normal((3, 40, 50)).astype(np.float32)
    dest = np.zeros((3, 40, 50), np.float32)
    copy_rows(dest, src)
    np.testing.assert_array_equal(dest, src)
    dest = np.zeros((3, 40, 50))
    copy_rows(dest[:, :, :], src[0])  # one (40, 50) plane broadcast over the first axis, float32 -> float64
    np.testing.assert_array_equal(dest, np.broadcast_to(src[0].astype(np.float64), (3, 40, 50)))


def test_copy_rows_of_objects_copies_the_references():
    """An object array's items are references: they must be copied as such, not as bytes."""
    src = np.empty(BIG, dtype=object)
    for index in np.ndindex(*BIG):
        src[index] = [index]  # distinct objects
    dest = np.empty(BIG, dtype=object)
    copy_rows(dest, src)
    assert all(dest[index] is src[index] for index in np.ndindex(*BIG))


# ---- as_pair: ints and pairs of ints, numpy's too, checked against the minimum ----------------------


def test_as_pair_takes_ints_and_numpy_ints_and_gives_python_ints():
    assert as_pair(2, "stride") == (2, 2) and as_pair((1, 3), "stride") == (1, 3) and as_pair([0, 2], "padding", 0) \
        == (0, 2)
    for v, minimum, expected in ((np.int64(1), 1, (1, 1)), ((np.int32(0), 4), 0, (0, 4)), ((2, np.int8(1)), 1, (2, 1))):
        got = as_pair(v, "x", minimum)
        assert got == expected and all(type(n) is int for n in got)


@pytest.mark.parametrize("bad", [2.0, (2.5, 3), (3, 2.5), (1, 2, 3), (True, 1), (1, False), "2", (1,)])
def test_as_pair_refuses_what_is_not_an_int_or_a_pair_of_ints(bad):
    with pytest.raises(TypeError, match=r"^stride must be an int or a pair of ints, got "):
        as_pair(bad, "stride")


def test_as_pair_says_which_bound_was_broken():
    with pytest.raises(ValueError, match=r"^stride must be positive, got \(1, 0\)$"):
        as_pair((1, 0), "stride")
    with pytest.raises(ValueError, match=r"^dilation must be positive, got np.int64\(0\)$"):
        as_pair(np.int64(0), "dilation")
    with pytest.raises(ValueError, match=r"^padding must be non-negative, got -1$"):
        as_pair(-1, "padding", 0)
    with pytest.raises(ValueError, match=r"^padding must be non-negative, got \(0, np.int64\(-2\)\)$"):
        as_pair((0, np.int64(-2)), "padding", 0)


# ---- sliding_windows: fits along both axes or not at all; huge steps that move nothing -------------


@pytest.mark.parametrize("shape", [(3, 1), (1, 3), (1, 1)])
def test_a_window_that_does_not_fit_along_either_axis_is_refused(shape):
    with pytest.raises(ValueError, match=rf"^a 2x2 window \(dilation \(1, 1\)\) does not fit in an input of shape "
                                         rf"{re_shape(shape)}$"):
        sliding_windows(np.zeros(shape), (2, 2), (1, 1), (1, 1))


def re_shape(shape):
    return str(shape).replace("(", r"\(").replace(")", r"\)")


def test_a_stride_with_one_window_or_a_dilation_of_a_one_wide_kernel_may_be_huge():
    """They move nothing, so they are dropped before numpy's byte strides could overflow."""
    x = np.arange(12.0).reshape(3, 4)
    huge = 10**20
    w = sliding_windows(x, (3, 1), (huge, 1), (1, huge))  # one window down, one-wide kernel across
    assert w.shape == (1, 4, 3, 1)
    for j in range(4):
        np.testing.assert_array_equal(w[0, j, :, 0], x[:, j])
    w = sliding_windows(x, (1, 4), (1, huge), (huge, 1))
    assert w.shape == (3, 1, 1, 4)
    np.testing.assert_array_equal(w[:, 0, 0, :], x)


def test_windows_are_a_read_only_view():
    """Overlapping windows share memory: a write through one would change its neighbours, so none is allowed."""
    x = np.arange(9.0).reshape(3, 3)
    w = sliding_windows(x, (2, 2), (1, 1), (1, 1))
    assert np.shares_memory(w, x) and not w.flags.writeable
    with pytest.raises(ValueError):
        w[0, 0, 0, 0] = 1.0
