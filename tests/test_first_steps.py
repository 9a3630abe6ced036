"""What a new user meets first: the README's install steps, and the demo saying what it trains."""
import os
import sys

import pytest

ROOT = os.path.join(os.path.dirname(__file__), os.pardir)


def test_the_readme_makes_a_virtualenv_before_anything_installs():
    """Debian's system pip refuses `pip install` (externally-managed-environment): .venv comes first."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    venv = text.index("python3 -m venv .venv && . .venv/bin/activate")
    assert venv < text.index("make demo") and venv < text.index("pip install")
    assert "externally-managed-environment" in text


def test_train_digits_prints_the_model_it_trains(capsys, tmp_path):
    pytest.importorskip("tinygrad_conv.tensor")
    sys.path.insert(0, os.path.join(ROOT, "demos"))
    try:
        import train_digits
    finally:
        sys.path.pop(0)
    model = train_digits.make_model(0)
    # one epoch on a few images: what is printed, not what is learned, is checked here
    train_digits.main(["--epochs", "1", "--subset", "64", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert repr(model) in printed
    assert "Conv2d(1, 16, kernel_size=(3, 3)" in printed and "Linear(256, 10" in printed
