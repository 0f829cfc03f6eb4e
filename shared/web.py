"""The page's server (shared/app.py starts it): FastAPI with one small static page, everything local.

The page uploads a file once (its raw bytes: no multipart parsing) and gets an id back; later
calls name it by that id. Photos are colorized per request and come back as PNG bytes; videos
run as jobs, one at a time, whose progress the page polls and whose H.264 result it plays from
/files/<id>. Every file lives in one temporary folder (`Workspace`), under a random name the
server chose; /files serves only such names from there, so no other path can be fetched. Files
older than an hour are removed as new ones come, and the folder itself when the server stops.
"""

import contextlib
import re
import secrets
import signal
import shutil
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import uvicorn
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response
from PIL import Image

from shared import cli, colorize, data, hints, inference, lab, photo_files
from shared.data import InputError

PAGE = Path(__file__).with_name("app_page")
PAGE_FILES = {  # the page's own files: the only ones served besides the workspace's
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/app.css": ("app.css", "text/css; charset=utf-8"),
}
MAX_PIXELS = 50_000_000  # a photo (or a video frame) above this is refused before it is decoded
MAX_UPLOAD_BYTES = 500 << 20  # 500 MiB
FILE_LIFETIME_S = 3600  # uploads and results older than this are removed
FILE_NAME = re.compile(r"[0-9a-f]{32}\.[a-z0-9]{1,5}")  # what Workspace names its files
UPLOAD_SUFFIXES = {*data.IMAGE_EXTENSIONS, ".gif", ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ogv", ".ogg",
                   ".mpg", ".mpeg", ".wmv"}
SUGGESTIONS = 8
PREVIEW_SIDE = 1280  # px: the page shows a photo's result at most this long a side; the download is full size
KEPT_PHOTOS = 4  # photos (per model and temperature) whose per-photo work the server keeps for their hints


@dataclass
class Limits:
    max_pixels: int = MAX_PIXELS
    max_upload_bytes: int = MAX_UPLOAD_BYTES


class Workspace:
    """The app's temporary folder: files under random names, removed after `lifetime_s` and on close."""

    def __init__(self, lifetime_s=FILE_LIFETIME_S):
        self.folder = Path(tempfile.mkdtemp(prefix="colorize-app-"))
        self.lifetime_s = lifetime_s

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def new_path(self, suffix):
        """A fresh path in the folder (not created), its name a random id with `suffix`; old files go first."""
        self.remove_expired()
        return self.folder / f"{secrets.token_hex(16)}{suffix}"

    def path_of(self, name):
        """The file called `name` in the folder; InputError for any other name or a file that is gone."""
        if not FILE_NAME.fullmatch(str(name)) or not (self.folder / name).is_file():
            raise InputError("no such file here: it may have expired; upload it again")
        return self.folder / name

    def remove_expired(self):
        oldest = time.time() - self.lifetime_s
        for path in self.folder.iterdir():
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < oldest:
                    path.unlink()

    def close(self):
        shutil.rmtree(self.folder, ignore_errors=True)


# --- what an upload is --------------------------------------------------------------------------


def upload_suffix(filename):
    suffix = Path(filename or "").suffix.lower()
    return suffix if suffix in UPLOAD_SUFFIXES else ".bin"


def describe_upload(path, filename, limits):
    """{kind: image|video, width, height, ...} for a stored upload; InputError (naming `filename`) when it
    is neither an image nor a video this app reads, is damaged, or is above the pixel limit."""
    image_size = _image_header_size(path, filename, limits)
    if image_size is not None:
        width, height = image_size
        _check_pixels(width, height, filename, limits, "photo")
        try:
            data.read_rgb(path)  # decodes it all: a truncated file fails here
        except InputError as error:
            reason = error.__cause__ or error
            raise InputError(f"{filename} cannot be read as an image: it is damaged or cut short ({reason})") from error
        return {"kind": "image", "width": width, "height": height}
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        ok, frame = capture.read() if capture.isOpened() else (False, None)
        if not ok or frame is None:
            raise InputError(f"{filename} is neither an image nor a video this page can read")
        height, width = frame.shape[:2]
        _check_pixels(width, height, filename, limits, "video's frame")
        frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        return {"kind": "video", "width": width, "height": height, "frames": frames if frames > 0 else None}
    finally:
        capture.release()


