"""Grids: numpy arrays of dtype=object holding Values, the scalar engine's images and filters.

    I = values(np.arange(9.0).reshape(3, 3), name="I")   # I11 I12 I13 / I21 ... / ... I33
    data(I), grads(I)                                    # float ndarrays of the same shape

Names are 1-based, as in the textbook: a 2-D grid whose sides are at most 9
names its elements `I11` ... `I33`, a 1-D grid `b1` ..., any other grid puts
all indices in brackets (`I[1,10]`, `W[1,1,2,3]`). A grid whose own name ends
in a digit (`W2`) always uses brackets (`W2[1,1]`), so that every element name
reads back as one grid name and one index: `parse_name` is `element_name` undone.
"""
import itertools
import re

import numpy as np

from .value import Value


def element_name(name, index, shape):
    """The textbook name of element `index` (0-based) of a grid of `shape` called `name`."""
    if len(shape) == 0:
        return name
    digits_read_back = not name[-1:].isdigit()  # "W2" + "11" would read as W211
    if len(shape) == 1 and digits_read_back:
        return f"{name}{index[0] + 1}"
    if len(shape) == 2 and max(shape) <= 9 and digits_read_back:
        return f"{name}{index[0] + 1}{index[1] + 1}"
    return f"{name}[{','.join(str(i + 1) for i in index)}]"


_BRACKETED = re.compile(r"(.+?)\[(\d+(?:,\d+)*)\]")
_DIGITS = re.compile(r"(.*\D)([1-9]\d*)")


def parse_name(name, ndim=None):
    """(grid name, 0-based index) of an element name, or None for a name no grid makes.

    The inverse of `element_name`: "I23" -> ("I", (1, 2)), "b3" -> ("b", (2,)),
    "b12" -> ("b", (11,)) with ndim=1, "W[1,1,2,3]" -> ("W", (0, 0, 1, 2)),
    "W2[1,1]" -> ("W2", (0, 0)). Two plain digits are read as a 2-D index unless
    ndim=1 says the grid is 1-D (a 2-D digit-named grid has sides of at most 9);
    one digit, or three or more, is a 1-D index.
    """
    if not isinstance(name, str):
        return None
    m = _BRACKETED.fullmatch(name)
    if m:
        return m.group(1), tuple(int(i) - 1 for i in m.group(2).split(","))
    m = _DIGITS.fullmatch(name)
    if not m:
        return None
    grid, digits = m.groups()
    if len(digits) == 2 and ndim != 1 and "0" not in digits:
        return grid, (int(digits[0]) - 1, int(digits[1]) - 1)
    return grid, (int(digits) - 1,)


def values(array, name=None):
    """A grid of fresh leaf Values holding the numbers of `array`, named after `name`."""
    if name is not None and not isinstance(name, str):
        raise TypeError(f"values() name must be a string or None, got {name!r}")
    numbers = np.asarray(array)
    if numbers.dtype == object:
        raise TypeError("values() makes a grid from numbers; this array already holds objects "
                        f"(shape {numbers.shape}); use it as it is")
    if not (np.issubdtype(numbers.dtype, np.number) or numbers.dtype == bool) or np.iscomplexobj(numbers):
        raise TypeError(f"values() needs real numbers, got an array of dtype {numbers.dtype}")
    names = [None] * numbers.size if name is None else _element_names(name, numbers.shape)
    # (plain Python numbers from tolist(): several times faster to go through than an array)
    return grid_from_list([Value(float(x), element) for x, element in zip(numbers.ravel().tolist(), names)],
                          numbers.shape)


def grid_from_list(items, shape):
    """A list of Values (in C order) as a grid of `shape`.

    np.fromiter only copies the references; `grid[:] = items` would first have numpy look at
    every item to see whether it is a sequence or an array (8x slower).
    """
    return np.fromiter(items, dtype=object, count=len(items)).reshape(shape)


def name_grid(grid, name):
    """Name every Value of `grid` as a grid called `name`; returns the grid."""
    if isinstance(grid, Value):
        grid.name = name
        return grid
    for v, element in zip(grid.flat, _element_names(name, grid.shape)):
        v.name = element
    return grid


def _element_names(name, shape):
    """element_name for every index of `shape`, in C order (as grid.flat runs).

    The same names, made faster: which form they take depends on the name and shape only, so it
    is chosen once, and each index's digits are formatted once per axis, not once per element
    (naming every layer output was a tenth of an MLP training step).
    """
    if len(shape) == 0:
        return [name]
    digits_read_back = not name[-1:].isdigit()
    numbers = [[str(i + 1) for i in range(n)] for n in shape]
    if len(shape) == 1 and digits_read_back:
        return [name + i for i in numbers[0]]
    if len(shape) == 2 and max(shape) <= 9 and digits_read_back:
        return [name + i + j for i, j in itertools.product(*numbers)]
    # name[i,j,k]: each prefix "name[i,j," made once, then one concatenation per element
    prefixes = [name + "["]
    for axis in numbers[:-1]:
        prefixes = [prefix + i + "," for prefix in prefixes for i in axis]
    last = [i + "]" for i in numbers[-1]]
    return [prefix + i for prefix in prefixes for i in last]


def as_grid(x, what="grid"):
    """x as an object array of Values; a TypeError saying what x is if it is not one."""
    if isinstance(x, Value):
        return np.array(x, dtype=object)
    if isinstance(x, np.ndarray) and x.dtype == object:
        for v in x.flat:
            if type(v) is not Value:
                raise TypeError(f"{what} must hold only Values, found {v!r} of type {type(v).__name__}")
        return x
    if isinstance(x, np.ndarray):
        raise TypeError(f"{what} must be a grid of Values (dtype=object), got a {x.dtype} array of shape "
                        f"{x.shape}; make one with tinygrad_conv.values(array)")
    if isinstance(x, (list, tuple)):
        return as_grid(np.array(x, dtype=object), what)
    raise TypeError(f"{what} must be a grid of Values, got {type(x).__name__}")


def data(grid):
    """The numbers a grid holds, as a float64 array of its shape."""
    g = as_grid(grid)
    return np.array([v.data for v in g.flat], dtype=np.float64).reshape(g.shape)


def grads(grid):
    """The gradients a grid's Values hold after backward(), as a float64 array of its shape."""
    g = as_grid(grid)
    return np.array([v.grad for v in g.flat], dtype=np.float64).reshape(g.shape)
