"""tinygrad_conv: see how a convolution filter gets its gradient, one multiply at a time.

Two engines with one vocabulary:

- `Value`, a scalar autograd engine (micrograd-style), where a conv is built
  from `*` and `Value.sum` and every filter gradient comes from reverse mode;
- `Tensor`, the same ops on numpy arrays, fast enough to train a small CNN.

`tinygrad_conv.functional` writes conv, pooling, linear and the losses once
for both. `save` / `load` keep a model's state_dict in a plain .npz file.
"""
from .value import Value
from .grid import values, data, grads
from . import functional
from .serialization import save, load

__all__ = ["Value", "Tensor", "values", "data", "grads", "functional", "save", "load"]


def __getattr__(name):
    # the Tensor engine and the other modules load on first use, so `import tinygrad_conv` stays light
    if name == "Tensor":
        from .tensor import Tensor
        return Tensor
    if name in ("nn", "optim", "datasets", "gradcheck", "tensor"):
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'tinygrad_conv' has no attribute {name!r}")