def _image_header_size(path, filename, limits):
    """(width, height) from an image file's header, without decoding it; None when Pillow does not know it."""
    try:
        with Image.open(path) as image:
            return image.size if image.format != "GIF" or getattr(image, "n_frames", 1) == 1 else None
    except Image.DecompressionBombError as error:
        raise InputError(f"{filename} is above this page's limit of {limits.max_pixels / 1e6:g} megapixels") from error
    except Exception:  # not an image Pillow knows: perhaps a video
        return None


def _check_pixels(width, height, filename, limits, what):
    if width * height > limits.max_pixels:
        raise InputError(f"{filename} is {width}x{height} px ({width * height / 1e6:.1f} megapixels); this page's "
                         f"limit for a {what} is {limits.max_pixels / 1e6:g} megapixels")


async def receive_upload(request, workspace, limits):
    """The request's body written to a new workspace file; InputError when it passes the size limit, after
    the rest of the body is read and dropped (a server that answers before it has read the request
    leaves the client with a broken connection instead of the message)."""
    filename = urllib.parse.unquote(request.headers.get("x-filename", "upload"))
    path, size = workspace.new_path(upload_suffix(filename)), 0
    try:
        with open(path, "wb") as file:
            async for chunk in request.stream():
                size += len(chunk)
                if size <= limits.max_upload_bytes:
                    file.write(chunk)
        if size > limits.max_upload_bytes:
            raise InputError(f"{filename} is larger than this page's limit of {limits.max_upload_bytes / 2**20:g} MiB")
        if size == 0:
            raise InputError(f"{filename} is empty")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, filename


# --- the requests' arguments --------------------------------------------------------------------


def available_models(default_model):
    """The models the page offers: the tiers with a trained or shipped model, then models/*.keras; the
    command line's --model first. Names as colorize takes them."""
    names = [default_model] + [tier for tier in cli.TIERS if cli.model_path(tier).exists()]
    names += [str(path.relative_to(cli.REPO_ROOT)) for path in sorted(cli.MODELS.glob("*.keras"))
              if path.stem not in cli.TIERS]
    return list(dict.fromkeys(names))


def hex_color(rgb):
    return "#" + "".join(f"{int(value):02x}" for value in rgb)


def parse_hints(items):
    """The page's [{x, y, color: "#rrggbb"}, ...] -> colorize's [(x, y, (r, g, b)), ...]."""
    if not isinstance(items, list):
        raise InputError("hints must be a list")
    try:
        return [(int(item["x"]), int(item["y"]), hints.parse_colour(item["color"])) for item in items]
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"a hint needs x, y and a colour like #3a7bd5 ({error})") from error


def guidance(request, workspace):
    """The hints and reference photo a request gives, as colorize's keyword arguments: only those given,
    so that a model without hints works as long as the user gives none."""
    given = {}
    if request.get("hints"):
        given["hints"] = parse_hints(request["hints"])
    if request.get("reference"):
        given["reference"] = data.read_rgb(workspace.path_of(request["reference"]))
    return given


def parse_number(value, name):
    """An optional number of the request (None: not given, the model's own)."""
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as error:
        raise InputError(f"{name} must be a number, got {value!r}") from error


def parse_temperature(value):
    return parse_number(value, "temperature")


def parse_neutral_lean(value):
    return parse_number(value, "the neutral lean")


# --- photos being worked on ---------------------------------------------------------------------


