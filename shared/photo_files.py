"""Photo files in and out at their own depth, with their metadata: what archives need.

    photo = photo_files.read_photo("scan.tif")        # Photo: pixels uint8 or uint16 RGB, bits, the file it came from
    photo_files.write_photo(result, "scan_colorized.tif", source=photo, software=photo_files.software_tag("full_version"))

Reading: PNG and TIFF are decoded at their own depth (8 or 16 bits; a 16-bit file
stays 16-bit) by OpenCV, and TIFF first by tifffile, other formats (JPEG, WebP, BMP, and the modes OpenCV
does not read the same way) by Pillow as `shared.data.read_rgb` reads them. The
EXIF orientation is applied. An embedded ICC profile other than sRGB is converted
to sRGB by LittleCMS (Pillow's ImageCms) for 8-bit photos; a 16-bit photo with
such a profile is refused with a message saying what to do, since no converter
here keeps its 16 bits. So pixels are always sRGB, as `shared/lab.py` assumes.

Writing: OpenCV encodes the pixels (its PNG writer is several times faster than
Pillow's), a 16-bit result as a 16-bit PNG or TIFF. exiv2 (through the pyexiv2
package, the maintained C++ metadata library that exiftool's peers use) copies the
source's EXIF (date, caption, camera, GPS; not its maker notes or thumbnail, which
show the gray original), IPTC, XMP and ICC profile, and records the colorizer in
EXIF Software and XMP CreatorTool, so a colorized copy can
always be told from the original. The file is written under a hidden temporary
name beside the output and moved into place: an output that exists is complete.
"""

import io
import os
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from shared import data
from shared.errors import InputError

PARTIAL_SUFFIX = ".partial"  # hidden files `.<name>.<pid>.partial` beside each output while it is written
DEEP_FORMATS = (".png", ".tif", ".tiff")  # what a 16-bit result can be written as
OPENCV_FORMATS = {"PNG", "TIFF"}  # decoded by OpenCV, at their own depth
OPENCV_MODES = {"L", "LA", "RGB", "RGBA", "I;16", "I;16L", "I;16B", "I;16N"}  # ... in these modes
SRGB_NAMES = ("srgb", "sgray")  # ICC descriptions that mean sRGB (or its gray curve): taken as they are
STRUCTURE_TAGS = {  # EXIF tags describing the source file's own pixel layout, never copied
    "ImageWidth", "ImageLength", "BitsPerSample", "Compression", "PhotometricInterpretation", "StripOffsets",
    "SamplesPerPixel", "RowsPerStrip", "StripByteCounts", "PlanarConfiguration", "TileWidth", "TileLength",
    "TileOffsets", "TileByteCounts", "SubIFDs", "NewSubfileType", "SubfileType", "Predictor", "SampleFormat",
    "ExtraSamples", "JPEGInterchangeFormat", "JPEGInterchangeFormatLength", "InterColorProfile", "XMLPacket",
    "IPTCNAA", "ImageResources", "PixelXDimension", "PixelYDimension", "Orientation", "Software",
    "ProcessingSoftware", "ExifTag", "GPSTag", "InteroperabilityTag", "MakerNote", "PrintImageMatching",
}
COPIED_EXIF_GROUPS = ("Exif.Image.", "Exif.Photo.", "Exif.GPSInfo.", "Exif.Iop.")  # not maker notes, not the thumbnail
_SRGB_PROFILE = None  # LittleCMS's sRGB profile, made on first use


@dataclass
class Photo:
    """A photo as read: sRGB pixels HxWx3 (uint8, or uint16 for a 16-bit file), and where it came from."""

    pixels: np.ndarray
    path: Path | None = None  # the file, whose metadata `write_photo` copies
    icc: bytes | None = None  # the sRGB profile to embed in its results (its own, or sRGB's after a conversion)

    @property
    def bits(self):
        return 16 if self.pixels.dtype == np.uint16 else 8


