"""The learner's idea made exact: nudge one number, rerun everything, see how the loss moved.

For each input number x_i (a Value's data, or one element of a Tensor's
data) the central difference

    dL/dx_i ~ (L(x_i + h) - L(x_i - h)) / (2h)

needs two full forward passes, so a filter of n numbers costs 2n passes,
where one backward() gives all n at once. The error of the estimate is
O(h^2), which is why it makes a good independent check of backward().
"""
import numpy as np

from .value import Value

# The default nudge: small for float64 (and Values); for float32 data, whose 7 digits a 1e-6 nudge
# would mostly lose to rounding, about the cube root of float32's precision, where the O(h^2) error
# and the rounding error (precision / h) balance. Good to about 1e-4 relative there.
DEFAULT_STEP = {np.dtype(np.float64): 1e-6, np.dtype(np.float32): 1e-2}


def _slots(inputs):
    """Every adjustable number among `inputs` as (get, set) pairs, and the shape to report them in."""
    from .grid import as_grid
    if type(inputs).__name__ == "Tensor":
        flat = inputs.data.reshape(-1)  # a view: setting it changes the Tensor
        if not np.shares_memory(flat, inputs.data):
            raise ValueError("gradcheck needs a Tensor whose data is contiguous")
        return [(lambda i=i: float(flat[i]), lambda v, i=i: flat.__setitem__(i, v)) for i in range(flat.size)], \
            inputs.data.shape, inputs.data.dtype
    grid = as_grid(inputs, "gradcheck inputs")
    cells = list(grid.flat)
    return [(lambda v=v: v.data, lambda x, v=v: setattr(v, "data", x)) for v in cells], grid.shape, \
        np.dtype(np.float64)


def numerical_grad(loss_fn, inputs, h=None):
    """Central-difference estimate of d loss_fn() / d inputs, of inputs' shape.

    loss_fn: a function of no arguments that rebuilds the whole computation
             from `inputs` and returns the loss (a Value, a one-element
             Tensor, or a number).
    inputs:  a grid of Values (or a single Value) or a Tensor, read and
             nudged in place; every number is restored afterwards.
    h:       the nudge; by default 1e-6, or 1e-2 for float32 data (DEFAULT_STEP).
             The difference is divided by the nudge actually made, x + h and
             x - h as rounded to the data's precision.
    """
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be a function returning the loss, got {type(loss_fn).__name__}")
    slots, shape, dtype = _slots(inputs)
    h = DEFAULT_STEP.get(dtype, 1e-6) if h is None else h
    if not h > 0:
        raise ValueError(f"step h must be positive, got {h!r}")
    estimate = np.empty(len(slots))
    for i, (get, put) in enumerate(slots):
        x = get()
        try:
            put(x + h)
            x_up, up = get(), _as_float(loss_fn())
            put(x - h)
            x_down, down = get(), _as_float(loss_fn())
        finally:
            put(x)
        estimate[i] = (up - down) / (x_up - x_down)
    return estimate.reshape(shape)


def gradcheck(loss_fn, inputs, h=None):
    """Backward's gradient and the nudge-and-rerun estimate, side by side.

    Returns (analytic, numerical): two arrays of inputs' shape. The loss is
    rebuilt once for backward(); the inputs' grads are reset first, so the
    analytic array holds exactly this loss's gradient.
    """
    from .grid import as_grid, grads
    is_tensor = type(inputs).__name__ == "Tensor"
    if is_tensor:
        inputs.grad = None
    else:
        for v in as_grid(inputs, "gradcheck inputs").flat:
            v.grad = 0.0
    loss = loss_fn()
    if not hasattr(loss, "backward"):
        raise TypeError(f"loss_fn must return a Value or a Tensor to run backward() on, got {type(loss).__name__}")
    loss.backward()
    if is_tensor:
        analytic = np.zeros(inputs.shape) if inputs.grad is None else np.array(inputs.grad, dtype=np.float64)
    else:
        analytic = grads(inputs)
    return analytic, numerical_grad(loss_fn, inputs, h)


def _as_float(loss):
    if isinstance(loss, Value):
        return loss.data
    data = getattr(loss, "data", loss)
    arr = np.asarray(data, dtype=np.float64)
    if arr.size != 1:
        raise ValueError(f"loss_fn must return one number, got shape {arr.shape}")
    return float(arr.reshape(()))