def preview_shape(height, width, side=PREVIEW_SIDE):
    """(height, width) of a photo's preview: the photo's own up to `side` px on its long side, else shrunk to it."""
    scale = min(1.0, side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


class PreparedPhotos:
    """The photos the page works on, each prepared once per model, temperature and neutral lean (`inference.PreparedPhoto`:
    its lightness, the network's per-photo part, its hint regions), so that a hint reruns only what it changes;
    the last KEPT_PHOTOS of them."""

    def __init__(self, workspace, kept=KEPT_PHOTOS):
        self.workspace, self.kept, self.photos = workspace, kept, {}

    def get(self, upload_id, model, temperature, neutral_lean=None):
        """(the PreparedPhoto, a photo_files.Photo of one pixel: the file's depth and metadata)."""
        key = (upload_id, model, temperature, neutral_lean)
        if key not in self.photos:
            read = photo_files.read_photo(self.workspace.path_of(upload_id))  # a 16-bit upload stays 16-bit
            colorizer = colorize.colorizer(model, temperature, neutral_lean=neutral_lean)
            colorizer.check_size(*read.pixels.shape[:2])
            source = photo_files.Photo(read.pixels[:1, :1], read.path, read.icc)  # its depth and metadata, for the download
            self.photos[key] = (inference.PreparedPhoto(colorizer, lab.rgb_to_l(read.pixels)), source)
            while len(self.photos) > self.kept:
                self.photos.pop(next(iter(self.photos)))
        self.photos[key] = self.photos.pop(key)  # the latest used last
        return self.photos[key]


def render(photo, given, full=False, bits=8):
    """A prepared photo with `guidance`'s hints and reference -> RGB: the preview (uint8), or the full size in
    `bits` (8: uint8, 16: uint16)."""
    colorizer, (height, width) = photo.colorizer, photo.l_channel.shape
    points = hints.check_points(given.get("hints"), height, width)
    reference = given.get("reference")
    colorizer.check_guidance(points, reference)
    shape = (height, width) if full else preview_shape(height, width)
    ab_norm = photo.ab_norm(points, colorizer.palette_of(reference), shape)
    return lab.merge_l_ab(photo.lightness_at(shape), ab_norm, bits=bits if full else 8)


# --- video jobs ---------------------------------------------------------------------------------


class Cancelled(Exception):
    """The server is stopping: a running video job ends (and its file is removed)."""


@dataclass
class VideoJob:
    id: str
    state: str = "queued"  # queued, running, done, failed
    done: int = 0
    total: int | None = None
    error: str | None = None
    result: str | None = None  # the workspace file's name once done

    def as_dict(self):
        return {"state": self.state, "done": self.done, "total": self.total, "error": self.error,
                "url": f"/files/{self.result}" if self.result else None}


@dataclass
class VideoJobs:
    """Video colorizations, one at a time on a worker thread, in the order they came."""

    workspace: Workspace
    jobs: dict = field(default_factory=dict)
    worker: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="video"))
    stopping: threading.Event = field(default_factory=threading.Event)

    def start(self, source, **options):
        job = VideoJob(secrets.token_hex(16))
        self.jobs[job.id] = job
        self.worker.submit(self._run, job, source, options)
        return job

    def _run(self, job, source, options):
        output = self.workspace.new_path(".mp4")

        def on_progress(done, total):
            if self.stopping.is_set():
                raise Cancelled()
            job.done, job.total = done, total

        job.state = "running"
        try:
            colorize.video(source, output, progress=False, on_progress=on_progress, **options)
            job.result, job.state = output.name, "done"
        except Cancelled:
            job.state, job.error = "failed", "the server stopped"
        except InputError as error:
            job.state, job.error = "failed", str(error)
        except Exception as error:  # the page says so; the server keeps serving
            job.state, job.error = "failed", f"colorizing the video failed ({type(error).__name__}: {error})"

    def stop(self):
        self.stopping.set()
        self.worker.shutdown(wait=True, cancel_futures=True)


# --- the application ----------------------------------------------------------------------------