def read_photo(path):
    """An image file -> Photo, sRGB at the file's depth, turned by its EXIF orientation; InputError when it cannot
    be read, or is 16-bit with a colour profile other than sRGB."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            image_format, mode = image.format, image.mode
            orientation = image.getexif().get(0x0112, 1)
            icc = image.info.get("icc_profile") or None
            if image_format not in OPENCV_FORMATS or mode not in OPENCV_MODES:
                return Photo(_pillow_pixels(image, icc, path), path, _embedded_profile(icc))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise InputError(f"cannot read {path} as an image ({error})") from error
    except Image.DecompressionBombError as error:
        raise InputError(f"{path} has too many pixels to read ({error})") from error
    pixels = _deep_pixels(path, image_format)
    if pixels is None:  # cut short or otherwise odd: Pillow reads it, or says why not
        return Photo(data.read_rgb(path), path, None)
    pixels = oriented(pixels, orientation)
    if icc is not None and not is_srgb(icc):
        if pixels.dtype == np.uint16:
            raise InputError(
                f"{path} is 16-bit with the colour profile '{profile_name(icc)}', not sRGB: convert it to sRGB first "
                "(for example `convert in.tif -profile sRGB.icc out.tif` with ImageMagick), or save it as 8-bit")
        try:
            pixels = to_srgb(pixels, icc)
        except (OSError, ValueError, ImageCms.PyCMSError) as error:
            raise InputError(f"{path} has the colour profile '{profile_name(icc)}', which cannot be converted to "
                             f"sRGB here ({error}): convert it to sRGB first") from error
    return Photo(pixels, path, _embedded_profile(icc))


def read_photos(paths):
    """(path, Photo) for each readable path, in order; one that cannot be read is skipped with a warning."""
    return data.read_images(paths, reader=read_photo)


def _deep_pixels(path, image_format):
    """RGB uint8 or uint16 HxWx3 of a PNG or TIFF at its own depth, unturned, or None where neither tifffile nor
    OpenCV decodes it the plain way (or a PNG is cut short): Pillow reads it then."""
    if image_format == "PNG" and not data._ends_whole(path, "PNG"):
        return None
    pixels = _tiff_pixels(path) if image_format == "TIFF" else None
    if pixels is None:
        pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)  # no conversion: 16 bits stay, orientation not applied
        if pixels is not None and pixels.ndim == 3 and pixels.shape[-1] >= 3:
            pixels = cv2.cvtColor(pixels[..., :3], cv2.COLOR_BGR2RGB)
    if pixels is None or pixels.dtype not in (np.uint8, np.uint16):
        return None
    if pixels.ndim == 2:
        return np.repeat(pixels[..., None], 3, axis=-1)
    if pixels.shape[-1] == 2:  # gray and alpha
        return np.repeat(pixels[..., :1], 3, axis=-1)
    return np.ascontiguousarray(pixels[..., :3])  # alpha dropped, as data.read_rgb does


def _tiff_pixels(path):
    """A TIFF's first image by tifffile (gray or RGB, chunky), RGB order; None for what it leaves to others
    (LZW or JPEG compression without the imagecodecs package, palette, CMYK, planes stored apart)."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tiff:
            page = tiff.pages.first
            photometric = page.photometric
            if photometric not in (tifffile.PHOTOMETRIC.MINISBLACK, tifffile.PHOTOMETRIC.MINISWHITE,
                                   tifffile.PHOTOMETRIC.RGB) or page.planarconfig != tifffile.PLANARCONFIG.CONTIG:
                return None
            pixels = page.asarray()
    except Exception:  # tifffile raises many kinds (KeyError for a missing codec): OpenCV or Pillow try next
        return None
    if photometric == tifffile.PHOTOMETRIC.MINISWHITE and pixels.dtype in (np.uint8, np.uint16):
        pixels = np.iinfo(pixels.dtype).max - pixels
    return pixels


def _pillow_pixels(image, icc, path):
    """uint8 RGB of a Pillow image, turned by its EXIF orientation, its colour profile converted to sRGB."""
    image = ImageOps.exif_transpose(image)
    if icc is not None and not is_srgb(icc):
        if image.mode in data.WIDE_GRAY_MODES:
            raise InputError(f"{path} is a {image.mode} image with the colour profile '{profile_name(icc)}', not "
                             "sRGB: convert it to sRGB first, or save it as 8-bit")
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        space = source.profile.xcolor_space.strip()
        wanted = {"RGB": "RGB", "GRAY": "L", "CMYK": "CMYK"}.get(space)
        if wanted is None:
            raise InputError(f"{path} has a colour profile in {space!r} space ('{profile_name(icc)}'), which this "
                             "program cannot convert to sRGB: convert it to sRGB first")
        image = ImageCms.profileToProfile(image.convert(wanted), source, srgb_profile(), outputMode="RGB")
    return data.pillow_rgb(image)


