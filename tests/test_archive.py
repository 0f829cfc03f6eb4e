"""Archive scans (issue 27): 16-bit in, 16-bit out; TIFF; EXIF, XMP and ICC carried; non-sRGB profiles converted
or refused; the fast colour conversion gives the colours the exact one gives, with and without hints."""

import io
import shutil
import struct
import subprocess

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageOps

from conftest import REPO_ROOT, colour_image
from shared import batch, cli, colorize, console, data, lab, photo_files
from shared.errors import InputError

EXIFTOOL = shutil.which("exiftool")
needs_exiftool = pytest.mark.skipif(EXIFTOOL is None, reason="exiftool (Debian libimage-exiftool-perl) is not installed")
DATE, CAPTION = "1932:06:01 10:00:00", "Wedding at Grandmother's farm, 1932"


def exiftool(path, *tags):
    """{tag: value} as exiftool reads them back from `path`."""
    output = subprocess.run([EXIFTOOL, "-s", "-s", "-s", "-f", *[f"-{tag}" for tag in tags], str(path)],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    return dict(zip(tags, output))


def run_colorize(*argv):
    with pytest.raises(SystemExit) as exit_info:
        cli.run(console.main, [str(a) for a in argv])
    return exit_info.value.code


def gray_ramp_16(height, width, seed=0):
    """A 16-bit gray scan: smooth gradients with some texture, tens of thousands of levels."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    values = 0.15 + 0.7 * (x / width) * (0.6 + 0.4 * np.sin(y / max(height, 1) * 6.0) ** 2)
    values += np.random.default_rng(seed).normal(0, 0.002, values.shape).astype(np.float32)
    return np.clip(values * 65535, 0, 65535).astype(np.uint16)


def exif_bytes(orientation=1):
    exif = Image.Exif()
    exif[0x010E], exif[0x010F], exif[0x0110], exif[0x0132] = CAPTION, "Epson", "Perfection V850", DATE
    exif.get_ifd(0x8769)[0x9003] = DATE  # DateTimeOriginal
    if orientation != 1:
        exif[0x0112] = orientation
    return exif.tobytes()


def matrix_profile(description, columns, gamma=563 / 256):
    """A small ICC v2 RGB matrix/TRC profile: `columns` the D50 XYZ of red, green and blue (here Adobe RGB's)."""
    def s15(value):
        return struct.pack(">i", round(value * 65536))

    def xyz(values):
        return b"XYZ " + b"\0" * 4 + b"".join(s15(v) for v in values)

    text = description.encode() + b"\0"
    tags = {
        b"desc": b"desc" + b"\0" * 4 + struct.pack(">I", len(text)) + text + b"\0" * 8 + b"\0" * 3 + b"\0" * 67,
        b"wtpt": xyz((0.9642, 1.0, 0.8249)),
        b"rXYZ": xyz(columns[0]), b"gXYZ": xyz(columns[1]), b"bXYZ": xyz(columns[2]),
        b"rTRC": b"curv" + b"\0" * 4 + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0",
        b"cprt": b"text" + b"\0" * 4 + b"none\0\0\0\0",
    }
    tags[b"gTRC"] = tags[b"bTRC"] = tags[b"rTRC"]
    table_size = 4 + 12 * len(tags)
    offset, table, body = 128 + table_size, b"", b""
    for signature, tag in tags.items():
        tag += b"\0" * (-len(tag) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(tag))
        body += tag
    size = 128 + table_size + len(body)
    header = (struct.pack(">I", size) + b"\0" * 4 + bytes([2, 0x10, 0, 0]) + b"mntrRGB XYZ " + b"\0" * 12 + b"acsp"
              + b"\0" * 24 + b"\0" * 4 + s15(0.9642) + s15(1.0) + s15(0.8249) + b"\0" * 48)
    return header + struct.pack(">I", len(tags)) + table + body


ADOBE_LIKE = matrix_profile("Adobe RGB (1998) compatible", [(0.6097, 0.3111, 0.0195), (0.2053, 0.6257, 0.0609),
                                                             (0.1492, 0.0632, 0.7446)])


# --- 16 bits in, 16 bits out ------------------------------------------------------------------------


@needs_exiftool
def test_a_12_mp_16_bit_scan_becomes_a_16_bit_colour_tif_of_its_size_with_its_date_and_caption(tmp_path):
    scan = gray_ramp_16(3000, 4000)  # 12 MP, as the issue asks
    tifffile.imwrite(tmp_path / "scan.tif", scan, description=CAPTION, metadata=None, extratags=[(306, "s", 0, DATE, True)])
    assert run_colorize(tmp_path / "scan.tif") == 0
    result = photo_files.read_photo(tmp_path / "scan_colorized.tif").pixels
    assert result.dtype == np.uint16 and result.shape == (3000, 4000, 3)
    assert min(len(np.unique(result[..., c])) for c in range(3)) > 1024
    assert np.abs(lab.rgb_to_l(result) - lab.rgb_to_l(np.repeat(scan[..., None], 3, axis=-1))).max() < 0.1  # its own L
    assert lab.rgb_to_lab(result[::50, ::50])[..., 1:].std() > 1  # coloured, not gray
    tags = exiftool(tmp_path / "scan_colorized.tif", "ImageDescription", "ModifyDate", "Software", "BitsPerSample")
    assert tags["ImageDescription"] == CAPTION and tags["ModifyDate"] == DATE
    assert "full_version" in tags["Software"] and tags["BitsPerSample"] == "16 16 16"


def test_16_bit_png_gives_16_bit_png_and_8_bit_gives_8_bit(tmp_path):
    gray16 = np.repeat(gray_ramp_16(96, 128)[..., None], 3, axis=-1)
    photo_files.write_photo(gray16, tmp_path / "deep.png")
    photo_files.write_photo(photo_files.as_8_bits(gray16), tmp_path / "flat.png")
    deep = colorize.image(tmp_path / "deep.png")
    flat = colorize.image(tmp_path / "flat.png")
    assert deep.dtype == np.uint16 and flat.dtype == np.uint8
    difference = np.abs(photo_files.as_8_bits(deep).astype(int) - flat.astype(int))
    # the same colours; 8 bits only quantise the input (a few pixels of this synthetic ramp move up to ~10 levels
    # with the shipped full_version's neutral lean, which reads the whole image)
    assert difference.mean() < 1 and np.percentile(difference, 99) <= 6 and difference.max() <= 12


@pytest.mark.parametrize("suffix", [".tif", ".png"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_tiff_and_png_round_trip_exactly_at_their_depth(tmp_path, suffix, dtype):
    top = np.iinfo(dtype).max
    rgb = np.random.default_rng(1).integers(0, top + 1, size=(30, 40, 3), dtype=dtype)
    photo_files.write_photo(rgb, tmp_path / f"x{suffix}")
    back = photo_files.read_photo(tmp_path / f"x{suffix}")
    assert back.pixels.dtype == dtype and np.array_equal(back.pixels, rgb)


def test_tiffs_from_other_writers_read_the_same(tmp_path):
    gray = gray_ramp_16(20, 30)
    tifffile.imwrite(tmp_path / "plain.tif", gray)
    Image.fromarray(gray).save(tmp_path / "pillow.tif")  # OpenCV 5 fails on this one; tifffile reads it
    tifffile.imwrite(tmp_path / "white_is_zero.tif", 65535 - gray, photometric="miniswhite")
    for name in ("plain.tif", "pillow.tif", "white_is_zero.tif"):
        pixels = photo_files.read_photo(tmp_path / name).pixels
        assert pixels.dtype == np.uint16 and np.array_equal(pixels[..., 1], gray), name


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_turns_the_pixels_as_pillow_does(tmp_path, orientation):
    rgb = colour_image(20, 30)
    Image.fromarray(rgb).save(tmp_path / "turned.png", exif=exif_bytes(orientation))
    expected = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "turned.png")).convert("RGB"))
    assert np.array_equal(photo_files.read_photo(tmp_path / "turned.png").pixels, expected)


# --- metadata ---------------------------------------------------------------------------------------


@needs_exiftool
def test_a_jpegs_exif_and_xmp_survive_into_its_colorized_png_and_name_the_model(tmp_path):
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator><rdf:Seq>'
           b"<rdf:li>A. Photographer</rdf:li></rdf:Seq></dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>")
    gray = np.asarray(Image.fromarray(colour_image(60, 80)).convert("L"))
    Image.fromarray(gray).save(tmp_path / "old.jpg", exif=exif_bytes(orientation=6), xmp=xmp, quality=95)
    assert run_colorize(tmp_path / "old.jpg", "--model", "full_version") == 0
    out = tmp_path / "old_colorized.png"
    tags = exiftool(out, "DateTimeOriginal", "ImageDescription", "Make", "Model", "Creator", "Software", "CreatorTool",
                    "Orientation")
    assert tags["DateTimeOriginal"] == DATE and tags["ImageDescription"] == CAPTION
    assert (tags["Make"], tags["Model"], tags["Creator"]) == ("Epson", "Perfection V850", "A. Photographer")
    assert tags["Software"] == tags["CreatorTool"] == photo_files.software_tag("full_version")
    assert tags["Orientation"] == "Horizontal (normal)"  # the pixels are turned already
    assert Image.open(out).size == (60, 80)


