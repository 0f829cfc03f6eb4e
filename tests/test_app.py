"""The page's server, started as a user starts it (python shared/app.py), checked over HTTP: bad
uploads, paths outside its folder, concurrent clients and memory, and its temporary files.
tests/test_app_browser.py drives the page itself in Chromium against the same kind of server."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import REPO_ROOT, colour_image, write_image
from shared import video

PHOTO = REPO_ROOT / "datasets" / "landscapes" / "test" / "dune.jpg"  # 512x320
TEST_LIMITS = ["--max-megapixels", "1", "--max-upload-mb", "3"]


@dataclass
class Server:
    url: str
    folder: Path  # its temporary files
    process: subprocess.Popen
    log: Path


def start_server(log_path, *flags):
    """`python shared/app.py --port 0 ...` in a subprocess, once it answers; its address and folder from what it prints."""
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "shared/app.py", "--port", "0", *flags], cwd=REPO_ROOT,
                                   stdout=log, stderr=subprocess.STDOUT, text=True,
                                   env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    try:
        return _wait_until_serving(process, Path(log_path))
    except BaseException:  # not left running: Ctrl-C (it removes its folder), else kill
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        raise


def _wait_until_serving(process, log_path, timeout_s=180):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        printed = log_path.read_text()
        address = re.search(r"colorize page: (http://\S+)", printed)
        folder = re.search(r"temporary files: (\S+)", printed)
        if address and folder:
            server = Server(address.group(1), Path(folder.group(1)), process, log_path)
            status, _ = get(server, "/api/models")
            assert status == 200
            return server
        assert process.poll() is None, f"the server exited: {printed}"
        time.sleep(0.2)
    raise AssertionError(f"the server did not start: {log_path.read_text()}")


def stop_server(server):
    """Ctrl-C, as a user stops it; its exit code."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
    return server.process.wait(timeout=60)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("server") / "server.log", *TEST_LIMITS)
    yield server
    stop_server(server)


