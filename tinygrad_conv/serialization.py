"""Saving a model's numbers to a file, and reading them back: a plain .npz, never a pickle.

    tc.save(model.state_dict(), "model.npz")
    model.load_state_dict(tc.load("model.npz"))

The file is what `np.savez` writes: a zip archive holding one `<key>.npy`
per array, so numpy (`np.load(path)`), or anything that reads .npy, opens it
too. Nothing in it is code: `load` refuses pickled objects (numpy's
`allow_pickle=False`), so loading a file from someone else cannot run their
code, as unpickling a torch .pt file can.

`load` trusts nothing in the file. An array is read a chunk at a time, up to
the size its header promises and only as far as the archive really has
bytes, so a damaged or hostile file costs no more memory than it holds; and
anything that is not such an archive of float arrays is a ValueError naming
the file and what is wrong with it.
"""
import os
import zipfile
from collections.abc import Mapping

import numpy as np

CHUNK = 1 << 20  # bytes read at a time from an array in the archive


def save(state_dict, path):
    """Write state_dict ({name: float array}) to `path` as a plain .npz archive (no pickles).

    The values may be float arrays, numbers, Tensors or torch tensors; each is stored as a
    float array of its own dtype (float32 stays float32). The file is written at exactly
    `path` (no ".npz" added).
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"save takes a dict of name -> float array (a model's state_dict()), "
                        f"got {type(state_dict).__name__}")
    arrays = {}
    for key, value in state_dict.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"save: every key must be a non-empty string, got {key!r}")
        array = _float_array(value)
        if array is None:
            raise TypeError(f"save: {key!r} must be a float array, got {type(value).__name__}"
                            + (f" of dtype {value.dtype}" if hasattr(value, "dtype") else ""))
        arrays[key] = array
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for key, array in arrays.items():
            with archive.open(key + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def load(path):
    """The {name: float array} dict that `save` wrote to `path`.

    A file that is not one (missing, a directory, not a zip archive, truncated, holding
    pickled objects or arrays that are not floats) raises ValueError naming `path`.
    """
    where = os.fspath(path)
    if not os.path.exists(where):
        raise ValueError(f"{where}: no such file (expected a .npz written by tinygrad_conv.save)")
    if os.path.isdir(where):
        raise ValueError(f"{where}: is a directory, not a .npz file")
    try:
        archive = zipfile.ZipFile(where)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise ValueError(f"{where}: not a .npz archive (a zip of .npy arrays): {err}") from None
    state = {}
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            if not info.filename.endswith(".npy"):
                raise ValueError(f"{where}: holds {info.filename!r}, which is not a .npy array")
            key = info.filename[:-len(".npy")]
            if key in state:
                raise ValueError(f"{where}: holds {key!r} twice")
            try:
                with archive.open(info) as member:
                    state[key] = _read_array(member, info.file_size)
            except _Bad as err:
                raise ValueError(f"{where}: the array {key!r} {err}") from None
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as err:
                raise ValueError(f"{where}: the array {key!r} cannot be read: {err}") from None
    return state


class _Bad(Exception):
    """Something wrong with one array in the archive (turned into a ValueError naming the file)."""


def _read_array(member, stored_size):
    """One .npy array from an open archive member, reading at most what its header promises."""
    try:
        version = np.lib.format.read_magic(member)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) \
            else np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = read_header(member)
    except ValueError as err:
        raise _Bad(f"is not a .npy array: {err}") from None
    if dtype.hasobject:
        raise _Bad("holds Python objects (a pickle), which are never loaded")
    if dtype.kind != "f":
        raise _Bad(f"holds {dtype} numbers; a state_dict holds floats")
    count = 1
    for n in shape:
        count *= n
    size = count * dtype.itemsize
    if size > stored_size:  # the header promises more numbers than the archive says it stores
        raise _Bad(f"is too short: shape {shape} of {dtype} needs {size} bytes, the archive stores "
                   f"{stored_size} bytes in all")
    data = bytearray()
    while len(data) < size:
        chunk = member.read(min(CHUNK, size - len(data)))
        if not chunk:
            raise _Bad(f"is too short: shape {shape} of {dtype} needs {size} bytes, found {len(data)}")
        data += chunk
    array = np.frombuffer(data, dtype=dtype, count=count)
    return array.reshape(shape, order="F" if fortran_order else "C").astype(dtype.newbyteorder("="), copy=False)


def _float_array(value):
    """value as a float array (float32 stays float32, other real numbers become float64), or None."""
    if hasattr(value, "detach") and hasattr(value, "requires_grad"):  # a Tensor, ours or PyTorch's
        value = value.detach()
        value = value.cpu().numpy() if hasattr(value, "cpu") else value.numpy()
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        return None
    if array.dtype.kind == "f":
        return array
    if array.dtype.kind in "biu":
        return array.astype(np.float64)
    return None