def test_an_srgb_profile_is_carried_and_a_result_without_a_source_still_names_the_software(tmp_path):
    srgb = photo_files.srgb_profile().tobytes()
    Image.fromarray(colour_image(20, 30)).save(tmp_path / "tagged.png", icc_profile=srgb)
    photo = photo_files.read_photo(tmp_path / "tagged.png")
    assert np.array_equal(photo.pixels, colour_image(20, 30))  # sRGB: taken as it is
    photo_files.write_photo(photo.pixels, tmp_path / "out.png", photo, "colorize test")
    assert Image.open(tmp_path / "out.png").info.get("icc_profile") == srgb
    encoded = photo_files.encode_photo(photo.pixels, ".png", None, "colorize test")
    assert Image.open(io.BytesIO(encoded)).getexif()[0x0131] == "colorize test"  # EXIF Software


def test_an_8_bit_photo_in_another_colour_space_is_converted_to_srgb(tmp_path):
    rgb = np.array([[[200, 100, 50], [40, 160, 90], [128, 128, 128]]], np.uint8)
    Image.fromarray(rgb).save(tmp_path / "adobe.png", icc_profile=ADOBE_LIKE)
    Image.fromarray(rgb).save(tmp_path / "adobe.jpg", icc_profile=ADOBE_LIKE, quality=100, subsampling=0)
    expected = np.asarray(ImageCms.profileToProfile(Image.fromarray(rgb), ImageCms.ImageCmsProfile(io.BytesIO(ADOBE_LIKE)),
                                                    photo_files.srgb_profile(), outputMode="RGB"))
    for name in ("adobe.png", "adobe.jpg"):
        photo = photo_files.read_photo(tmp_path / name)
        assert np.abs(photo.pixels.astype(int) - expected.astype(int)).max() <= 3, name  # JPEG: a level or two
        assert np.abs(photo.pixels.astype(int) - rgb.astype(int)).max() > 10  # not read as if it were sRGB
        assert photo_files.is_srgb(photo.icc)  # its results say sRGB, as their pixels are
    photo_files.write_photo(photo.pixels, tmp_path / "out.png", photo)
    assert "sRGB" in photo_files.profile_name(Image.open(tmp_path / "out.png").info["icc_profile"])


