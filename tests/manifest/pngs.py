"""Hand-made PNGs for the icon checks: any colour type, bit depth and row filter.

    png(2, 1, [[(255, 255, 255, 255), (0, 0, 0, 0)]])           # 8-bit RGBA, no filter
    png(2, 1, rows, color_type=3, palette=[...], transparency=[...])

Pixels are given as the colour type's samples: (r, g, b, a) for 6, (r, g, b) for 2, (g, a) for
4, (g,) for 0, (index,) for 3.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

Pixel = tuple[int, ...]

WHITE = (255, 255, 255, 255)
CLEAR = (0, 0, 0, 0)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _filtered(row: bytes, previous: bytes, kind: int, step: int) -> bytes:
    out = bytearray()
    for i, value in enumerate(row):
        a = row[i - step] if i >= step else 0
        b = previous[i]
        c = previous[i - step] if i >= step else 0
        predictor = [0, a, b, (a + b) // 2, _paeth(a, b, c)][kind]
        out.append((value - predictor) & 0xFF)
    return bytes([kind]) + bytes(out)


def _row_bytes(samples: list[int], depth: int) -> bytes:
    if depth == 8:
        return bytes(samples)
    if depth == 16:
        return b"".join(s.to_bytes(2, "big") for s in samples)
    bits = "".join(format(s, f"0{depth}b") for s in samples)
    bits += "0" * (-len(bits) % 8)
    return bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8))


def png(
    width: int,
    height: int,
    rows: Sequence[Sequence[Pixel]],
    *,
    color_type: int = 6,
    bit_depth: int = 8,
    row_filter: int = 0,
    palette: Sequence[tuple[int, int, int]] = (),
    transparency: Sequence[int] | None = None,
) -> bytes:
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    step = max(1, channels * bit_depth // 8)
    raw = bytearray()
    previous = bytes((width * channels * bit_depth + 7) // 8)
    for row in rows:
        data = _row_bytes([s for pixel in row for s in pixel], bit_depth)
        raw += _filtered(data, previous, row_filter, step)
        previous = data
    body = _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0))
    if palette:
        body += _chunk(b"PLTE", b"".join(bytes(colour) for colour in palette))
    if transparency is not None:
        body += _chunk(b"tRNS", bytes(transparency))
    body += _chunk(b"IDAT", zlib.compress(bytes(raw)))
    return b"\x89PNG\r\n\x1a\n" + body + _chunk(b"IEND", b"")


def square(size: int, pixel: Pixel = WHITE, *, color_type: int = 6) -> bytes:
    return png(size, size, [[pixel] * size] * size, color_type=color_type)


def outline_with(size: int, odd_pixel: Pixel) -> bytes:
    """A white-on-transparent square whose last pixel is odd_pixel."""
    rows: list[list[Pixel]] = [
        [WHITE if (x + y) % 2 else CLEAR for x in range(size)] for y in range(size)
    ]
    rows[-1][-1] = odd_pixel
    return png(size, size, rows)
