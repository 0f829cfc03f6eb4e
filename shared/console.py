"""`colorize`, the installed command: a photo, a folder of photos or a video in, colour out; or the page.

    colorize old_photo.jpg                      # -> old_photo_colorized.png beside it, its EXIF kept
    colorize scan.tif                           # -> scan_colorized.tif, 16-bit for a 16-bit scan
    colorize scans/ -o scans_colour/            # every photo in the folder (sub-folders too)
    colorize film.mp4 --model full_version      # a video, by its type -> film_colorized.mp4
    colorize photo.jpg --hints hints.json --reference palette.jpg
    colorize film.mp4 --hints hints.json         # hints with "frame": N follow the film
    colorize app                                # the page, http://127.0.0.1:7860

TensorFlow loads only once the flags are read, so `--help` answers at once.
"""

import argparse
import mimetypes
import sys
from pathlib import Path

from shared import cli
from shared.errors import InputError

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ogv", ".mpg", ".mpeg", ".wmv")
BATCH = 8  # photos of a folder per network call


def build_parser():
    parser = argparse.ArgumentParser(
        prog="colorize",
        description="Colorize a photo, a folder of photos or a video (told apart by its type).",
        epilog="colorize app [--port N] [--host H] [--model M] starts the page in the browser "
               "(colorize app --help for its flags).",
    )
    parser.add_argument("input", type=Path, help="photo, folder of photos, or video file")
    parser.add_argument("-o", "--output", type=Path,
                        help="a photo's .png or .tif (default: <input>_colorized.png beside it, .tif for a TIFF; "
                             "16 bits for a 16-bit photo), a folder's output folder "
                             "(default: <folder>_colorized), a video's .mp4/.mkv/.avi (default: <input>_colorized.mp4)")
    parser.add_argument("--model", default=cli.DEFAULT_MODEL,
                        help="tier name (full_version, beta, alpha) or .keras path (default: %(default)s)")
    parser.add_argument("--temperature", type=cli.positive_float,
                        help="classification models: lower is more vivid, higher calmer (default: the model's)")
    parser.add_argument("--neutral-lean", type=float, metavar="STRENGTH",
                        help="full_version: how far a scene it judges grey (snow, concrete, an overcast street) is "
                             "pulled toward grey; 0 keeps the network's own colours, 1 the full fit, 2 twice (default: 0.3)")
    parser.add_argument("--hints", type=Path,
                        help='a photo or video: a JSON list of colour hints, [{"x": 120, "y": 40, "color": "#3a7bd5"}] '
                             '(x the column, y the row, in its pixels; for a video also "frame": N, carried to the '
                             "following frames)")
    parser.add_argument("--reference", type=Path, help="one photo: a photo whose colours set the palette")
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["app"]:
        from shared import app

        return app.main(argv[1:], prog="colorize app")
    args = build_parser().parse_args(argv)
    kind = input_kind(args.input)
    if kind == "folder" and args.hints:
        raise InputError(f"--hints are points of one photo or video; {args.input} is a folder")
    if kind != "photo" and args.reference:
        raise InputError(f"--reference applies to one photo; {args.input} is a {kind}")
    return {"photo": colorize_photo, "folder": colorize_folder, "video": colorize_video}[kind](args)


def input_kind(path):
    """photo, folder or video: a folder is a folder, a video is a file whose type says video."""
    if not path.exists():
        raise InputError(f"{path} does not exist")
    if path.is_dir():
        return "folder"
    media_type = mimetypes.guess_type(path.name)[0] or ""
    return "video" if media_type.startswith("video/") or path.suffix.lower() in VIDEO_EXTENSIONS else "photo"


def colorize_photo(args):
    from shared import colorize, data, hints, photo_files

    output = args.output or args.input.with_name(f"{args.input.stem}_colorized{photo_files.result_suffix(args.input)}")
    if output.suffix.lower() not in data.IMAGE_EXTENSIONS:
        raise InputError(f"-o {output}: give an image file name ({', '.join(data.IMAGE_EXTENSIONS)})")
    if output.resolve() == args.input.resolve():
        raise InputError(f"-o {output} would overwrite the input")
    cli.writable_file(output, "-o")
    options = {}
    if args.hints:  # checked against the photo's size by colorize.image
        options["hints"] = hints.read_photo_hints(args.hints)
    if args.reference:
        options["reference"] = str(args.reference)
    colorize.image_file(args.input, output, model=args.model, temperature=args.temperature,
                        neutral_lean=args.neutral_lean, **options)
    print(f"wrote {output}")
    return 0


def colorize_folder(args):
    from tqdm.auto import tqdm

    from shared import colorize, commands, data, photo_files

    output = args.output or args.input.with_name(f"{args.input.name}_colorized")
    paths = data.list_images(args.input)
    names = commands.result_names(data.input_labels(paths, args.input))
    commands.check_output_folder(output, [args.input], paths, names, flag="-o")
    written = 0
    with tqdm(total=len(paths), unit="photo", dynamic_ncols=True) as bar:
        for start in range(0, len(paths), BATCH):
            readable = dict(photo_files.read_photos(paths[start : start + BATCH]))  # broken files: warned, skipped
            results = colorize.images([photo.pixels for photo in readable.values()], model=args.model,
                                      temperature=args.temperature, neutral_lean=args.neutral_lean)
            for path, result in zip(readable, results):
                commands.save_png(result, output / names[paths.index(path)], readable[path],
                                  photo_files.software_tag(args.model))
            written += len(readable)
            bar.update(len(paths[start : start + BATCH]))
    print(f"wrote {written} of {len(paths)} photos to {output}")
    return 0


def colorize_video(args):
    from shared import colorize
    from shared import video as video_module

    output = args.output or args.input.with_name(f"{args.input.stem}_colorized.mp4")
    options = {"hints": video_module.hints_by_frame(args.hints)} if args.hints else {}
    result = colorize.video(args.input, output, model=args.model, temperature=args.temperature,
                            neutral_lean=args.neutral_lean, **options)
    print(video_module.summary_line(result))
    return 0


def run():
    """The console script's entry point."""
    cli.run(main)


if __name__ == "__main__":
    run()
