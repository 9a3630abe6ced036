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
# numpy's limit on an array's dimensions (64 since numpy 2.0, 32 before)
MAX_DIMS = 64 if int(np.__version__.split(".")[0]) >= 2 else 32


def _type_list():
    return ", ".join(f"0x{code:02X} {name}" for code, (_, name) in IDX_TYPES.items())


def read_idx(path):
    """The array stored in the IDX file at `path` (raw or gzip), in native byte order.

    Raises FileNotFoundError if there is no such file, and ValueError naming
    the file, what was expected and what was found if it is not a valid IDX
    file: a directory, a bad magic number, an unknown type code, no (or more
    than numpy's 64) dimensions, or data shorter or longer than the
    dimensions say.

    The file is read as a stream: the header first, then at most the bytes it
    promises and one more (and a little beyond, only to count trailing
    bytes). So a small gzip that inflates to gigabytes, or /dev/zero, is an
    error after a few bytes, never a gigabyte allocation.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: is a directory, not an IDX file")
    with open(path, "rb") as file:
        compressed = file.read(2) == GZIP_MAGIC
        file.seek(0)
        if not compressed:
            return _parse(_Stream(file, str(path)))
        with gzip.GzipFile(fileobj=file) as unzipped:
            return _parse(_Stream(unzipped, f"{path} (after gunzip)", gzip_path=path))


class _Stream:
    """Reads from a file in bounded chunks; a gzip stream that breaks becomes a ValueError naming the file."""

    CHUNK = 1 << 16

    def __init__(self, file, where, gzip_path=None):
        self.file, self.where, self.gzip_path = file, where, gzip_path

    def read(self, n):
        """Up to n bytes (fewer only at the end of the file), read a chunk at a time: a header
        that promises more than the file holds costs only what the file really holds."""
        chunks, left = [], n
        while left > 0:
            chunk = self._read(min(left, self.CHUNK))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def count_rest(self, limit):
        """How many bytes are left (reading and dropping them), stopping once more than `limit`."""
        count = 0
        while count <= limit:
            chunk = self._read(self.CHUNK)
            if not chunk:
                break
            count += len(chunk)
        return count

    def _read(self, n):
        if self.gzip_path is None:
            return self.file.read(n)
        try:
            return self.file.read(n)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{self.gzip_path}: starts like a gzip file (bytes 1f 8b) but cannot be "
                             f"decompressed: {err}") from None


# Trailing bytes are counted up to this many beyond the data, for the message; more is "more than".
COUNT_TRAILING = 1 << 20


def _parse(stream):
    where = stream.where
    magic = stream.read(4)
    if len(magic) < 4:
        raise ValueError(f"{where}: expected a 4-byte IDX magic number (00 00 <type> <ndim>), but the file has "
                         f"only {len(magic)} byte(s)")
    if magic[0] != 0 or magic[1] != 0:
        raise ValueError(f"{where}: not an IDX file: expected the magic number to start with bytes 00 00, found "
                         f"{magic[0]:02x} {magic[1]:02x} (first 4 bytes: {magic.hex(' ')})")
    code, ndim = magic[2], magic[3]
    if code not in IDX_TYPES:
        raise ValueError(f"{where}: unknown IDX data type code 0x{code:02X} (third byte); expected one of "
                         f"{_type_list()}")
    if ndim == 0:
        raise ValueError(f"{where}: the IDX header says 0 dimensions (fourth byte); expected at least 1")
    if ndim > MAX_DIMS:
        raise ValueError(f"{where}: the IDX header says {ndim} dimensions (fourth byte); numpy arrays have "
                         f"at most {MAX_DIMS}")
    dtype, type_name = IDX_TYPES[code]

    header = 4 + 4 * ndim
    sizes = stream.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise ValueError(f"{where}: the header promises {ndim} dimension size(s) ({4 * ndim} bytes after the "
                         f"magic number), but the file ends after {len(sizes)} of those bytes")
    shape = tuple(int(n) for n in np.frombuffer(sizes, dtype=">u4"))
    count = 1
    for n in shape:
        count *= n
    expected = count * dtype.itemsize
    data = stream.read(expected + 1)  # one byte more than promised tells trailing bytes apart
    found = len(data)
    if found < expected:
        raise ValueError(f"{where}: data too short: shape {shape} of {type_name} needs exactly {expected} bytes "
                         f"after the {header}-byte header, found {found}")
    if found > expected:
        rest = stream.count_rest(COUNT_TRAILING)
        found_text = f"{found + rest}" if rest <= COUNT_TRAILING else f"more than {expected + COUNT_TRAILING}"
        raise ValueError(f"{where}: data has trailing bytes: shape {shape} of {type_name} needs exactly "
                         f"{expected} bytes after the {header}-byte header, found {found_text}")
    array = np.frombuffer(data, dtype=dtype, count=count).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # a writable copy in the machine's byte order
