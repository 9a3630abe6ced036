"""Grids: numbers in and out unchanged, and the textbook names of API.md."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_conv as tc
from tinygrad_conv import Value

shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=11)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


def textbook_name(name, index, shape):
    """API.md's rule, written independently: I11..I99 for 2-D sides <= 9, b1.. for 1-D, I[1,10] otherwise."""
    one_based = [i + 1 for i in index]
    if len(shape) == 0:
        return name
    if len(shape) == 1:
        return name + str(one_based[0])
    if len(shape) == 2 and shape[0] <= 9 and shape[1] <= 9:
        return name + "".join(map(str, one_based))
    return name + "[" + ",".join(map(str, one_based)) + "]"


@given(array=hnp.arrays(np.float64, shapes, elements=finite))
def test_values_data_round_trip_exactly(array):
    grid = tc.values(array, name="x")
    assert grid.dtype == object and grid.shape == array.shape
    back = tc.data(grid)
    assert back.dtype == np.float64 and back.shape == array.shape
    assert np.array_equal(back, array)
    assert np.array_equal(tc.grads(grid), np.zeros(array.shape))


@given(shape=shapes, seed=st.integers(0, 2**32 - 1))
def test_grads_reads_each_values_grad_in_place(shape, seed):
    grid = tc.values(np.zeros(shape))
    g = np.random.default_rng(seed).standard_normal(shape)
    for index in np.ndindex(*shape):
        grid[index].grad = float(g[index])
    assert np.array_equal(tc.grads(grid), g)


@given(shape=shapes)
def test_every_element_is_a_fresh_named_leaf(shape):
    grid = tc.values(np.ones(shape), name="I")
    cells = list(grid.flat)
    assert all(type(v) is Value and v._prev == () for v in cells)
    assert len({id(v) for v in cells}) == len(cells)  # no Value shared between cells
    for index in np.ndindex(*shape):
        assert grid[index].name == textbook_name("I", index, shape)


@pytest.mark.parametrize("shape, index, name", [
    ((3, 3), (0, 0), "I11"), ((3, 3), (2, 2), "I33"), ((9, 9), (8, 0), "I91"),
    ((1, 10), (0, 9), "I[1,10]"), ((10, 1), (9, 0), "I[10,1]"), ((12,), (11,), "I12"),
    ((2, 2, 3), (1, 0, 2), "I[2,1,3]"), ((1, 1, 2, 3), (0, 0, 1, 2), "I[1,1,2,3]"), ((), (), "I"),
])
def test_names_follow_the_textbook(shape, index, name):
    assert tc.values(np.zeros(shape), name="I")[index].name == name


def test_unnamed_grids_have_unnamed_values_and_ints_become_floats():
    grid = tc.values([[1, 2], [3, 4]])
    assert all(v.name is None for v in grid.flat)
    assert all(type(v.data) is float for v in grid.flat)
    assert tc.data(grid).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert tc.values(np.array([True, False])).tolist()[0].data == 1.0


def test_data_and_grads_take_a_grid_a_list_or_one_value():
    a, b = Value(1.0), Value(2.0)
    b.grad = 3.0
    assert tc.data([a, b]).tolist() == [1.0, 2.0]
    assert tc.grads([a, b]).tolist() == [0.0, 3.0]
    assert tc.data(b).shape == () and float(tc.grads(b)) == 3.0


def test_data_of_a_fresh_grid_is_a_copy():
    grid = tc.values(np.ones((2, 2)))
    out = tc.data(grid)
    out[0, 0] = 5.0
    assert grid[0, 0].data == 1.0


def test_bad_grids():
    with pytest.raises(TypeError, match=r"already holds objects.*\(2,\)"):
        tc.values(np.array([Value(1.0), Value(2.0)], dtype=object))
    with pytest.raises(TypeError, match="complex"):
        tc.values(np.array([1 + 2j]))
    with pytest.raises(TypeError, match="dtype <U1"):
        tc.values(np.array(["a"]))
    with pytest.raises(TypeError, match=r"float64 array of shape \(3, 3\)"):
        tc.data(np.zeros((3, 3)))
    with pytest.raises(TypeError, match="found 1.5 of type float"):
        tc.grads(np.array([Value(1.0), 1.5], dtype=object))
    with pytest.raises(TypeError, match="name"):
        Value(1.0, name=3)


@settings(max_examples=50, deadline=None)
@given(name=st.sampled_from(["I", "W", "o", "W2", "conv1.W", "x_3"]),
       shape=st.lists(st.integers(1, 11), min_size=1, max_size=4).map(tuple), data=st.data())
def test_parse_name_reads_back_every_element_name(name, shape, data):
    from tinygrad_conv.grid import element_name, parse_name
    index = tuple(data.draw(st.integers(0, n - 1)) for n in shape)
    text = element_name(name, index, shape)
    assert parse_name(text, ndim=len(shape) if len(shape) == 1 else None) == (name, index)


def test_a_grid_name_ending_in_a_digit_brackets_its_indices():
    from tinygrad_conv.grid import element_name, parse_name
    assert element_name("W2", (0, 1), (2, 2)) == "W2[1,2]"
    assert element_name("W", (0, 1), (2, 2)) == "W12"
    assert parse_name("0") is None and parse_name("-inf") is None and parse_name("x") is None


@settings(max_examples=50, deadline=None)
@given(name=st.sampled_from(["I", "W", "o", "W2", "conv1.W", "x_3", ""]),
       shape=st.lists(st.integers(0, 11), min_size=0, max_size=4).map(tuple))
def test_name_grid_gives_every_element_its_element_name(name, shape):
    from tinygrad_conv.grid import element_name, name_grid
    grid = tc.values(np.zeros(shape))
    name_grid(grid, name)
    for index, v in np.ndenumerate(grid):
        assert v.name == element_name(name, index, shape)
    transposed = name_grid(tc.values(np.zeros(shape)).T, name)  # a non-contiguous view is named in its own order
    for index, v in np.ndenumerate(transposed):
        assert v.name == element_name(name, index, transposed.shape)
    for index, v in np.ndenumerate(tc.values(np.zeros(shape), name)):  # values() names its leaves the same way
        assert v.name == element_name(name, index, shape)