def request(server, method, path, body=None, headers=None):
    """(status, body bytes) of one request; errors are answers too."""
    if isinstance(body, dict):
        body, headers = json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})}
    call = urllib.request.Request(server.url + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(call, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def get(server, path):
    return request(server, "GET", path)


def upload(server, data, filename):
    status, body = request(server, "POST", "/api/upload", data, {"X-Filename": filename})
    return status, json.loads(body)


def colorize(server, upload_id, **options):
    return request(server, "POST", "/api/colorize", {"id": upload_id, **options})


def gray_png_bytes(height=96, width=128):
    rgb = colour_image(height, width)
    gray = np.asarray(Image.fromarray(rgb).convert("L"))
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"gray-{os.getpid()}-{height}x{width}.png"
    write_image(path, gray)
    data = path.read_bytes()
    path.unlink()
    return data


def mean_chroma(png_bytes):
    from shared import lab

    rgb = np.asarray(Image.open(__import__("io").BytesIO(png_bytes)).convert("RGB"))
    return float(np.hypot(*np.moveaxis(lab.rgb_to_lab(rgb)[..., 1:], -1, 0)).mean())


def assert_still_serving(server):
    status, photo = upload(server, gray_png_bytes(), "after.png")
    assert status == 200
    status, body = colorize(server, photo["id"])
    assert status == 200 and body.startswith(b"BM")


# --- photos ---------------------------------------------------------------------------------------


def test_a_photo_is_colorized_at_its_own_size(server):
    status, photo = upload(server, PHOTO.read_bytes(), "dune.jpg")
    assert status == 200
    assert photo["kind"] == "image" and (photo["width"], photo["height"]) == (512, 320)
    status, body = colorize(server, photo["id"])
    assert status == 200
    preview = Image.open(__import__("io").BytesIO(body))
    assert preview.format == "BMP" and preview.size == (512, 320)  # the preview: quick to make, and lossless
    assert mean_chroma(body) > 3  # colour, from the lightness alone
    status, body = colorize(server, photo["id"], full=True)
    result = Image.open(__import__("io").BytesIO(body))
    assert status == 200 and result.format == "PNG" and result.size == (512, 320)
    np.testing.assert_array_equal(np.asarray(result), np.asarray(preview))


def test_a_large_photo_is_shown_as_a_preview_and_downloads_at_full_size_with_its_hints(server):
    _, photo = upload(server, gray_png_bytes(700, 1300), "wide.png")  # 0.91 MP, under the test server's limit
    hint = [{"x": 650, "y": 350, "color": "#c81e1e"}]
    sizes = {full: Image.open(__import__("io").BytesIO(colorize(server, photo["id"], hints=hint, full=full)[1])).size
             for full in (False, True)}
    assert sizes == {False: (1280, 689), True: (1300, 700)}
    status, body = colorize(server, photo["id"], hints=[{"x": 1300, "y": 0, "color": "#c81e1e"}])
    assert status == 400 and "outside the 1300x700 image" in json.loads(body)["error"]


def test_a_16_bit_upload_downloads_at_16_bits(server):
    import cv2

    ramp = np.tile(np.linspace(2000, 60000, 400), (300, 1)).astype(np.uint16)  # a smooth 16-bit sky
    ok, encoded = cv2.imencode(".png", ramp)
    _, photo = upload(server, encoded.tobytes(), "scan16.png")
    status, body = colorize(server, photo["id"], full=True)
    result = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_UNCHANGED)
    assert status == 200 and result.dtype == np.uint16 and result.shape == (300, 400, 3)
    assert len(np.unique(result[..., 1])) > 1024  # its gradations kept
    preview = cv2.imdecode(np.frombuffer(colorize(server, photo["id"])[1], np.uint8), cv2.IMREAD_UNCHANGED)
    assert preview.dtype == np.uint8 and preview.shape == (300, 400, 3)  # what a screen shows


def test_lower_temperature_gives_more_vivid_colour(server):
    _, photo = upload(server, PHOTO.read_bytes(), "dune.jpg")
    chroma = {t: mean_chroma(colorize(server, photo["id"], temperature=t)[1]) for t in (0.1, 1.0)}
    assert chroma[0.1] > chroma[1.0] + 1


def test_the_neutral_lean_sets_how_grey_a_grey_scene_stays_and_beta_refuses_it(server):
    snow = REPO_ROOT / "datasets" / "neutral" / "train" / "stellarium-hurricane-ridge-snow-1.jpg"
    _, photo = upload(server, snow.read_bytes(), "snow.jpg")
    chroma = {s: mean_chroma(colorize(server, photo["id"], neutral_lean=s)[1]) for s in (0, 2)}
    assert chroma[0] > 2 * chroma[2], chroma
    status, body = colorize(server, photo["id"], model="beta", neutral_lean=0)
    assert status == 400 and "applies only to models with a neutral lean" in json.loads(body)["error"]

def test_the_models_offered_are_the_shipped_tiers_and_another_is_refused(server):
    status, body = get(server, "/api/models")
    offered = json.loads(body)
    assert status == 200 and {"beta", "full_version"} <= set(offered["models"]) and offered["default"] == "full_version"
    _, photo = upload(server, PHOTO.read_bytes(), "dune.jpg")
    status, body = colorize(server, photo["id"], model="full_version")
    assert status == 200 and body.startswith(b"BM")
    status, body = colorize(server, photo["id"], model="/etc/passwd")
    assert status == 400 and "unknown model" in json.loads(body)["error"]


# --- bad input ------------------------------------------------------------------------------------


def test_bad_uploads_get_a_message_and_the_server_keeps_serving(server, tmp_path):
    big = write_image(tmp_path / "big.png", colour_image(1000, 1100))  # 1.1 megapixels, the limit here 1
    truncated = PHOTO.read_bytes()[:6000]
    cases = {
        "notes.txt": (b"not a picture at all\n" * 10, "neither an image nor a video"),
        "cut.jpg": (truncated, "damaged or cut short"),
        "big.png": (big.read_bytes(), "limit for a photo is 1 megapixels"),
        "huge.bin": (os.urandom(3 * 2**20 + 1), "larger than this page's limit of 3 MiB"),
        "empty.png": (b"", "is empty"),
    }
    for name, (data, message) in cases.items():
        status, answer = upload(server, data, name)
        assert status == 400 and message in answer["error"] and name in answer["error"], (name, answer)
    assert_still_serving(server)


def test_hints_for_a_model_without_them_are_a_message(server):
    _, photo = upload(server, gray_png_bytes(), "photo.png")
    status, body = colorize(server, photo["id"], model="beta", hints=[{"x": 3, "y": 4, "color": "#ff0000"}])
    assert status == 400 and "does not take hints" in json.loads(body)["error"]
    status, body = colorize(server, photo["id"], model="beta", hints=[{"x": 3, "y": 4, "color": "red"}])
    assert status == 400 and "not a colour like" in json.loads(body)["error"]


def test_colorize_with_an_unknown_or_expired_id_is_refused(server):
    status, body = colorize(server, "0" * 32 + ".png")
    assert status == 400 and "upload it again" in json.loads(body)["error"]


def test_no_path_outside_its_temporary_folder_can_be_fetched(server):
    attempts = ["/files/..%2F..%2F..%2Fetc%2Fpasswd", "/files/%2e%2e/%2e%2e/etc/passwd", "/files/../../etc/passwd",
                "/files/..%2Fapp.py", "/app.js/../../shared/app.py", "/..%2Fshared%2Fapp.py", "/shared/app.py",
                "/files/" + "0" * 32 + ".png", f"/files/{'%2e' * 2}%2f{PHOTO.name}", "/files/~/.bashrc",
                "/files/%00.png"]
    secrets = [Path("/etc/passwd").read_bytes(), (REPO_ROOT / "shared" / "app.py").read_bytes()]
    for path in attempts:
        url = urllib.parse.quote(path, safe="/%.~") if "%" not in path else path
        status, body = request(server, "GET", url)
        assert status == 404, (path, status)
        assert not any(secret[:200] in body for secret in secrets), path


def test_an_uploaded_file_is_served_only_under_its_own_name(server):
    _, clip = upload(server, make_clip(Path(server.folder).parent / f"clip-{os.getpid()}.mp4").read_bytes(), "clip.mp4")
    assert clip["kind"] == "video"
    assert (server.folder / clip["id"]).is_file()
    status, body = get(server, f"/files/{clip['id']}")
    assert status == 200 and body == (server.folder / clip["id"]).read_bytes()


# --- video ----------------------------------------------------------------------------------------


def make_clip(path, frames=12, size="128x96"):
    """A short H.264 test clip (ffmpeg's test pattern)."""
    subprocess.run([video.ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size={size}:rate=10",
                    "-frames:v", str(frames), "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


def test_a_video_job_reports_progress_and_gives_an_h264_file(server, tmp_path):
    _, clip = upload(server, make_clip(tmp_path / "clip.mp4").read_bytes(), "clip.mp4")
    assert (clip["kind"], clip["width"], clip["height"], clip["frames"]) == ("video", 128, 96, 12)
    status, body = request(server, "POST", "/api/video", {"id": clip["id"], "side_by_side": True})
    job = json.loads(body)["job"]
    deadline, seen = time.monotonic() + 120, []
    while time.monotonic() < deadline:
        progress = json.loads(get(server, f"/api/video/{job}")[1])
        seen.append(progress["state"])
        if progress["state"] in ("done", "failed"):
            break
        time.sleep(0.3)
    assert progress["state"] == "done", progress
    assert progress["done"] == progress["total"] == 12
    status, mp4 = get(server, progress["url"])
    assert status == 200
    written = tmp_path / "result.mp4"
    written.write_bytes(mp4)
    assert "Video: h264" in subprocess.run([video.ffmpeg_exe(), "-hide_banner", "-i", str(written)],
                                           capture_output=True, text=True).stderr
    assert "256x96" in subprocess.run([video.ffmpeg_exe(), "-hide_banner", "-i", str(written)],
                                      capture_output=True, text=True).stderr  # side by side: twice as wide


# --- load -----------------------------------------------------------------------------------------


def rss_mib(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def test_four_concurrent_clients_all_succeed_and_memory_stays_flat(server):
    _, photo = upload(server, gray_png_bytes(240, 320), "load.png")

    def client(requests):
        return [colorize(server, photo["id"])[0] for _ in range(requests)]

    with ThreadPoolExecutor(4) as clients:
        statuses = [s for answers in clients.map(client, [5] * 4) for s in answers]
    assert statuses == [200] * 20
    before = rss_mib(server.process.pid)
    with ThreadPoolExecutor(4) as clients:
        statuses = [s for answers in clients.map(client, [25] * 4) for s in answers]
    after = rss_mib(server.process.pid)
    assert statuses == [200] * 100
    print(f"server memory: {before:.0f} MiB after 20 requests, {after:.0f} MiB after 100 more")
    assert after - before < 40, (before, after)


# --- the workspace and the command ----------------------------------------------------------------


def test_old_files_are_removed_as_new_ones_come():
    from shared import web

    with web.Workspace(lifetime_s=3600) as workspace:
        old = workspace.new_path(".png")
        old.write_bytes(b"x")
        os.utime(old, (time.time() - 7200,) * 2)
        recent = workspace.new_path(".png")
        recent.write_bytes(b"y")
        workspace.new_path(".png")
        assert not old.exists() and recent.exists()
        assert workspace.path_of(recent.name) == recent
        with pytest.raises(web.InputError):
            workspace.path_of("../" + recent.name)
    assert not workspace.folder.exists()


def test_default_limits_refuse_a_photo_above_50_megapixels(tmp_path):
    from shared import web

    path = tmp_path / "wide.png"
    Image.new("L", (10_000, 5_001)).save(path)
    with pytest.raises(web.InputError, match=r"10000x5001 px \(50.0 megapixels\); this page's limit for a photo is 50 megapixels"):
        web.describe_upload(path, "wide.png", web.Limits())


def test_a_taken_port_and_a_missing_model_are_one_line_errors(server):
    port = server.url.rsplit(":", 1)[1]
    for flags, message in ((["--port", port], f"cannot listen on 127.0.0.1 port {port}"),
                           (["--model", "models/none.keras"], "no trained model at models/none.keras")):
        result = subprocess.run([sys.executable, "shared/app.py", *flags], cwd=REPO_ROOT, capture_output=True,
                                text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
        assert result.returncode == 2
        assert result.stderr.startswith(f"error: {message}") and result.stderr.count("\n") == 1, result.stderr


def test_another_host_warns_that_the_page_has_no_login():
    process = subprocess.Popen([sys.executable, "shared/app.py", "--host", "0.0.0.0", "--port", "0"], cwd=REPO_ROOT,
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    try:
        first_line = process.stderr.readline()  # printed once the port is bound, before TensorFlow loads
    finally:
        process.kill()
        process.wait()
    assert first_line.startswith("warning: the page has no login; anyone who can reach 0.0.0.0 on port ")


def test_stopping_removes_its_temporary_files(server):
    """Last: it stops the module's server."""
    assert server.folder.is_dir() and any(server.folder.iterdir())
    assert stop_server(server) == 0
    assert not server.folder.exists()
    printed = server.log.read_text()
    assert printed.rstrip().endswith("stopped; temporary files removed") and "Traceback" not in printed, printed