def create_app(workspace, default_model=cli.DEFAULT_MODEL, limits=None):
    """The FastAPI application serving the page and its API from `workspace`."""
    limits = limits or Limits()
    models = available_models(default_model)
    videos = VideoJobs(workspace)
    photos = PreparedPhotos(workspace)
    network = threading.Lock()  # one photo through the network at a time: bounded memory, any number of browsers

    @contextlib.asynccontextmanager
    async def lifespan(app):
        threading.Thread(target=_warm_up, args=(default_model, network), daemon=True).start()
        yield
        videos.stop()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(InputError)
    async def input_error(request, error):
        return JSONResponse({"error": str(error)}, status_code=400)

    @app.exception_handler(Exception)
    async def unexpected_error(request, error):
        return JSONResponse({"error": f"something went wrong ({type(error).__name__}: {error})"}, status_code=500)

    for route, (name, media_type) in PAGE_FILES.items():
        app.add_api_route(route, _page_file(PAGE / name, media_type), methods=["GET"])

    @app.get("/api/models")
    def list_models():
        return {"models": models, "default": default_model, "max_pixels": limits.max_pixels,
                "max_upload_bytes": limits.max_upload_bytes}

    @app.post("/api/upload")
    async def upload(request: Request):
        path, filename = await receive_upload(request, workspace, limits)
        try:
            description = await run_in_threadpool(describe_upload, path, filename, limits)  # decoding takes a while
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return {"id": path.name, "name": filename, **description}

    @app.post("/api/colorize")
    def colorize_photo(request: dict):
        """The photo's preview (at most PREVIEW_SIDE px, 8-bit) as an uncompressed BMP (encoded in a hundredth of the
        time a PNG takes, and the page runs on this computer), or with "full": true its full-size result as a PNG
        in the input's depth (16 bits for a 16-bit upload) with its metadata (shared/photo_files.py)."""
        model, temperature = _model(request, models), parse_temperature(request.get("temperature"))
        neutral_lean = parse_neutral_lean(request.get("neutral_lean"))
        given, full = guidance(request, workspace), bool(request.get("full"))
        with network:
            photo, source = photos.get(request.get("id", ""), model, temperature, neutral_lean)
            result = render(photo, given, full, source.bits)
        if full:
            encoded = photo_files.encode_photo(result, ".png", source, photo_files.software_tag(model))
            return Response(encoded, media_type="image/png")
        return Response(_bmp_bytes(result), media_type="image/bmp")

    @app.post("/api/suggest")
    def suggest(request: dict):
        if not hasattr(colorize, "suggest"):
            return JSONResponse({"error": "this version cannot suggest colours yet; pick one with the colour picker"},
                                status_code=501)
        given = guidance(request, workspace)
        with network:
            photo, _ = photos.get(request.get("id", ""), _model(request, models), None)
            x, y = int(request["x"]), int(request["y"])
            hints.check_points([(x, y, (0, 0, 0))], *photo.l_channel.shape)
            points = hints.check_points(given.get("hints"), *photo.l_channel.shape)
            colors = photo.suggest(x, y, SUGGESTIONS, points, photo.colorizer.palette_of(given.get("reference")))
        return {"colors": [hex_color(rgb) for rgb in colors]}

    @app.post("/api/video")
    def start_video(request: dict):
        source = workspace.path_of(request.get("id", ""))
        job = videos.start(source, model=_model(request, models), temperature=parse_temperature(request.get("temperature")),
                           neutral_lean=parse_neutral_lean(request.get("neutral_lean")),
                           side_by_side=bool(request.get("side_by_side")))
        return {"job": job.id}

    @app.get("/api/video/{job_id}")
    def video_progress(job_id: str):
        job = videos.jobs.get(job_id)
        if job is None:
            return JSONResponse({"error": "no such video job"}, status_code=404)
        return job.as_dict()

    @app.get("/files/{name}")
    def workspace_file(name: str):
        try:
            path = workspace.path_of(name)
        except InputError as error:
            return JSONResponse({"error": str(error)}, status_code=404)
        return FileResponse(path, media_type="video/mp4" if path.suffix == ".mp4" else None)

    return app


def _page_file(path, media_type):
    def serve():
        return Response(path.read_bytes(), media_type=media_type, headers={"Cache-Control": "no-cache"})
    return serve


def _model(request, models):
    model = request.get("model") or models[0]
    if model not in models:
        raise InputError(f"unknown model {model!r}; this page offers {', '.join(models)}")
    return model


def _bmp_bytes(rgb):
    ok, encoded = cv2.imencode(".bmp", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("OpenCV could not encode the BMP")
    return encoded.tobytes()


def _warm_up(model, network):
    """Load the default model and trace its per-photo and hinted paths before the first photo comes, so that
    the first photo and its first hint answer at once."""
    with contextlib.suppress(Exception), network:
        colorize.colorizer(model, None).warm_up()  # the arguments as PreparedPhotos gives them: the same cached one


class Server(uvicorn.Server):
    """uvicorn's server, but Ctrl-C (or SIGTERM) only stops it: uvicorn re-raises the signal once it has
    stopped, which interrupts the event loop as it closes and prints a traceback."""

    @contextlib.contextmanager
    def capture_signals(self):
        previous = {number: signal.signal(number, self.handle_exit) for number in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)


def serve(app, sock):
    """Serve `app` on the listening socket `sock` until Ctrl-C (or SIGTERM); a second Ctrl-C does not wait
    for requests in progress."""
    Server(uvicorn.Config(app, log_level="warning", access_log=False)).run(sockets=[sock])
