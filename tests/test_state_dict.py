"""state_dict / load_state_dict / save / load / float / double: PyTorch's keys, PyTorch's strictness,
plain .npz files that are read defensively, and the same outputs and gradients as PyTorch's model
after the weights move across."""
import io
import re
from pathlib import Path
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_conv as tc
from tinygrad_conv import Tensor, Value, functional as F, nn, optim
from tinygrad_conv.nn import StateDictError


def digits_like(seed=0, engine="tensor"):
    """The architecture demos/train_digits.py builds, smaller."""
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, seed=seed, engine=engine), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 10, seed=seed + 1, engine=engine))


class Block(nn.Module):
    def __init__(self, engine="tensor"):
        self.conv = nn.Conv2d(2, 3, 2, seed=1, engine=engine, bias=False)
        self.act = nn.ReLU()


class Net(nn.Module):
    def __init__(self, engine="tensor"):
        self.features = nn.Sequential(nn.Conv2d(1, 2, 3, seed=0, engine=engine), Block(engine))
        self.head = nn.Linear(3, 2, seed=2, engine=engine)
        self.scale = 2.0  # a setting, not a parameter

    def forward(self, x):
        return self.head(self.features(x).sum(axis=(2, 3)))


def test_keys_are_pytorchs_for_a_sequential_and_for_nested_modules():
    sd = digits_like().state_dict()
    assert list(sd) == ["0.weight", "0.bias", "4.weight", "4.bias"]
    assert [v.shape for v in sd.values()] == [(4, 1, 3, 3), (4,), (10, 64), (10,)]
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float64 for v in sd.values())
    # a layer without a bias has no "bias" key (as PyTorch: a None parameter is left out)
    assert list(Net().state_dict()) == ["features.0.weight", "features.0.bias", "features.1.conv.weight",
                                        "head.weight", "head.bias"]


def test_keys_equal_torchs_own_for_the_same_nested_architecture():
    torch = pytest.importorskip("torch")

    class TorchBlock(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(2, 3, 2, bias=False)
            self.act = torch.nn.ReLU()

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.features = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), TorchBlock())
            self.head = torch.nn.Linear(3, 2)

    theirs = TorchNet().state_dict()
    ours = Net().state_dict()
    assert list(ours) == list(theirs)
    assert [tuple(v.shape) for v in theirs.values()] == [v.shape for v in ours.values()]


@pytest.mark.parametrize("engine", ["tensor", "scalar"])
def test_state_dict_is_a_copy_with_the_same_keys_and_numbers_on_either_engine(engine):
    model = digits_like(engine=engine)
    sd = model.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "4.weight", "4.bias"]
    first = model[0].weight.data if engine == "tensor" else tc.data(model[0].weight)
    np.testing.assert_array_equal(sd["0.weight"], first)
    sd["0.weight"][...] = 7.0  # the dict is the caller's; the model keeps its numbers
    again = model.state_dict()["0.weight"]
    assert not np.any(again == 7.0)
    # the same weights on the other engine give the very same dict
    other = digits_like(engine="scalar" if engine == "tensor" else "tensor")
    for key, value in other.state_dict().items():
        np.testing.assert_array_equal(value, model.state_dict()[key])


def test_load_state_dict_keeps_each_parameters_identity_engine_dtype_and_names():
    source = digits_like(seed=5).state_dict()
    scalar = digits_like(seed=0, engine="scalar")
    weights = scalar[0].weight
    names = [v.name for v in weights.flat]
    ids = [id(v) for v in weights.flat]
    assert scalar.load_state_dict(source) == ([], [])
    assert scalar[0].weight is weights and [id(v) for v in weights.flat] == ids
    assert [v.name for v in weights.flat] == names and names[0] == "W[1,1,1,1]"
    np.testing.assert_array_equal(tc.data(weights), source["0.weight"])
    assert all(type(v.data) is float for v in weights.flat)

    tensor = digits_like(seed=0).float()
    kept = tensor[4].weight
    tensor.load_state_dict(source)
    assert tensor[4].weight is kept and kept.dtype == np.float32 and kept.requires_grad
    np.testing.assert_array_equal(kept.data, source["4.weight"].astype(np.float32))