def test_a_16_bit_photo_in_another_colour_space_is_refused_in_one_line(tmp_path, capsys):
    import pyexiv2

    rgb16 = np.repeat(gray_ramp_16(20, 30)[..., None], 3, axis=-1)
    image = pyexiv2.ImageData(photo_files.encode_photo(rgb16, ".png"))
    try:
        image.modify_icc(ADOBE_LIKE)
        (tmp_path / "wide.png").write_bytes(image.get_bytes())
    finally:
        image.close()
    with pytest.raises(InputError, match=r"16-bit with the colour profile 'Adobe RGB \(1998\) compatible', not sRGB"):
        photo_files.read_photo(tmp_path / "wide.png")
    assert run_colorize(tmp_path / "wide.png") == 2  # the exit code of a user error
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "convert it to sRGB first" in error


def test_a_failed_write_leaves_neither_a_file_nor_a_partial_one(tmp_path):
    (tmp_path / "kept.png").write_bytes(b"the earlier result")
    with pytest.raises(InputError, match="cannot write"):
        photo_files.write_photo(colour_image(8, 8), tmp_path / "kept.xyz")
    with pytest.raises(ValueError):
        photo_files.write_photo(np.zeros((8, 8, 5), np.uint8), tmp_path / "kept.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.png"]
    assert (tmp_path / "kept.png").read_bytes() == b"the earlier result"


