"""nn modules and optimizers: one model on either engine, the same numbers as PyTorch."""
import copy

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_conv as tc
from tinygrad_conv import functional as F, nn, optim
from tinygrad_conv.nn import parameter_data

pytest.importorskip("tinygrad_conv.tensor")
from tinygrad_conv import Tensor  # noqa: E402


def small_cnn(seed=0, engine="tensor"):
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, seed=seed, engine=engine), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 4, 2, groups=2, seed=seed + 1, engine=engine), nn.ReLU(),
                         nn.AvgPool2d(1), nn.Flatten(), nn.Linear(4, 3, seed=seed + 2, engine=engine))


def param_grads(model):
    return [tc.grads(p) if isinstance(p, np.ndarray) else p.grad for p in model.parameters()]


def test_parameters_in_order_and_zero_grad_on_both_engines():
    model = small_cnn()
    shapes = [p.shape for p in model.parameters()]
    assert shapes == [(4, 2, 3, 3), (4,), (4, 2, 2, 2), (4,), (3, 4), (3,)]
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 4))
    F.cross_entropy(model(Tensor(x)), np.array([0, 2])).backward()
    assert all(p.grad is not None and np.any(p.grad != 0) for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())

    model.to("scalar")
    assert [p.shape for p in model.parameters()] == shapes
    F.cross_entropy(model(tc.values(x[:1])), np.array([1])).backward()
    assert any(np.any(g != 0) for g in param_grads(model))
    model.zero_grad()
    assert all(np.all(g == 0) for g in param_grads(model))


def test_to_keeps_the_numbers_and_names_the_scalar_parameters():
    model = small_cnn()
    before = [parameter_data(p).copy() for p in model.parameters()]
    model.to("scalar")
    assert model[0].weight.flat[0].name == "W[1,1,1,1]" and model[0].bias.flat[1].name == "b2"
    model.to("tensor")
    for old, p in zip(before, model.parameters()):
        assert isinstance(p, Tensor) and p.requires_grad
        np.testing.assert_array_equal(p.data, old)
    with pytest.raises(ValueError, match="engine must be one of"):
        model.to("gpu")


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 1000))
def test_a_model_trained_on_tensors_runs_on_values_with_the_same_gradients(seed):
    """Train on Tensors, then look inside one sample on the scalar engine: same outputs, same gradients."""
    rng = np.random.default_rng(seed)
    model = small_cnn(seed)
    opt = optim.Adam(model.parameters(), lr=0.05)
    x, y = rng.standard_normal((6, 2, 4, 4)), rng.integers(0, 3, 6)
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(model(Tensor(x)), y).backward()
        opt.step()

    sample, label = x[:1], y[:1]
    model.zero_grad()
    tensor_logits = model(Tensor(sample))
    F.cross_entropy(tensor_logits, label).backward()
    tensor_grads = [p.grad.copy() for p in model.parameters()]

    scalar = copy.deepcopy(model).to("scalar")
    scalar_logits = scalar(tc.values(sample, name="x"))
    F.cross_entropy(scalar_logits, label).backward()
    np.testing.assert_allclose(tc.data(scalar_logits), tensor_logits.data, rtol=1e-12, atol=1e-14)
    for g_tensor, g_scalar in zip(tensor_grads, param_grads(scalar)):
        np.testing.assert_allclose(g_scalar, g_tensor, rtol=1e-9, atol=1e-14)


def test_modules_match_torch_modules():
    torch = pytest.importorskip("torch")
    model = small_cnn(3)
    reference = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                    torch.nn.Conv2d(4, 4, 2, groups=2), torch.nn.ReLU(), torch.nn.AvgPool2d(1),
                                    torch.nn.Flatten(), torch.nn.Linear(4, 3)).double()
    with torch.no_grad():
        for ours, theirs in zip(model.parameters(), reference.parameters()):
            theirs.copy_(torch.tensor(ours.data))
    x = np.random.default_rng(1).standard_normal((5, 2, 4, 4))
    y = np.array([0, 1, 2, 1, 0])
    loss = F.cross_entropy(model(Tensor(x)), y)
    loss.backward()
    torch_loss = torch.nn.functional.cross_entropy(reference(torch.tensor(x)), torch.tensor(y))
    torch_loss.backward()
    assert float(loss.data) == pytest.approx(torch_loss.item(), rel=1e-12)
    for ours, theirs in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("engine", ["tensor", "scalar"])
@pytest.mark.parametrize("make", [
    lambda params: (optim.SGD(params, lr=0.1), "SGD", dict(lr=0.1)),
    lambda params: (optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=0.01), "SGD",
                    dict(lr=0.05, momentum=0.9, weight_decay=0.01)),
    lambda params: (optim.Adam(params, lr=0.01), "Adam", dict(lr=0.01)),
    lambda params: (optim.Adam(params, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1), "Adam",
                    dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
], ids=["sgd", "sgd-momentum-decay", "adam", "adam-options"])
def test_optimizers_follow_torch_step_for_step(engine, make):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    w0, x, t = rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    ours = nn.parameter(w0, engine, "W")
    theirs = torch.tensor(w0, requires_grad=True)
    opt, name, kwargs = make([ours])
    torch_opt = getattr(torch.optim, name)([theirs], **kwargs)
    for _ in range(4):
        opt.zero_grad()
        x_in = Tensor(x) if engine == "tensor" else tc.values(x)
        F.mse_loss(F.linear(x_in, ours), t).backward()
        opt.step()
        torch_opt.zero_grad()
        torch.nn.functional.mse_loss(torch.tensor(x) @ theirs.T, torch.tensor(t)).backward()
        torch_opt.step()
    np.testing.assert_allclose(parameter_data(ours), theirs.detach().numpy(), rtol=1e-10, atol=1e-13)


