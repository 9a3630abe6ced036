"""Layers as objects that own their parameters, on either engine.

A model is built once. Its parameters are Tensors (engine="tensor", the
default, for training) or grids of Values (engine="scalar", to look inside);
`model.to("scalar")` / `model.to("tensor")` moves them across, keeping the
numbers. The layers call `tinygrad_conv.functional`, which runs on whichever
kind the input and parameters are.

    model = Sequential(Conv2d(1, 8, 3), ReLU(), MaxPool2d(2), Flatten(), Linear(8 * 3 * 3, 10))
    loss = functional.cross_entropy(model(Tensor(images)), labels)
"""
import math
from collections import namedtuple
from collections.abc import Mapping

import numpy as np

from . import functional as F
from .grid import data as grid_data, name_grid, values
from .value import Value
from .windows import as_pair

ENGINES = ("tensor", "scalar")


def _check_engine(engine):
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    return engine


def is_parameter(x):
    """Tensors that require grad and grids of Values are parameters; everything else (a constant
    Tensor such as a fixed mask, numbers, settings) is not, as in PyTorch."""
    if type(x).__name__ == "Tensor":
        return x.requires_grad
    return (isinstance(x, np.ndarray) and x.dtype == object) or isinstance(x, Value)


def engine_of(p):
    """Which engine a parameter belongs to: "tensor" or "scalar"."""
    return "tensor" if type(p).__name__ == "Tensor" else "scalar"


def parameter(array, engine, name=None):
    """Numbers as a trainable parameter of the engine: a Tensor that requires grad, or a grid named `name`."""
    if _check_engine(engine) == "tensor":
        from .tensor import Tensor
        return Tensor(array, requires_grad=True)
    return values(array, name)


def parameter_data(p):
    """A parameter's numbers as a float array (a copy for grids)."""
    if isinstance(p, Value):
        return np.array(p.data)
    if isinstance(p, np.ndarray):
        return grid_data(p)
    return p.data