def test_an_optimizer_made_before_loading_still_trains_the_loaded_parameters():
    model = digits_like(seed=0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    model.load_state_dict(digits_like(seed=3).state_dict())
    x = np.random.default_rng(0).random((2, 1, 8, 8))
    F.cross_entropy(model(Tensor(x)), np.array([1, 2])).backward()
    before = model.state_dict()
    opt.step()
    after = model.state_dict()
    assert all(not np.array_equal(before[k], after[k]) for k in before)


def test_load_state_dict_is_strict_and_names_every_problem_at_once():
    model = digits_like()
    before = model.state_dict()
    bad = dict(before)
    del bad["0.bias"], bad["4.bias"]
    bad["4.weight"] = np.zeros((10, 63))
    bad["5.weight"] = np.zeros(3)
    bad["0.weight"] = before["0.weight"] + 1.0  # a good entry: not loaded either, as nothing is on an error
    with pytest.raises(StateDictError) as info:
        model.load_state_dict(bad)
    message = str(info.value)
    for piece in ["missing", "'0.bias'", "'4.bias'", "unexpected", "'5.weight'", "size mismatch for 4.weight",
                  "(10, 63)", "(10, 64)", "Sequential"]:
        assert piece in message, (piece, message)
    assert isinstance(info.value, ValueError) and isinstance(info.value, RuntimeError)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_load_state_dict_refuses_numbers_that_are_not_real():
    model = digits_like()
    sd = model.state_dict()
    sd["0.bias"] = np.array(["a"] * 4)
    with pytest.raises(ValueError, match="0.bias: expected real numbers"):
        model.load_state_dict(sd)
    with pytest.raises(TypeError, match="dict"):
        model.load_state_dict([("0.bias", np.zeros(4))])


def test_non_strict_loading_reports_missing_and_unexpected_keys_but_checks_shapes():
    model = digits_like()
    result = model.load_state_dict({"0.bias": np.arange(4.0), "extra": np.zeros(1)}, strict=False)
    assert result.missing_keys == ["0.weight", "4.weight", "4.bias"] and result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(model[0].bias.data, np.arange(4.0))
    with pytest.raises(StateDictError, match="size mismatch for 0.bias"):
        model.load_state_dict({"0.bias": np.zeros(5)}, strict=False)


def test_float_and_double_as_pytorch():
    torch = pytest.importorskip("torch")
    model = digits_like()
    assert model.float() is model
    assert all(p.dtype == np.float32 for p in model.parameters())
    x = np.random.default_rng(1).random((3, 1, 8, 8)).astype(np.float32)
    theirs = torch_digits_like(torch).float()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()})
    assert all(v.dtype == np.float32 for v in model.state_dict().values())
    out = model(Tensor(x))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    F.cross_entropy(out, np.array([0, 1, 2])).backward()
    assert model.double() is model
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in model.parameters())
    theirs.double()
    np.testing.assert_allclose(model(Tensor(x.astype(np.float64))).data,
                               theirs(torch.tensor(x.astype(np.float64))).detach().numpy(), rtol=1e-12)
    scalar = digits_like(engine="scalar")
    assert scalar.double() is scalar
    with pytest.raises(ValueError, match="float64"):
        scalar.float()


def torch_digits_like(torch):
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                               torch.nn.Flatten(), torch.nn.Linear(64, 10)).double()


# ---- the same model in PyTorch: drawn architectures, outputs and gradients ----------------------


@st.composite
def architectures(draw):
    """(layers as (kind, args) pairs, batch, input size): valid by construction, for ours and torch's."""
    channels, size = draw(st.integers(1, 3)), draw(st.integers(5, 9))
    input_size = size
    spec = []
    for _ in range(draw(st.integers(1, 2))):
        groups = draw(st.sampled_from([g for g in (1, 2) if channels % g == 0]))
        out = groups * draw(st.integers(1, 2))
        kernel, stride, padding, dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 2)),
                                             draw(st.integers(0, 1)), draw(st.integers(1, 2)))
        if dilation * (kernel - 1) + 1 > size + 2 * padding:
            kernel = 1
        bias = draw(st.booleans())
        spec.append(("conv", dict(in_channels=channels, out_channels=out, kernel_size=kernel, stride=stride,
                                  padding=padding, dilation=dilation, groups=groups, bias=bias)))
        size = (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
        channels = out
        spec.append(("relu", {}))
        if size >= 2 and draw(st.booleans()):
            spec.append((draw(st.sampled_from(["max", "avg"])), dict(kernel_size=2)))
            size //= 2
    spec += [("flatten", {}), ("linear", dict(in_features=channels * size * size,
                                              out_features=draw(st.integers(2, 4))))]
    return spec, draw(st.integers(1, 3)), input_size


def build(spec, seed, engine="tensor"):
    makers = {"conv": nn.Conv2d, "linear": nn.Linear}
    simple = {"relu": nn.ReLU, "max": nn.MaxPool2d, "avg": nn.AvgPool2d, "flatten": nn.Flatten}
    layers = [makers[kind](**args, seed=seed + i, engine=engine) if kind in makers else simple[kind](**args)
              for i, (kind, args) in enumerate(spec)]
    return nn.Sequential(*layers)


def build_torch(torch, spec):
    kinds = {"conv": torch.nn.Conv2d, "linear": torch.nn.Linear, "relu": torch.nn.ReLU,
             "max": torch.nn.MaxPool2d, "avg": torch.nn.AvgPool2d, "flatten": torch.nn.Flatten}
    return torch.nn.Sequential(*[kinds[kind](**args) for kind, args in spec]).double()


def close(ours, theirs):
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(arch=architectures(), seed=st.integers(0, 2**16))
def test_a_state_dict_moves_into_pytorch_with_the_same_outputs_and_gradients(arch, seed):
    torch = pytest.importorskip("torch")
    spec, batch, size = arch
    model = build(spec, seed)
    theirs = build_torch(torch, spec)
    sd = model.state_dict()
    assert list(sd) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v) for k, v in sd.items()})

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, spec[0][1]["in_channels"], size, size))
    labels = rng.integers(0, spec[-1][1]["out_features"], batch)
    ours_x = Tensor(x, requires_grad=True)
    out = model(ours_x)
    F.cross_entropy(out, labels).backward()
    their_x = torch.tensor(x, requires_grad=True)
    their_out = theirs(their_x)
    torch.nn.functional.cross_entropy(their_out, torch.tensor(labels)).backward()

    close(out.data, their_out.detach().numpy())
    close(ours_x.grad, their_x.grad.numpy())
    ours_grads = dict(zip(sd, [p.grad for _, p in model.named_parameters()]))
    for key, p in theirs.named_parameters():
        close(ours_grads[key], p.grad.numpy())