@needs_exiftool
def test_batch_keeps_16_bits_and_metadata_as_the_command_does(tmp_path):
    folder = tmp_path / "archive"
    folder.mkdir()
    tifffile.imwrite(folder / "scan.tif", gray_ramp_16(64, 96), description=CAPTION, metadata=None)
    Image.fromarray(colour_image(48, 64)).save(folder / "print.jpg", exif=exif_bytes())
    assert batch.main(["--input", str(folder), "--output", str(tmp_path / "out")]) == 0
    scan = photo_files.read_photo(tmp_path / "out" / "scan.png").pixels
    assert scan.dtype == np.uint16 and scan.shape == (64, 96, 3)
    assert photo_files.read_photo(tmp_path / "out" / "print.png").pixels.dtype == np.uint8
    assert exiftool(tmp_path / "out" / "scan.png", "ImageDescription")["ImageDescription"] == CAPTION
    assert exiftool(tmp_path / "out" / "print.png", "DateTimeOriginal")["DateTimeOriginal"] == DATE


# --- the colours: the fast conversion against scikit-image's, with and without hints ------------------


@pytest.mark.parametrize("with_hints", [False, True])
def test_the_fast_path_gives_the_colours_of_the_exact_one(with_hints):
    rgb = data.read_rgb(REPO_ROOT / "datasets/alpha/picos_de_europa.jpg")
    colorizer = colorize.colorizer()
    points = [[(40, 30, (200, 60, 40)), (rgb.shape[1] - 20, rgb.shape[0] - 20, (40, 90, 210))]] if with_hints else None
    fast = colorizer.colorize([rgb], points)[0]
    exact_l = lab.rgb_to_l(rgb, fast=False)
    ab_norm = colorizer.predict_ab([lab.rgb_to_l(rgb)], points)[0]  # what the fast path merged
    exact = lab.merge_l_ab(exact_l, ab_norm, fast=False)
    assert np.abs(fast.astype(int) - exact.astype(int)).max() <= 1  # the conversions: one level at most
    assert np.abs(lab.rgb_to_lab(fast, fast=False) - lab.rgb_to_lab(exact, fast=False)).max() < 0.5 + 0.6  # + rounding
    exact_ab = colorizer.predict_ab([exact_l], points)[0]  # the network, given L 1e-4 apart: within an ab unit
    assert np.abs(exact_ab - ab_norm).max() * lab.AB_SCALE < 1


def test_a_profile_that_cannot_become_srgb_is_refused_in_one_line(tmp_path):
    lab_profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    for name in ("lab.png", "lab.jpg"):
        Image.fromarray(colour_image(8, 8)).save(tmp_path / name, icc_profile=lab_profile)
        with pytest.raises(InputError, match="'Lab identity built-in'.*convert it to sRGB first"):
            photo_files.read_photo(tmp_path / name)