def oriented(pixels, orientation):
    """An array turned as EXIF orientation `orientation` (1..8) says, as Pillow's `ImageOps.exif_transpose`."""
    turns = {2: lambda p: p[:, ::-1], 3: lambda p: p[::-1, ::-1], 4: lambda p: p[::-1],
             5: lambda p: p.swapaxes(0, 1), 6: lambda p: np.rot90(p, -1), 7: lambda p: p[::-1, ::-1].swapaxes(0, 1),
             8: lambda p: np.rot90(p, 1)}
    turn = turns.get(orientation)
    return pixels if turn is None else np.ascontiguousarray(turn(pixels))


# --- colour profiles --------------------------------------------------------------------------------


def srgb_profile():
    global _SRGB_PROFILE
    if _SRGB_PROFILE is None:
        _SRGB_PROFILE = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    return _SRGB_PROFILE


def profile_name(icc):
    try:
        return ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))).strip()
    except (OSError, ImageCms.PyCMSError):
        return "unreadable"


def is_srgb(icc):
    """True for an sRGB profile (by its description, as sRGB IEC61966-2.1 and its variants name themselves)."""
    return any(name in profile_name(icc).lower().replace(" ", "") for name in SRGB_NAMES)


def to_srgb(pixels, icc):
    """uint8 RGB pixels in the colour space of profile `icc` -> sRGB (LittleCMS, perceptual intent)."""
    source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    space = source.profile.xcolor_space.strip()
    if space not in ("RGB", "GRAY"):
        raise ValueError(f"an RGB or gray photo with a profile of {space!r} space")
    gray = space == "GRAY"
    image = Image.fromarray(np.ascontiguousarray(pixels[..., 0] if gray else pixels))
    return np.asarray(ImageCms.profileToProfile(image, source, srgb_profile(), outputMode="RGB"))


def _embedded_profile(icc):
    """What a result embeds: the source's own sRGB profile, sRGB's after a conversion, or none."""
    if icc is None:
        return None
    return icc if is_srgb(icc) else srgb_profile().tobytes()


# --- writing ----------------------------------------------------------------------------------------


def software_tag(model):
    """What EXIF Software says of a colorized photo: the program and the model."""
    return f"colorize (automatic colorization), model {Path(str(model)).name}"


def result_suffix(path):
    """The suffix a photo's result gets by default: TIFF stays TIFF (16 bits and all), everything else PNG."""
    return ".tif" if Path(path).suffix.lower() in (".tif", ".tiff") else ".png"


def write_photo(rgb, path, source=None, software=None):
    """Write uint8 or uint16 RGB to `path` (its suffix says the format), with `source`'s metadata (a Photo or a
    path; None: none) and `software` in EXIF Software; atomically: under a hidden temporary name, then moved.
    A 16-bit result asked for in a format without 16 bits (JPEG, WebP, BMP) is written in 8."""
    path = Path(path)
    encoded = encode_photo(rgb, path.suffix, source, software)
    partial = partial_name(path)
    try:
        partial.write_bytes(encoded)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def partial_name(path):
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}{PARTIAL_SUFFIX}")