class Module:
    """Base class: finds parameters and sub-modules among its attributes, in the order they were set."""

    def forward(self, x):
        raise NotImplementedError

    # on the scalar engine: the grid name of this layer's outputs (None: unnamed), and the letter
    # they are named after inside a model of several layers (see name_layers)
    out_name = None
    output_letter = None

    def __call__(self, x):
        if "_layers_named" not in vars(self) and next(self.children(), None) is not None:
            self.name_layers()  # a model of several layers not yet named as one: name it before it runs
        return self.forward(x)

    def name_layers(self):
        """Give every layer of this model names of its own on the scalar engine; returns self.

        Layers are taken in order (depth first, as `named_children` lists them). The first
        layer to use a letter keeps it plain, as a lone layer names itself (W, b, o); a later
        one adds its number among the layers using that letter (W2, b2, o2 for the second
        conv; V2, c2, z2 for a second Linear; r2, p2 for the second relu and pool). So two
        convs never both name an output o[1,1,1,1], the names stay the same when layers are
        appended, and every element name reads back with grid.parse_name (`o2[1,3,2,2]`).

        Sequential calls this when it is made, and any other model with sub-modules the first
        time it is called. Parameters already on the scalar engine are renamed in place; the
        Tensor engine has no names and is unchanged.
        """
        taken, seen = set(), set()
        for layer in _layers_in_order(self, seen):
            names, output_letter = _base_names(layer)
            letters = [letter for letter in (*names.values(), output_letter) if letter is not None]
            n = 1
            while any(_numbered(letter, n) in taken for letter in letters):
                n += 1
            taken.update(_numbered(letter, n) for letter in letters)
            if letters:
                _rename(layer, n)
            layer._layers_named = True
        self._layers_named = True
        return self

    def children(self):
        for value in vars(self).values():
            if isinstance(value, Module):
                yield value
            elif isinstance(value, (list, tuple)):
                yield from (v for v in value if isinstance(v, Module))

    def _own_parameters(self):
        return [(key, value) for key, value in vars(self).items() if value is not None and is_parameter(value)]

    def parameters(self):
        """Every parameter of this module and its sub-modules, each once (a module used twice, as in
        Sequential(lin, relu, lin), gives its parameters once), in a fixed order."""
        params, seen = [], set()
        self._collect(params, seen)
        return params

    def _collect(self, params, seen):
        for _, p in self._own_parameters():
            if id(p) not in seen:
                seen.add(id(p))
                params.append(p)
        for child in self.children():
            child._collect(params, seen)

    def zero_grad(self):
        """Set every parameter's gradient to zero (None for Tensors, as PyTorch)."""
        for p in self.parameters():
            _zero_grad(p)

    def to(self, engine):
        """Move every parameter to `engine` ("tensor" or "scalar") in place, keeping its numbers; returns self.

        A parameter already on that engine stays the very same object, so an optimizer made
        earlier still updates it; one moved across is new, and needs a new optimizer.
        """
        _check_engine(engine)
        for key, p in self._own_parameters():
            if engine_of(p) != engine:
                name = getattr(self, "names", {}).get(key)
                setattr(self, key, parameter(parameter_data(p), engine, name))
        for child in self.children():
            child.to(engine)
        return self

    def __repr__(self):
        return f"{type(self).__name__}()"

    # ---- state: the numbers of a model, by PyTorch's names -------------------------------

    def named_children(self):
        """(name, sub-module) pairs, in the order they were set: an attribute's name, or
        "layers.0" for the modules in a list (Sequential numbers its layers "0", "1", ...)."""
        for key, value in vars(self).items():
            if isinstance(value, Module):
                yield key, value
            elif isinstance(value, (list, tuple)):
                yield from ((f"{key}.{i}", v) for i, v in enumerate(value) if isinstance(v, Module))

    def named_parameters(self, prefix=""):
        """(key, parameter) for every parameter, keyed by its path through the module tree, as
        PyTorch's state_dict keys it: "weight", "0.bias", "features.3.weight". A module used
        twice appears under both paths (as in PyTorch's state_dict)."""
        for key, p in self._own_parameters():
            yield prefix + key, p
        for name, child in self.named_children():
            yield from child.named_parameters(prefix + name + ".")

    def state_dict(self):
        """{key: a float array of that parameter's numbers}, with PyTorch's keys for the same model:

            Sequential(Conv2d(1, 8, 3), ReLU(), MaxPool2d(2), Flatten(), Linear(72, 10)).state_dict()
            -> {"0.weight": (8, 1, 3, 3), "0.bias": (8,), "4.weight": (10, 72), "4.bias": (10,)}

        Each array is a copy, so training on afterwards leaves it as it was. The same keys on
        either engine: a grid of Values gives its numbers (float64), a Tensor its data's dtype.
        """
        return {key: np.array(parameter_data(p), copy=True) for key, p in self.named_parameters()}

    def load_state_dict(self, state_dict, strict=True):
        """Set every parameter's numbers from state_dict, in place, as PyTorch's load_state_dict.

        Each parameter keeps its engine, its dtype and its identity (an optimizer made before
        still updates it; a grid's Values keep their names, only their .data changes). The
        values may be numpy arrays, numbers, Tensors or torch tensors.

        Strict, as PyTorch: a key the model lacks, a parameter the dict lacks, or numbers of
        the wrong shape are one StateDictError (a ValueError, and a RuntimeError as PyTorch's)
        naming every one of them, and nothing is changed. strict=False lets missing and
        unexpected keys pass (shapes must still match). Returns (missing_keys, unexpected_keys).
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict takes a dict of key -> array, got {type(state_dict).__name__}")
        params = list(self.named_parameters())
        keys = {key for key, _ in params}
        missing = [key for key, _ in params if key not in state_dict]
        unexpected = [key for key in state_dict if key not in keys]
        problems, updates = [], []
        for key, p in params:
            if key not in state_dict:
                continue
            numbers = _as_numbers(state_dict[key])
            shape = np.shape(parameter_data(p))
            if numbers is None:
                problems.append(f"{key}: expected real numbers, got {type(state_dict[key]).__name__}"
                                + (f" of dtype {np.asarray(state_dict[key]).dtype}"
                                   if hasattr(state_dict[key], "dtype") else ""))
            elif numbers.shape != shape:
                problems.append(f"size mismatch for {key}: the dict has shape {numbers.shape}, "
                                f"the model's parameter has shape {shape}")
            else:
                updates.append((p, numbers))
        if strict:
            problems = ([f"missing key(s): {', '.join(map(repr, missing))}"] if missing else []) \
                + ([f"unexpected key(s): {', '.join(map(repr, unexpected))}"] if unexpected else []) + problems
        if problems:
            raise StateDictError(f"Error(s) in loading state_dict for {type(self).__name__}:\n  "
                                 + "\n  ".join(problems)
                                 + f"\n(the model's keys: {', '.join(k for k, _ in params) or 'none'})")
        for p, numbers in updates:
            _set_numbers(p, numbers)
        return LoadResult(missing, unexpected)

    def float(self):
        """Every Tensor parameter (and its gradient) as float32, in place, as PyTorch; returns self."""
        return self._cast(np.float32)

    def double(self):
        """Every Tensor parameter (and its gradient) as float64, in place, as PyTorch; returns self."""
        return self._cast(np.float64)

    def _cast(self, dtype):
        params = self.parameters()
        if dtype != np.float64 and any(engine_of(p) == "scalar" for p in params):
            raise ValueError("Values hold Python floats (float64), so a model on the scalar engine has no "
                             "float32; move it first: model.to('tensor').float()")
        for p in params:
            if engine_of(p) == "tensor" and p.data.dtype != dtype:
                p.data = p.data.astype(dtype)
                if p.grad is not None:
                    p.grad = p.grad.astype(dtype)
        return self


def _layers_in_order(module, seen):
    """module and every module under it, each once, depth first in attribute order."""
    if id(module) in seen:
        return
    seen.add(id(module))
    yield module
    for child in module.children():
        yield from _layers_in_order(child, seen)


def _numbered(letter, n):
    """The n-th layer's grid name for `letter`: W, W2, W3, ..."""
    return letter if n == 1 else f"{letter}{n}"


