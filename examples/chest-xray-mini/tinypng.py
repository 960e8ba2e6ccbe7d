"""8-bit grayscale PNG files without Pillow: enough to write and read this example's images.

Pillow is used when installed; this keeps the example running where it is not (the standard
library has zlib and crc32, which is all PNG needs). Only what the example writes is read back:
8-bit grayscale, not interlaced, any of the five row filters (so Pillow's files read too).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_gray(width: int, height: int, pixels: bytes) -> bytes:
    """A PNG of ``pixels`` (``height`` rows of ``width`` bytes, one per pixel)."""
    if len(pixels) != width * height:
        raise ValueError(f"{len(pixels)} pixels for a {width}x{height} image")
    # Filter 0 on every row: the simplest encoding; zlib still compresses the smooth images well.
    rows = b"".join(b"\x00" + pixels[y * width:(y + 1) * width] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows, 9)) + _chunk(b"IEND", b"")


def write_gray(path: Path, width: int, height: int, pixels: bytes) -> None:
    path.write_bytes(encode_gray(width, height, pixels))


def decode_gray(data: bytes) -> tuple[int, int, bytes]:
    """``(width, height, pixels)`` of an 8-bit grayscale PNG."""
    if not data.startswith(SIGNATURE):
        raise ValueError("not a PNG file")
    offset, width, height, compressed = len(SIGNATURE), 0, 0, b""
    while offset < len(data):
        (length,), kind = struct.unpack(">I", data[offset:offset + 4]), data[offset + 4:offset + 8]
        body = data[offset + 8:offset + 8 + length]
        offset += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if (depth, color, interlace) != (8, 0, 0):
                raise ValueError("only 8-bit grayscale, non-interlaced PNG files are read without Pillow")
        elif kind == b"IDAT":
            compressed += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(compressed)
    pixels, previous = bytearray(), bytearray(width)
    for y in range(height):
        kind, row = raw[y * (width + 1)], bytearray(raw[y * (width + 1) + 1:(y + 1) * (width + 1)])
        _unfilter(kind, row, previous)
        pixels += row
        previous = row
    return width, height, bytes(pixels)


def _unfilter(kind: int, row: bytearray, above: bytearray) -> None:
    # The five filters of the PNG specification, with one byte per pixel.
    for x in range(len(row)):
        left = row[x - 1] if x else 0
        if kind == 1:
            row[x] = (row[x] + left) & 0xFF
        elif kind == 2:
            row[x] = (row[x] + above[x]) & 0xFF
        elif kind == 3:
            row[x] = (row[x] + (left + above[x]) // 2) & 0xFF
        elif kind == 4:
            corner = above[x - 1] if x else 0
            guess = left + above[x] - corner
            pa, pb, pc = abs(guess - left), abs(guess - above[x]), abs(guess - corner)
            nearest = left if pa <= pb and pa <= pc else above[x] if pb <= pc else corner
            row[x] = (row[x] + nearest) & 0xFF
        elif kind != 0:
            raise ValueError(f"unknown PNG row filter {kind}")
