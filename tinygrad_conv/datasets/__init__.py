"""Data for the demos: the bundled UCI digits, and a reader for MNIST's IDX files.

    from tinygrad_conv import datasets
    images, labels = datasets.load_digits()     # (1797, 8, 8) float64 in [0, 1]; (1797,) int64
    (x_train, y_train), (x_test, y_test) = datasets.split(images, labels, test_fraction=0.2, seed=0)
    array = datasets.read_idx("train-images-idx3-ubyte.gz")

The digits are the UCI optical-digits test set (Alpaydin & Kaynak, CC BY 4.0);
see `digits.py` and ATTRIBUTION.md beside it.
"""
from .digits import load_digits, split
from .idx import read_idx

__all__ = ["load_digits", "split", "read_idx"]