def _base_names(layer):
    """The letters a layer chose for itself, before any numbering: ({parameter: letter}, output letter)."""
    return vars(layer).setdefault("_base_names", (dict(getattr(layer, "names", {})), layer.output_letter))


def _rename(layer, n):
    """Number a layer's parameter and output names (n = 1: its own plain letters), renaming grids already made."""
    names, output_letter = _base_names(layer)
    if names:
        layer.names = {key: _numbered(letter, n) for key, letter in names.items() if letter is not None}
        for key, letter in layer.names.items():
            p = getattr(layer, key, None)
            if p is not None and engine_of(p) == "scalar":
                name_grid(p, letter)
    if output_letter is not None:
        layer.out_name = _numbered(output_letter, n)


def _zero_grad(p):
    if isinstance(p, Value):
        p.grad = 0.0
    elif isinstance(p, np.ndarray):
        for v in p.flat:
            v.grad = 0.0
    else:
        p.grad = None


def _uniform(rng, bound, shape):
    return rng.uniform(-bound, bound, size=shape)


class Conv2d(Module):
    """o = conv2d(x, W, b): weight (out_channels, in_channels/groups, kh, kw), as PyTorch's Conv2d.

    Initialised as PyTorch does: W and b uniform in +-1/sqrt(fan_in), fan_in = in/groups * kh * kw.
    On the scalar engine W's elements are named W[k,c,a,b] and b's b1 ... (set `name`/`bias_name`),
    its outputs o[n,k,i,j]; in a model of several layers a later conv numbers them (see name_layers).
    """
    out_name = output_letter = "o"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, engine="tensor", seed=None, name="W", bias_name="b"):
        kh, kw = as_pair(kernel_size, "kernel_size")
        for what, n in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if not isinstance(n, int) or n < 1:
                raise ValueError(f"{what} must be a positive int, got {n!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"groups={groups} must divide in_channels={in_channels} and out_channels={out_channels}")
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        rng = np.random.default_rng(seed)
        bound = 1.0 / math.sqrt(in_channels // groups * kh * kw)
        self.names = {"weight": name, "bias": bias_name}
        self.weight = parameter(_uniform(rng, bound, (out_channels, in_channels // groups, kh, kw)), engine, name)
        self.bias = parameter(_uniform(rng, bound, (out_channels,)), engine, bias_name) if bias else None

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups,
                        name=self.out_name)

    def __repr__(self):
        k, c, kh, kw = self.weight.shape
        return (f"Conv2d({c * self.groups}, {k}, kernel_size=({kh}, {kw}), stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, groups={self.groups}, "
                f"bias={self.bias is not None})")


class Linear(Module):
    """z = x @ V.T + c with V (out_features, in_features), initialised as PyTorch's Linear.

    On the scalar engine V's elements are named V11 ... (or V[j,i]) and c's c1 ..., letters of their
    own so that they never read as a conv's W and b; in a model of several layers its outputs are
    named z (z2, ... for later ones; see name_layers), while a lone Linear leaves them unnamed.
    """

    def __init__(self, in_features, out_features, bias=True, engine="tensor", seed=None, name="V", bias_name="c"):
        for what, n in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(n, int) or n < 1:
                raise ValueError(f"{what} must be a positive int, got {n!r}")
        rng = np.random.default_rng(seed)
        bound = 1.0 / math.sqrt(in_features)
        self.names = {"weight": name, "bias": bias_name}
        self.output_letter = "z"
        self.weight = parameter(_uniform(rng, bound, (out_features, in_features)), engine, name)
        self.bias = parameter(_uniform(rng, bound, (out_features,)), engine, bias_name) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias, name=self.out_name)

    def __repr__(self):
        out_features, in_features = self.weight.shape
        return f"Linear({in_features}, {out_features}, bias={self.bias is not None})"


class MaxPool2d(Module):
    out_name = output_letter = "p"

    def __init__(self, kernel_size, stride=None, padding=0):
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, name=self.out_name)

    def __repr__(self):
        return f"MaxPool2d({self.kernel_size}, stride={self.stride}, padding={self.padding})"


class AvgPool2d(MaxPool2d):
    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, name=self.out_name)

    def __repr__(self):
        return f"AvgPool2d({self.kernel_size}, stride={self.stride}, padding={self.padding})"


class GlobalAvgPool2d(Module):
    out_name = output_letter = "p"

    def forward(self, x):
        return F.global_avg_pool2d(x, name=self.out_name)


class ReLU(Module):
    """max(0, x); in a model of several layers its outputs are named r (r2, ... for later ones)."""

    output_letter = "r"

    def forward(self, x):
        return F.relu(x, name=self.out_name)


class Flatten(Module):
    """(N, C, H, W) -> (N, C*H*W): every axis from start_dim on folded into one, as PyTorch's Flatten."""

    def __init__(self, start_dim=1):
        self.start_dim = start_dim

    def forward(self, x):
        if x.ndim <= self.start_dim:
            raise ValueError(f"Flatten(start_dim={self.start_dim}) needs at least {self.start_dim + 1} axes, "
                             f"got shape {x.shape}")
        # the folded size spelled out, not -1: an empty batch (0 elements) leaves -1 undetermined
        return x.reshape(*x.shape[:self.start_dim], math.prod(x.shape[self.start_dim:]))

    def __repr__(self):
        return f"Flatten(start_dim={self.start_dim})"


class Sequential(Module):
    """Layers applied in order: Sequential(a, b, c)(x) == c(b(a(x)))."""

    def __init__(self, *layers):
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential takes Modules, got {type(layer).__name__} at position {i}")
        self.layers = list(layers)
        self.name_layers()

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def named_children(self):
        """The layers named by position, "0", "1", ..., as in PyTorch's Sequential."""
        return ((str(i), layer) for i, layer in enumerate(self.layers))

    def __repr__(self):
        inner = "\n".join(f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"


# ---- state dicts ------------------------------------------------------------------------------

class StateDictError(ValueError, RuntimeError):
    """A state_dict that does not fit the model: a ValueError, as bad input is here, and a
    RuntimeError, as PyTorch's load_state_dict raises."""


LoadResult = namedtuple("LoadResult", ["missing_keys", "unexpected_keys"])


def _as_numbers(x):
    """x (an array, a number, a Tensor, a grid of Values, a torch tensor) as a float64 array,
    or None if it holds anything but real numbers."""
    if hasattr(x, "detach") and hasattr(x, "requires_grad"):  # a Tensor, ours or PyTorch's (or a torch Parameter)
        x = x.detach()
        x = x.cpu().numpy() if hasattr(x, "cpu") else x.numpy()
    elif isinstance(x, np.ndarray) and x.dtype == object:
        try:
            return grid_data(x)
        except (AttributeError, TypeError):
            return None
    try:
        array = np.asarray(x)
    except (TypeError, ValueError):
        return None
    if array.dtype.kind not in "biuf":
        return None
    return array


def _set_numbers(p, numbers):
    """p's numbers replaced by `numbers` (of p's shape), keeping p itself, its engine and its dtype."""
    if isinstance(p, Value):
        p.data = float(numbers)
    elif isinstance(p, np.ndarray):
        for v, x in zip(p.flat, numbers.flat):
            v.data = float(x)
    else:
        p.data[...] = numbers  # cast to the parameter's dtype, in place, as PyTorch's copy_
