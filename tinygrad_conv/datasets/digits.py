"""The UCI optical-digits set, bundled: 1,797 handwritten digits of 8x8 pixels.

Source: the test set of "Optical Recognition of Handwritten Digits",
E. Alpaydin and C. Kaynak (1998), UCI Machine Learning Repository
(https://archive.ics.uci.edu/dataset/80, DOI 10.24432/C50P49), as shipped by
scikit-learn. Licence: Creative Commons Attribution 4.0 (CC BY 4.0). See
ATTRIBUTION.md next to this file.

Each pixel is the number of "on" pixels (0..16) in a 4x4 block of a 32x32
bitmap; the file stores those counts as uint8 and `load_digits` divides by
16, so nothing is downloaded and the numbers are exactly the original ones.
"""
from pathlib import Path

import numpy as np

DIGITS_FILE = Path(__file__).with_name("digits.npz")


def load_digits():
    """The 1,797 digit images and their labels.

    Returns (images, labels): images a float64 array (1797, 8, 8) with values
    in [0, 1] (pixel count / 16), labels an int64 array (1797,) of digits 0..9.
    Fresh arrays on every call, so changing them changes nothing for the next caller.
    """
    with np.load(DIGITS_FILE) as archive:
        images = archive["images"].astype(np.float64) / 16.0
        labels = archive["labels"].astype(np.int64)
    return images, labels


def split(images, labels, test_fraction=0.2, seed=0):
    """A seeded random split into training and test sets.

    Returns ((images_train, labels_train), (images_test, labels_test)); the
    test set has round(n * test_fraction) samples. The same seed gives the
    same split on every machine (numpy's default_rng permutation).
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if images.shape[:1] != labels.shape[:1]:
        raise ValueError(f"images and labels must have the same number of samples, got images of shape "
                         f"{images.shape} and labels of shape {labels.shape}")
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction!r}")
    n = len(labels)
    n_test = int(round(n * test_fraction))
    order = np.random.default_rng(seed).permutation(n)
    test, train = order[:n_test], order[n_test:]
    return (images[train], labels[train]), (images[test], labels[test])
