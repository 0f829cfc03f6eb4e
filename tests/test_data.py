import numpy as np
import pytest
from PIL import Image

from shared import data, lab
from conftest import colour_image, write_image


def test_read_rgb_converts_every_mode_to_rgb(tmp_path):
    rgb = colour_image(10, 12)
    cases = {
        "gray.png": Image.fromarray(rgb).convert("L"),
        "palette.png": Image.fromarray(rgb).convert("P"),
        "alpha.png": Image.fromarray(rgb).convert("RGBA"),
        "photo.tif": Image.fromarray(rgb),
        "photo.webp": Image.fromarray(rgb),
        "photo.bmp": Image.fromarray(rgb),
    }
    for name, image in cases.items():
        image.save(tmp_path / name)
        loaded = data.read_rgb(tmp_path / name)
        assert loaded.shape == (10, 12, 3) and loaded.dtype == np.uint8, name
    np.testing.assert_array_equal(data.read_rgb(tmp_path / "alpha.png"), rgb)
    gray = data.read_rgb(tmp_path / "gray.png")
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()


def test_list_images_skips_bad_files_with_a_warning(tmp_path):
    write_image(tmp_path / "b.png", colour_image(20, 20))
    write_image(tmp_path / "sub" / "a.jpg", colour_image(20, 20))
    write_image(tmp_path / "tiny.png", colour_image(4, 20))
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 this is no jpeg")
    (tmp_path / ".DS_Store").write_bytes(b"junk")
    with pytest.warns(UserWarning) as caught:
        images = data.list_images(tmp_path, min_side=8)
    assert [p.name for p in images] == ["b.png", "a.jpg"]
    messages = " ".join(str(w.message) for w in caught)
    assert "notes.txt" in messages and "broken.jpg" in messages and "tiny.png" in messages
    assert ".DS_Store" not in messages


def test_list_images_from_a_list_file_and_a_single_file(tmp_path):
    first = write_image(tmp_path / "one.png", colour_image(9, 9))
    write_image(tmp_path / "two.png", colour_image(9, 9))
    (tmp_path / "list.txt").write_text("one.png\n# a comment\n\ntwo.png\n")
    assert [p.name for p in data.list_images(tmp_path / "list.txt")] == ["one.png", "two.png"]
    assert data.list_images(first) == [first]


