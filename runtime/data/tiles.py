"""A filter bank or a batch of images as one PNG of tiles (`save_tiles`).

As the tutorials' `tile_raster_images`: each tile is scaled to [0, 1] on
its own (so small filters stay visible), tiles are laid out row by row in
a near-square grid with a one-pixel gap, and the image is grey (one
channel) or colour (three channels). Tiles smaller than MIN_TILE pixels are
enlarged by repeating pixels.
"""
from __future__ import annotations

import math

import numpy as np

from runtime.data.errors import DataError
from runtime.data.files import write_atomically

PNG_HINT = "pip install matplotlib"
MIN_TILE = 30       # pixels: small tiles are enlarged by a whole factor


def tile(x: np.ndarray) -> np.ndarray:
    """f[n, c, h, w] (c = 1 or 3) or f[n, h, w] -> one image [H, W] or [H, W, 3]."""
    x = np.asarray(x, np.float64)
    if x.ndim == 3:
        x = x[:, None]
    n, c, h, w = x.shape
    low = x.min(axis=(1, 2, 3), keepdims=True)
    span = x.max(axis=(1, 2, 3), keepdims=True) - low
    x = (x - low) / np.where(span > 0, span, 1)     # a constant tile is black
    scale = max(1, MIN_TILE // max(h, w, 1))         # 5x5 filters drawn 30x30
    x = x.repeat(scale, axis=2).repeat(scale, axis=3)
    h, w = h * scale, w * scale
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.ones((c, rows * (h + 1) - 1, cols * (w + 1) - 1))    # white gaps
    for i in range(n):
        r, q = divmod(i, cols)
        grid[:, r * (h + 1):r * (h + 1) + h, q * (w + 1):q * (w + 1) + w] = x[i]
    return grid[0] if c == 1 else grid.transpose(1, 2, 0)


def save_tiles(path, x: np.ndarray, program=None) -> None:
    image = tile(x)
    try:        # lazy: matplotlib is optional and slow to import
        from matplotlib.image import imsave
    except ImportError:
        raise DataError("save_tiles needs matplotlib", hint=PNG_HINT) from None
    write_atomically(path, lambda f: imsave(f, image, cmap="gray", vmin=0, vmax=1, format="png"),
                     "image", program)