def test_bad_construction_is_refused_with_the_values_named():
    with pytest.raises(ValueError, match="groups=3 must divide in_channels=4"):
        nn.Conv2d(4, 6, 3, groups=3)
    with pytest.raises(ValueError, match="out_features must be a positive int, got 0"):
        nn.Linear(3, 0)
    with pytest.raises(TypeError, match="Sequential takes Modules, got int at position 1"):
        nn.Sequential(nn.ReLU(), 3)
    with pytest.raises(ValueError, match="learning rate must be >= 0, got -1"):
        optim.SGD(nn.Linear(2, 2).parameters(), lr=-1)
    with pytest.raises(ValueError, match="eps and weight_decay must be >= 0, got 1e-08 and -0.5"):
        optim.Adam(nn.Linear(2, 2).parameters(), weight_decay=-0.5)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match=r"Flatten\(start_dim=1\) needs at least 2 axes, got shape \(4,\)"):
        nn.Flatten()(Tensor(np.zeros(4)))
    # an empty batch flattens as in PyTorch (a -1 would be undetermined with no elements)
    assert nn.Flatten()(Tensor(np.zeros((0, 2, 3, 3)))).shape == (0, 18)
    assert nn.Flatten()(tc.values(np.zeros((0, 2, 3)))).shape == (0, 6)


class _TwoHeads(nn.Module):
    """Two linear layers; the second takes part only while use_b is set (so then it has no gradient)."""

    def __init__(self):
        self.a, self.b, self.use_b = nn.Linear(3, 2, seed=0), nn.Linear(3, 2, seed=1), True

    def forward(self, x):
        return self.a(x) + self.b(x) if self.use_b else self.a(x)


@pytest.mark.parametrize("name, kwargs", [("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
                                          ("Adam", dict(lr=0.05, weight_decay=0.1))])
def test_a_parameter_without_a_gradient_is_left_alone_as_in_pytorch(name, kwargs):
    torch = pytest.importorskip("torch")
    ours = _TwoHeads()
    opt = getattr(optim, name)(ours.parameters(), **kwargs)
    theirs = [torch.tensor(p.data.copy(), requires_grad=True) for p in ours.parameters()]
    torch_opt = getattr(torch.optim, name)(theirs, **kwargs)
    x = np.random.default_rng(0).standard_normal((4, 3))
    for use_b in (True, False, False, True):  # b sits out two steps, then trains again
        ours.use_b = use_b
        opt.zero_grad()
        (ours(Tensor(x)) ** 2).mean().backward()
        assert (ours.b.weight.grad is None) == (not use_b)
        opt.step()
        torch_opt.zero_grad(set_to_none=True)
        wa, ba, wb, bb = theirs
        out = torch.tensor(x) @ wa.T + ba + ((torch.tensor(x) @ wb.T + bb) if use_b else 0)
        (out ** 2).mean().backward()
        torch_opt.step()
        for p, q in zip(ours.parameters(), theirs):
            np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_a_module_used_twice_gives_its_parameters_once_and_is_stepped_once():
    lin = nn.Linear(3, 3, seed=0)
    model = nn.Sequential(lin, nn.ReLU(), lin)
    assert [id(p) for p in model.parameters()] == [id(lin.weight), id(lin.bias)]
    before = lin.weight.data.copy()
    opt = optim.SGD(model.parameters(), lr=0.1)
    F.mse_loss(model(Tensor(np.ones((2, 3)))), 0.0).backward()
    opt.step()
    np.testing.assert_allclose(lin.weight.data, before - 0.1 * lin.weight.grad, rtol=1e-15)
    model.to("scalar")
    assert len(model.parameters()) == 2 and model[0].weight is model[2].weight


def test_to_the_same_engine_keeps_the_parameters_so_an_optimizer_still_works():
    model = nn.Sequential(nn.Linear(3, 2, seed=0))
    weight = model[0].weight
    opt = optim.SGD(model.parameters(), lr=0.1)
    assert model.to("tensor") is model and model[0].weight is weight
    opt.zero_grad()
    (model(Tensor(np.ones((2, 3)))) ** 2).mean().backward()
    before = weight.data.copy()
    opt.step()
    assert not np.array_equal(model[0].weight.data, before)


def test_a_constant_tensor_attribute_is_not_a_parameter():
    class Masked(nn.Module):
        def __init__(self):
            self.lin, self.mask = nn.Linear(2, 2, seed=0), Tensor(np.array([1.0, 0.0]))

        def forward(self, x):
            return self.lin(x) * self.mask
    model = Masked()
    assert [id(p) for p in model.parameters()] == [id(model.lin.weight), id(model.lin.bias)]
    opt = optim.SGD(model.parameters(), lr=0.1, weight_decay=0.5)
    (model(Tensor(np.ones((1, 2)))) ** 2).sum().backward()
    opt.step()
    np.testing.assert_array_equal(model.mask.data, [1.0, 0.0])
    assert model.mask.grad is None
