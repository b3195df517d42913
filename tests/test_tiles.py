"""save_tiles: a filter bank or a batch of images as one PNG of tiles."""
import numpy as np
import pytest

from runtime.data.tiles import MIN_TILE, save_tiles, tile


def test_tiles_are_scaled_each_and_laid_out_row_by_row():
    x = np.stack([np.full((1, 2, 3), 5.0), np.arange(6.0).reshape(1, 2, 3),
                  -np.arange(6.0).reshape(1, 2, 3)])
    image = tile(x)
    scale = MIN_TILE // 3
    h, w = 2 * scale, 3 * scale
    assert image.shape == (2 * (h + 1) - 1, 2 * (w + 1) - 1)       # 3 tiles: a 2 x 2 grid
    first, second = image[:h, :w], image[:h, w + 1:]
    assert (first == 0).all()                                       # a constant tile
    assert second.min() == 0 and second.max() == 1
    assert second[0, 0] == 0 and second[-1, -1] == 1
    np.testing.assert_allclose(image[h + 1:, :w], 1 - second)       # each tile scaled alone
    assert (image[h, :] == 1).all() and (image[h + 1:, w + 1:] == 1).all()   # gaps and the empty cell


def test_colour_images_keep_three_channels():
    assert tile(np.zeros((4, 3, 40, 40))).shape == (81, 81, 3)


def test_a_png_is_written(tmp_path):
    path = tmp_path / "f.png"
    save_tiles(path, np.random.default_rng(0).normal(size=(20, 1, 5, 5)))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("shape", [(5, 5), (2, 2, 5, 5)])
def test_other_shapes_are_refused_before_the_run(shape):
    from dsl.program import check_source
    dims = ", ".join(map(str, shape))
    prog = check_source(f"shared F: f32[{dims}] = zeros()\nsave_tiles(F, \"f.png\")\n", "t.sym")
    assert [d.code for d in prog.errors] == ["E0615"]
