"""Images of learned weights: tiles as the Deep Learning Tutorials'
`tile_raster_images` draws them, written as an 8-bit grayscale PNG (zlib
only, no imaging library)."""
from __future__ import annotations

import struct
import zlib

import numpy as np

from runtime.data.files import write_atomically


def tile_raster(x: np.ndarray, tile: tuple, grid: tuple, spacing: int = 1) -> np.ndarray:
    """The first rows*cols rows of x, each scaled to [0, 1] on its own and
    shown as a tile of shape `tile`, in a grid with `spacing` black pixels
    between tiles; uint8, 255 for 1."""
    (h, w), (rows, cols) = tile, grid
    out = np.zeros(((h + spacing) * rows - spacing, (w + spacing) * cols - spacing), np.uint8)
    for k, row in enumerate(np.asarray(x, np.float64)[:rows * cols]):
        row = row - row.min()
        row = row / (row.max() + 1e-8)
        r, c = divmod(k, cols)
        out[r * (h + spacing):r * (h + spacing) + h, c * (w + spacing):c * (w + spacing) + w] = \
            (row.reshape(h, w) * 255.0).astype(np.uint8)
    return out


def png_bytes(image: np.ndarray) -> bytes:
    """An 8-bit grayscale PNG of a 2-D uint8 array."""
    height, width = image.shape
    raw = b"".join(b"\x00" + image[r].tobytes() for r in range(height))   # filter 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def save_tiles(path, x, tile, grid, program=None) -> None:
    data = png_bytes(tile_raster(x, tile, grid))
    write_atomically(path, lambda f: f.write(data), "image", program)