@settings(max_examples=10, deadline=None)
@given(arch=architectures(), seed=st.integers(0, 2**16))
def test_round_trips_through_a_file_and_between_engines_keep_outputs_and_gradients(tmp_path_factory, arch,
                                                                                    seed):
    spec, _, size = arch
    model = build(spec, seed)
    path = tmp_path_factory.mktemp("sd") / "model.npz"
    tc.save(model.state_dict(), path)
    loaded = tc.load(path)
    assert list(loaded) == list(model.state_dict())
    for key, value in model.state_dict().items():
        assert loaded[key].dtype == value.dtype
        np.testing.assert_array_equal(loaded[key], value)
    np.testing.assert_array_equal(np.load(path)["0.weight"], loaded["0.weight"])  # plain numpy reads it too

    scalar = build(spec, seed + 1000, engine="scalar")
    scalar.load_state_dict(loaded)
    x = np.random.default_rng(seed).standard_normal((1, spec[0][1]["in_channels"], size, size))
    grid = tc.values(x, name="x")
    out = scalar(grid)
    F.cross_entropy(out, np.array([0])).backward()
    tensor_x = Tensor(x, requires_grad=True)
    tensor_out = model(tensor_x)
    F.cross_entropy(tensor_out, np.array([0])).backward()
    close(tc.data(out), tensor_out.data)
    close(tc.grads(grid), tensor_x.grad)
    for (key, p), (_, q) in zip(scalar.named_parameters(), model.named_parameters()):
        close(tc.grads(p), q.grad)
    # and back: the scalar model's dict is the file's
    for key, value in scalar.state_dict().items():
        np.testing.assert_array_equal(value, loaded[key])
    moved = build(spec, seed).to("scalar").state_dict()
    for key, value in moved.items():
        np.testing.assert_array_equal(value, loaded[key])


def test_the_readme_moves_a_trained_digits_model_into_pytorch(tmp_path, monkeypatch, capsys):
    """README's "When you outgrow it", run as written: the same outputs, and the accuracy it shows."""
    torch = pytest.importorskip("torch")
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## When you outgrow it", 1)[1].split("\n## ", 1)[0]
    blocks = dict(re.findall(r"```(\w*)\n(.*?)```", section, flags=re.S))  # {"py": code, "": what it prints}
    code, shown = blocks["py"], blocks[""]
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    printed = capsys.readouterr().out
    ours, theirs, y = namespace["ours"], namespace["theirs"], namespace["y"]
    close(ours, theirs)
    assert (ours.argmax(1) == theirs.argmax(1)).all() and (ours.argmax(1) == y).mean() > 0.95
    accuracy = lambda text: float(re.search(r"ours ([0-9.]+)%", text).group(1))  # noqa: E731
    assert abs(accuracy(printed) - accuracy(shown)) < 1.0, (printed, shown)
    # and back: PyTorch's own state_dict (torch tensors) loads into ours
    model, torch_model = namespace["model"], namespace["torch_model"]
    fresh = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(16 * 4 * 4, 10))
    fresh.load_state_dict(torch_model.state_dict())
    x = namespace["x"]
    close(fresh(Tensor(x)).data, theirs)
    fresh.load_state_dict(dict(torch_model.named_parameters()))  # Parameters that require grad, too
    close(fresh(Tensor(x)).data, theirs)
    assert repr(model) == repr(fresh)