def encode_photo(rgb, suffix, source=None, software=None):
    """The bytes of `rgb` as a file of type `suffix` (.png, .tif, .jpg, ...), with `source`'s metadata."""
    suffix = suffix.lower()
    rgb = np.asarray(rgb)
    if rgb.dtype == np.uint16 and suffix not in DEEP_FORMATS:
        rgb = to_8_bits(rgb)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=-1)
    if rgb.ndim != 3 or rgb.shape[-1] != 3 or rgb.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected HxWx3 uint8 or uint16 RGB, got {rgb.dtype} of shape {rgb.shape}")
    if suffix not in data.IMAGE_EXTENSIONS:
        raise InputError(f"cannot write a {suffix or 'suffix-less'} file: give .png or .tif (16-bit results), "
                         ".jpg, .webp or .bmp")
    ok, encoded = cv2.imencode(".tif" if suffix == ".tiff" else suffix, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise InputError(f"OpenCV could not encode a {suffix} file")
    encoded = encoded.tobytes()
    if source is None and software is None:
        return encoded
    return with_metadata(encoded, source, software)


def to_8_bits(rgb16):
    """uint16 -> uint8, rounded."""
    return ((rgb16.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def as_8_bits(rgb):
    """uint8 as it is, uint16 rounded to uint8."""
    return to_8_bits(rgb) if rgb.dtype == np.uint16 else rgb


def with_metadata(encoded, source, software):
    """`encoded` (an image file's bytes) with the EXIF, IPTC, XMP and ICC profile of `source` (a Photo or a path)
    and `software` recorded; what exiv2 cannot carry is left out with a warning."""
    import pyexiv2

    photo = source if isinstance(source, Photo) else _header_only(source)
    target = pyexiv2.ImageData(encoded)
    try:
        exif, iptc, xmp = {}, {}, {}
        if photo.path is not None:
            exif, iptc, xmp = _metadata_of(photo.path)
        exif = {key: value for key, value in exif.items()
                if key.startswith(COPIED_EXIF_GROUPS) and key.split(".")[-1] not in STRUCTURE_TAGS}
        if "Exif.Image.Orientation" in exif or photo.path is not None:
            exif["Exif.Image.Orientation"] = "1"  # the pixels are turned already
        xmp = {key: value for key, value in xmp.items() if not key.startswith("Xmp.tiff.")}
        if software:
            exif["Exif.Image.Software"] = software  # (not ProcessingSoftware: OpenCV warns of it in every TIFF it reads)
            xmp["Xmp.xmp.CreatorTool"] = software
        _modify(target.modify_exif, exif, "EXIF")
        _modify(target.modify_iptc, iptc, "IPTC")
        _modify(target.modify_xmp, xmp, "XMP")
        png = encoded[:8] == PNG_SIGNATURE
        if photo.icc is not None and not png:
            target.modify_icc(photo.icc)
        encoded = target.get_bytes()
    finally:
        target.close()
    return with_png_profile(encoded, photo.icc) if png and photo.icc is not None else encoded


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def with_png_profile(png, icc):
    """A PNG's bytes with an iCCP chunk holding `icc` after its header. (exiv2 writes this chunk with an empty
    name, which libpng rejects as a bad keyword.)"""
    chunk = b"iCCP" + b"ICC profile\0\0" + zlib.compress(icc)
    header_end = 8 + 25  # the signature, then IHDR: length, type, 13 bytes, CRC
    return (png[:header_end] + struct.pack(">I", len(chunk) - 4) + chunk
            + struct.pack(">I", zlib.crc32(chunk) & 0xFFFFFFFF) + png[header_end:])


def _header_only(path):
    """A Photo without pixels for a source given by its path: what its results embed as ICC profile."""
    if path is None:
        return Photo(np.zeros((0, 0, 3), np.uint8))
    try:
        with Image.open(path) as image:
            icc = image.info.get("icc_profile") or None
    except Exception:  # not readable by Pillow: no profile to carry
        icc = None
    return Photo(np.zeros((0, 0, 3), np.uint8), Path(path), _embedded_profile(icc))


def _metadata_of(path):
    import pyexiv2

    try:
        source = pyexiv2.ImageData(Path(path).read_bytes())
    except (RuntimeError, OSError) as error:  # a format exiv2 does not know: nothing to copy
        warnings.warn(f"no metadata copied from {path} ({error})", stacklevel=3)
        return {}, {}, {}
    try:
        return _read(source.read_exif), _read(source.read_iptc), _read(source.read_xmp)
    finally:
        source.close()


def _read(reader):
    try:
        return reader()
    except (RuntimeError, UnicodeDecodeError):
        return {}


def _modify(modify, values, kind):
    """Write all `values` at once, else one by one, leaving out (with a warning) those exiv2 refuses."""
    if not values:
        return
    try:
        modify(values)
        return
    except (RuntimeError, ValueError, TypeError):
        pass
    refused = []
    for key, value in values.items():
        try:
            modify({key: value})
        except (RuntimeError, ValueError, TypeError):
            refused.append(key)
    if refused:
        warnings.warn(f"{kind} tags not carried into the result: {', '.join(refused)}", stacklevel=3)
