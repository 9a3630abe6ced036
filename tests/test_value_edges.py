"""Edges of the scalar engine that mutation testing found unchecked (see notes/MUTATION.md): each test
here kills a planted one-token change to tinygrad_conv/value.py that the rest of the suite let through."""
import math

import pytest

from tinygrad_conv import Value


def test_a_leaf_is_a_leaf_and_a_new_node_has_no_gradient_yet():
    a = Value(2.0)
    assert a._op == "" and a._prev == () and a.grad == 0.0
    b = a * 3.0
    assert b.grad == 0.0 and type(b.grad) is float  # before backward(), as micrograd's


def test_backward_from_a_leaf_accumulates_as_pytorch():
    """x.backward() twice on a leaf gives x.grad == 2, as in PyTorch (grads accumulate)."""
    x = Value(3.0)
    x.backward()
    x.backward()
    assert x.grad == 2.0


def test_x_to_the_first_power_has_slope_one_even_at_zero():
    for x in (0.0, -2.0, 5.0):
        a = Value(x)
        (a ** 1).backward()
        assert a.grad == 1.0, x
    a = Value(0.0)
    (a ** 1.5).backward()
    assert a.grad == 0.0  # 1.5 * 0**0.5
    a = Value(0.0)
    (a ** 0.5).backward()
    assert a.grad == math.inf  # as PyTorch's sqrt at 0


def test_the_exponent_gradient_of_a_negative_base_is_nan_as_pytorch():
    """d(a**b)/db = a**b * log(a) has no real value for a < 0: nan (PyTorch gives nan too)."""
    a, b = Value(-2.0), Value(2.0)
    (a ** b).backward()
    assert a.grad == -4.0 and math.isnan(b.grad)
    a, b = Value(0.0), Value(2.0)
    (a ** b).backward()
    assert a.grad == 0.0 and b.grad == 0.0  # the limit at a = 0


@pytest.mark.parametrize("base, exponent, expected", [
    (10.0, 400, math.inf), (-10.0, 400, math.inf), (-10.0, 401, -math.inf), (0.5, -2001, math.inf),
    (-0.5, -2001, -math.inf), (-0.5, -2000, math.inf)])
def test_powers_too_large_for_a_float_overflow_to_a_signed_inf(base, exponent, expected):
    assert (Value(base) ** exponent).data == expected
    assert (Value(base) ** Value(float(exponent))).data == expected


@pytest.mark.parametrize("x", [0.0, -0.0])
def test_log_of_zero_is_refused_by_the_engine_itself(x):
    with pytest.raises(ValueError, match=r"log needs a positive number, got -?0\.0 \(z\)"):
        Value(x, name="z").log()


def test_messages_name_the_offending_thing():
    with pytest.raises(TypeError, match=r"Value data must be a real number, got '3' of type str"):
        Value("3")
    with pytest.raises(TypeError, match=r"exponent must be a real number, got '2' of type str"):
        Value(1.0) ** "2"
    with pytest.raises(TypeError, match=r"cannot combine a Value with 'a' of type str"):
        Value(1.0) + "a"
    with pytest.raises(TypeError, match=r"Value name must be a string or None, got 3"):
        Value(1.0, name=3)


def test_repr_shows_name_data_and_grad():
    from tinygrad_conv.value import NO_PATH
    a = Value(2.0, name="a")
    assert repr(a) == "Value(a=2.0, grad=0.0)"
    b = a * 3.0
    b.backward()
    assert repr(b) == "Value(6.0, grad=1.0)" and repr(a) == "Value(a=2.0, grad=3.0)"
    assert repr(NO_PATH) == "0.0" and NO_PATH == 0.0  # reads as the zero it is


def test_value_max_of_nothing_says_so():
    with pytest.raises(ValueError, match=r"^Value\.max needs at least one value, got none$"):
        Value.max([])