def test_missing_and_empty_folders_are_clear_errors(tmp_path):
    with pytest.raises(data.InputError, match="does not exist"):
        data.list_images(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(data.InputError, match="no usable images"):
        data.list_images(tmp_path / "empty")


def test_split_validation_holds_out_a_share():
    paths = [f"{i}.png" for i in range(20)]
    train, val = data.split_validation(paths, 0.1)
    assert len(val) == 2 and len(train) == 18 and not set(train) & set(val)
    assert data.split_validation(paths, 0.1) == (train, val)  # deterministic
    assert data.split_validation(["only.png"], 0.1) == (["only.png"], [])


def test_dataset_batches_match_the_numpy_lab_conversion(photo_folder):
    paths = data.list_images(photo_folder)
    l_norm, ab_norm = next(iter(data.make_dataset(paths, image_size=32, batch_size=4)))
    assert l_norm.shape == (4, 32, 32, 1) and ab_norm.shape == (4, 32, 32, 2)
    # a uniform image resizes to itself, so the pipeline's Lab must equal scikit-image's
    uniform = np.zeros((40, 40, 3), np.uint8) + np.array([200, 60, 30], np.uint8)
    path = write_image(photo_folder.parent / "uniform.png", uniform)
    l_norm, ab_norm = next(iter(data.make_dataset([path], image_size=16, batch_size=1)))
    expected_l, expected_ab = lab.split_lab(lab.rgb_to_lab(uniform[:16, :16]))
    np.testing.assert_allclose(np.asarray(l_norm)[0], expected_l, atol=0.5 / 100)
    np.testing.assert_allclose(np.asarray(ab_norm)[0], expected_ab, atol=0.5 / 128)


def test_augmentation_keeps_l_and_ab_aligned(photo_folder):
    """L and ab come from one augmented RGB image: merging them back gives a smooth image,
    the same one the numpy conversion of that image would give."""
    paths = data.list_images(photo_folder)
    l_norm, ab_norm = next(iter(data.make_dataset(paths, 32, 4, augment=True, shuffle=True, seed=1)))
    for l_one, ab_one in zip(np.asarray(l_norm), np.asarray(ab_norm)):
        rgb = lab.merge_l_ab(l_one * 100, ab_one)
        l_again, ab_again = lab.split_lab(lab.rgb_to_lab(rgb))
        assert np.abs(ab_again - ab_one).mean() < 0.02  # a misaligned pair would not survive the round trip


def test_augmentation_changes_the_images(photo_folder):
    paths = data.list_images(photo_folder)
    plain = np.asarray(next(iter(data.make_dataset(paths, 32, 4)))[0])
    augmented = np.asarray(next(iter(data.make_dataset(paths, 32, 4, augment=True)))[0])
    assert np.abs(plain - augmented).mean() > 0.01


def test_random_affine_identity_and_flip():
    rng = np.random.default_rng(0)
    identity = data.random_affine_transform(10, 20, rng, 0, 0, (1, 1), flip=False)
    np.testing.assert_allclose(identity, [1, 0, 0, 0, 1, 0, 0, 0], atol=1e-6)

    class AlwaysFlip:
        def uniform(self, low=0.0, high=1.0):
            return low if low != high else low

    flipped = data.random_affine_transform(10, 20, AlwaysFlip(), 0, 0, (1, 1), flip=True)
    np.testing.assert_allclose(flipped, [-1, 0, 19, 0, 1, 0, 0, 0], atol=1e-6)  # x -> 19 - x


def epoch_means_before_and_after_rewrite(path, **options):
    dataset = data.make_dataset([path], image_size=16, batch_size=1, **options)
    first = float(np.asarray(list(dataset)[0][0]).mean())  # a whole epoch: a cache is kept only once complete
    write_image(path, np.full((16, 16, 3), 220, np.uint8))
    return first, float(np.asarray(list(dataset)[0][0]).mean())


def test_training_streams_from_disk_every_epoch(tmp_path):
    """Without the cache nothing is kept in memory: a file changed between epochs is read anew."""
    path = write_image(tmp_path / "a.png", np.full((16, 16, 3), 40, np.uint8))
    first, second = epoch_means_before_and_after_rewrite(path, cache=False)
    assert second > first + 0.3


def test_cache_keeps_the_first_epochs_photos(tmp_path):
    path = write_image(tmp_path / "a.png", np.full((16, 16, 3), 40, np.uint8))
    first, second = epoch_means_before_and_after_rewrite(path, cache=True)
    assert second == pytest.approx(first)


def test_cache_auto_streams_sets_over_the_memory_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "CACHE_LIMIT_BYTES", 16 * 16 * 3 * 4 - 1)  # one 16 px photo is over it
    path = write_image(tmp_path / "a.png", np.full((16, 16, 3), 40, np.uint8))
    first, second = epoch_means_before_and_after_rewrite(path)
    assert second > first + 0.3


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".bmp", ".webp", ".tif"])
def test_graph_decoding_gives_what_pillow_gives(tmp_path, suffix):
    """JPEG, PNG and BMP are decoded by TensorFlow in the graph, the rest by Pillow; the batches agree."""
    path = write_image(tmp_path / f"photo{suffix}", colour_image(24, 32))
    assert data.graph_decodable(path) == (suffix in (".jpg", ".png", ".bmp"))
    graph = np.asarray(next(iter(data.make_dataset([path], 16, 1)))[1])
    pillow = np.asarray(next(iter(data.make_dataset([path], 16, 1, decode="pillow")))[1])
    np.testing.assert_allclose(graph, pillow, atol=2 / 128)  # ab within 2 units: JPEG decoders may round apart


def test_exif_rotated_jpeg_goes_through_pillow(tmp_path):
    path = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    Image.fromarray(colour_image(24, 32)).save(path, exif=exif)
    assert not data.graph_decodable(path)
    l_norm = np.asarray(next(iter(data.make_dataset([path], 16, 1)))[0])
    assert l_norm.shape == (1, 16, 16, 1)


def test_photo_batches_without_tensorflow_give_the_same_pairs(photo_folder):
    paths = data.list_images(photo_folder)
    l_tf, ab_tf = (np.asarray(x) for x in next(iter(data.make_dataset(paths, 32, 4))))
    batches = data.PhotoBatches(paths, 32, 4, augment=False, shuffle=False)
    assert len(batches) == 1
    l_np, ab_np = batches[0]
    assert l_np.shape == l_tf.shape and ab_np.shape == ab_tf.shape
    assert np.abs(l_np - l_tf).mean() < 0.02 and np.abs(ab_np - ab_tf).mean() < 0.02