def test_a_single_value_parameter_round_trips():
    class Scale(nn.Module):
        def __init__(self):
            self.k = Value(2.0, name="k")

        def forward(self, x):
            return x * self.k

    model = Scale()
    assert list(model.state_dict()) == ["k"] and model.state_dict()["k"].shape == ()
    model.load_state_dict({"k": np.array(3.5)})
    assert model.k.data == 3.5 and model.k.name == "k"


# ---- save / load: plain .npz files, and files that are not one -------------------------------


def test_save_and_load_keep_float32_and_refuse_what_is_not_floats(tmp_path):
    path = tmp_path / "m.npz"
    tc.save({"a": np.arange(3, dtype=np.float32), "b": Tensor([[1.0, 2.0]]), "c": 4}, path)
    back = tc.load(path)
    assert back["a"].dtype == np.float32 and back["b"].dtype == np.float64 and back["c"].shape == ()
    assert back["c"] == 4.0 and back["b"].tolist() == [[1.0, 2.0]]
    back["a"][0] = 5.0  # arrays of their own, writable
    with pytest.raises(TypeError, match="'x' must be a float array"):
        tc.save({"x": np.array(["s"])}, tmp_path / "bad.npz")
    with pytest.raises(TypeError, match="key"):
        tc.save({1: np.zeros(1)}, tmp_path / "bad.npz")
    with pytest.raises(TypeError, match="dict"):
        tc.save([np.zeros(1)], tmp_path / "bad.npz")


def test_a_key_named_file_round_trips(tmp_path):
    """(np.savez would take a key "file" for its own first argument.)"""
    tc.save({"file": np.ones(2)}, tmp_path / "f.npz")
    assert tc.load(tmp_path / "f.npz")["file"].tolist() == [1.0, 1.0]


def npz_with(path, arrays, allow_pickle=False):
    with zipfile.ZipFile(path, "w") as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=allow_pickle)
            archive.writestr(name, buffer.getvalue())
    return path


def lying_npy(shape, data=b""):
    """A .npy header promising `shape` of float64, followed by `data` only."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buffer.getvalue() + data


def bad_files(tmp_path):
    good = tmp_path / "good.npz"
    tc.save({"w": np.arange(1000.0)}, good)
    raw = good.read_bytes()
    cases = {
        "missing": (tmp_path / "nope.npz", "no such file"),
        "directory": (tmp_path, "directory"),
        "garbage": (tmp_path / "garbage.npz", "not a .npz"),
        "empty": (tmp_path / "empty.npz", "not a .npz"),
        "truncated zip": (tmp_path / "truncated.npz", "not a .npz"),
        "pickled objects": (npz_with(tmp_path / "pickle.npz", {"w.npy": np.array([{"a": 1}], dtype=object)},
                                     allow_pickle=True), "pickle"),
        "integers": (npz_with(tmp_path / "ints.npz", {"w.npy": np.arange(3)}), "int64"),
        "not npy": (tmp_path / "notnpy.npz", "not a .npy array"),
        "other member": (tmp_path / "other.npz", "not a .npy"),
        "short data": (tmp_path / "short.npz", "too short"),
    }
    (tmp_path / "garbage.npz").write_bytes(b"hello, I am not a zip file" * 10)
    (tmp_path / "empty.npz").write_bytes(b"")
    (tmp_path / "truncated.npz").write_bytes(raw[:len(raw) // 2])
    with zipfile.ZipFile(tmp_path / "notnpy.npz", "w") as archive:
        archive.writestr("w.npy", b"not numpy at all")
    with zipfile.ZipFile(tmp_path / "other.npz", "w") as archive:
        archive.writestr("readme.txt", b"hello")
    with zipfile.ZipFile(tmp_path / "short.npz", "w") as archive:
        archive.writestr("w.npy", lying_npy((10,), b"\0" * 16))
    return cases


@pytest.mark.parametrize("case", ["missing", "directory", "garbage", "empty", "truncated zip", "pickled objects",
                                  "integers", "not npy", "other member", "short data"])
def test_a_file_that_is_not_a_state_dict_is_a_value_error_naming_it(tmp_path, case):
    path, piece = bad_files(tmp_path)[case]
    with pytest.raises(ValueError) as info:
        tc.load(path)
    message = str(info.value)
    assert str(path) in message and piece in message, message


def test_a_header_promising_a_huge_array_costs_no_memory(tmp_path):
    """10**12 float64s promised (8 TB), 8 bytes there: an error, having allocated almost nothing."""
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("w.npy", lying_npy((10**12,), b"\0" * 8))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="too short") as info:
            tc.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(path) in str(info.value)
    assert peak < 4 << 20
