"""The one-call Python API: `from shared import colorize; colorize.image(...)`."""

import numpy as np
import pytest

from shared import colorize, lab
from shared.data import InputError
from conftest import colour_image, write_image


def test_image_from_a_file_or_an_array_gives_colour_at_the_input_size(tmp_path):
    rgb = colour_image(45, 70, seed=2)
    path = write_image(tmp_path / "photo.png", rgb)
    from_file = colorize.image(path)  # the shipped full_version
    assert from_file.shape == rgb.shape and from_file.dtype == np.uint8
    np.testing.assert_allclose(lab.rgb_to_l(from_file), lab.rgb_to_l(rgb), atol=1.5)  # its own lightness
    assert np.hypot(*np.moveaxis(lab.rgb_to_lab(from_file)[..., 1:], -1, 0)).mean() > 5  # in colour

    gray = lab.rgb_to_l(rgb) / 100.0  # HxW float in [0, 1]
    from_gray = colorize.image(gray)
    assert from_gray.shape == rgb.shape
    np.testing.assert_array_equal(colorize.image(lab.gray_rgb(rgb)), colorize.image(lab.gray_rgb(rgb)))


def test_images_batch_like_one_at_a_time_and_temperature_matters():
    photos = [colour_image(40, 48, seed=i) for i in range(3)]
    together = colorize.images(photos)
    for photo, result in zip(photos, together):
        np.testing.assert_allclose(result.astype(int), colorize.image(photo).astype(int), atol=1)
    vivid = colorize.image(photos[0], temperature=0.1)
    calm = colorize.image(photos[0], temperature=1.0)
    chroma = [np.abs(lab.rgb_to_lab(x)[..., 1:]).mean() for x in (vivid, calm)]
    assert chroma[0] > chroma[1]


def test_a_bad_array_is_a_clear_error():
    with pytest.raises(InputError, match="HxW or HxWx3"):
        colorize.image(np.zeros((4, 4, 4), np.uint8))


def test_video_is_one_call_with_the_command_line_options(tmp_path):
    import cv2

    clip = tmp_path / "clip.mkv"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"FFV1"), 8, (48, 32))
    for i in range(4):
        writer.write(np.roll(colour_image(32, 48, seed=1), 4 * i, axis=1)[..., ::-1])
    writer.release()
    result = colorize.video(clip, tmp_path / "out.mp4", max_frames=3, temperature=0.5, progress=False)
    assert result.path == tmp_path / "out.mp4" and result.frames == 3 and result.size == (48, 32)
    capture = cv2.VideoCapture(str(result.path))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
