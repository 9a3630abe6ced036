"""Read MNIST's IDX files, raw or gzip-compressed, checking everything the header promises.

An IDX file is

    0x00 0x00 <type> <ndim>        the magic number: two zero bytes, a type code, the number of dimensions
    ndim big-endian uint32          the size of each dimension
    prod(sizes) items               the data, big-endian, row-major

with type codes 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
0x0E float64. A gzip file is recognised by its own magic bytes (0x1f 0x8b),
whatever its name.
"""
import gzip
import zlib
from pathlib import Path

import numpy as np

# type code -> (big-endian numpy dtype, name used in messages)
IDX_TYPES = {
    0x08: (np.dtype(">u1"), "uint8"),
    0x09: (np.dtype(">i1"), "int8"),
    0x0B: (np.dtype(">i2"), "int16"),
    0x0C: (np.dtype(">i4"), "int32"),
    0x0D: (np.dtype(">f4"), "float32"),
    0x0E: (np.dtype(">f8"), "float64"),
}
GZIP_MAGIC = b"\x1f\x8b"


def _type_list():
    return ", ".join(f"0x{code:02X} {name}" for code, (_, name) in IDX_TYPES.items())


def read_idx(path):
    """The array stored in the IDX file at `path` (raw or gzip), in native byte order.

    Raises FileNotFoundError if there is no such file, and ValueError naming
    the file, what was expected and what was found if it is not a valid IDX
    file: a bad magic number, an unknown type code, no dimensions, or data
    that is shorter or longer than the dimensions say.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{path}: starts like a gzip file (bytes 1f 8b) but cannot be decompressed: "
                             f"{err}") from None
        where = f"{path} (after gunzip)"
    else:
        where = str(path)

    if len(raw) < 4:
        raise ValueError(f"{where}: expected a 4-byte IDX magic number (00 00 <type> <ndim>), but the file has "
                         f"only {len(raw)} byte(s)")
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{where}: not an IDX file: expected the magic number to start with bytes 00 00, found "
                         f"{raw[0]:02x} {raw[1]:02x} (first 4 bytes: {raw[:4].hex(' ')})")
    code, ndim = raw[2], raw[3]
    if code not in IDX_TYPES:
        raise ValueError(f"{where}: unknown IDX data type code 0x{code:02X} (third byte); expected one of "
                         f"{_type_list()}")
    if ndim == 0:
        raise ValueError(f"{where}: the IDX header says 0 dimensions (fourth byte); expected at least 1")
    dtype, type_name = IDX_TYPES[code]

    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{where}: the header promises {ndim} dimension size(s) ({4 * ndim} bytes after the "
                         f"magic number), but the file ends after {len(raw) - 4} of those bytes")
    shape = tuple(int(n) for n in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    count = 1
    for n in shape:
        count *= n
    expected = count * dtype.itemsize
    found = len(raw) - header
    if found != expected:
        problem = "too short" if found < expected else "has trailing bytes"
        raise ValueError(f"{where}: data {problem}: shape {shape} of {type_name} needs exactly {expected} bytes "
                         f"after the {header}-byte header, found {found}")
    array = np.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # a writable copy in the machine's byte order
