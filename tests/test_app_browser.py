"""The page in a real browser: headless Chromium (Debian's package, `apt-get install -y chromium`; .ci/run
installs it) driven by Playwright against `python shared/app.py`. Writes only into temporary folders: docs/app.png is
made by docs/app_screenshot.py, whose steps one test here runs into a temporary file."""

import base64
import importlib.util
import io
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image

from conftest import REPO_ROOT
from shared import lab
from test_app import PHOTO, make_clip, start_server, stop_server

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("browser-server") / "server.log")
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"no {CHROMIUM}: apt-get install -y chromium (.ci/run does)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
        yield browser
        browser.close()


class Visit:
    """One browser session on the page, with every URL it requested."""

    def __init__(self, browser, server):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page = self.context.new_page()
        self.requested = []
        self.page.on("request", lambda request: self.requested.append(request.url))
        self.page.goto(server.url)
        self.page.wait_for_selector("#model option", state="attached")

    def hosts(self):
        return {urlsplit(url).hostname for url in self.requested if urlsplit(url).scheme not in ("blob", "data")}

    def open_file(self, path):
        self.page.set_input_files("#file", str(path))

    def wait_for_result(self, previous=None):
        """Wait until the result shown is a new one; its image file's bytes."""
        self.wait_for_new_result(previous)
        return self.result_png()

    def wait_for_new_result(self, previous=None):
        """Wait until the result shown is a new one."""
        self.page.wait_for_function(
            "([previous]) => { const img = document.getElementById('result-image');"
            " return img.src && img.src !== previous && img.complete && img.naturalWidth > 0"
            " && document.getElementById('status').textContent.startsWith('colorized in'); }",
            arg=[previous or ""],
        )

    def result_src(self):
        return self.page.eval_on_selector("#result-image", "img => img.src")

    def result_png(self):
        encoded = self.page.evaluate(
            "async () => { const blob = await (await fetch(document.getElementById('result-image').src)).blob();"
            " const bytes = new Uint8Array(await blob.arrayBuffer()); let text = '';"
            " for (const b of bytes) text += String.fromCharCode(b); return btoa(text); }"
        )
        return base64.b64decode(encoded)

    def message(self):
        return self.page.text_content("#message") if self.page.is_visible("#message") else None

    def close(self):
        self.context.close()
        assert self.hosts() <= {"127.0.0.1"}, self.hosts()  # no fonts, scripts or analytics from elsewhere


@pytest.fixture
def visit(browser, server):
    visit = Visit(browser, server)
    yield visit
    visit.close()


def as_rgb(png_bytes):
    return np.asarray(Image.open(io.BytesIO(png_bytes)).convert("RGB"))


def mean_chroma(rgb):
    return float(np.hypot(*np.moveaxis(lab.rgb_to_lab(rgb)[..., 1:], -1, 0)).mean())


def ab_at(rgb, x, y, radius=2):
    patch = rgb[y - radius : y + radius + 1, x - radius : x + radius + 1]
    return lab.rgb_to_lab(patch)[..., 1:].reshape(-1, 2).mean(axis=0)


def gray_photo(tmp_path):
    path = tmp_path / "dune_gray.png"
    Image.open(PHOTO).convert("L").save(path)
    return path


def test_a_photo_is_colorized_the_temperature_changes_it_and_it_downloads(visit, tmp_path):
    visit.open_file(gray_photo(tmp_path))
    first = as_rgb(visit.wait_for_result())
    assert first.shape == (320, 512, 3)
    assert mean_chroma(first) > 3  # colour from a grayscale photo
    assert visit.page.eval_on_selector_all("#model option", "options => options.map(o => o.value)")[:2] == [
        "full_version", "beta"]  # the default first

    shown = visit.result_src()
    visit.page.locator("#temperature").fill("0.1")
    vivid = as_rgb(visit.wait_for_result(shown))
    assert mean_chroma(vivid) > mean_chroma(first) + 1

    with visit.page.expect_download() as download:
        visit.page.click("#download")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "dune_gray_colorized.png"
    np.testing.assert_array_equal(as_rgb(saved.read_bytes()), vivid)

    shown = visit.result_src()
    visit.page.locator("#neutral-lean").fill("0")  # the network's own colours: the dune is not leaned grey
    own = as_rgb(visit.wait_for_result(shown))
    assert mean_chroma(own) > mean_chroma(vivid) + 1


def pick_farthest_suggestion(visit, x, y, shown):
    """Click (x, y) on the input, wait for the suggestions and pick the one farthest in ab from the colour
    `shown` there; (its #rrggbb, its ab)."""
    visit.page.click("#input-image", position={"x": x, "y": y})  # shown at its own size: css px = photo px
    visit.page.wait_for_selector("#suggestions .swatch")
    colors = visit.page.eval_on_selector_all("#suggestions .swatch", "swatches => swatches.map(s => s.dataset.color)")
    assert len(colors) == 8
    targets = {color: lab.rgb_to_lab(np.array([[[int(color[i:i + 2], 16) for i in (1, 3, 5)]]], np.uint8))[0, 0, 1:]
               for color in colors}
    chosen = max(targets, key=lambda color: np.linalg.norm(targets[color] - ab_at(shown, x, y)))
    visit.page.click(f"#suggestions .swatch[data-color='{chosen}']")
    return chosen, targets[chosen]


def test_a_click_shows_suggestions_and_a_model_without_hints_says_so(visit, tmp_path):
    visit.page.select_option("#model", "beta")  # beta takes no hints (the default, full_version, does)
    visit.open_file(gray_photo(tmp_path))
    shown = as_rgb(visit.wait_for_result())
    chosen, _ = pick_farthest_suggestion(visit, 150, 200, shown)
    visit.page.wait_for_selector("#message", state="visible")
    assert "beta does not take hints" in visit.message()
    assert visit.page.locator(".hint-layer .hint-dot").count() == 2  # drawn on the input and on the result
    assert chosen in visit.page.text_content("#hints li")
    shown = visit.result_src()  # taken before the click: a kept photo colorizes again within milliseconds
    visit.page.click("#hints li button")  # removed: the photo colorizes again
    visit.wait_for_result(shown)
    assert visit.page.locator("#hints li").count() == 0 and visit.page.locator(".hint-dot").count() == 0
    assert visit.message() is None


def test_click_pick_a_suggested_colour_and_the_colour_there_changes(visit, tmp_path):
    visit.page.select_option("#model", "full_version")
    visit.open_file(gray_photo(tmp_path))
    before = as_rgb(visit.wait_for_result())
    x, y = 150, 200
    shown = visit.result_src()
    chosen, target = pick_farthest_suggestion(visit, x, y, before)
    after = as_rgb(visit.wait_for_result(shown))
    assert np.linalg.norm(ab_at(after, x, y) - target) < 0.5 * np.linalg.norm(ab_at(before, x, y) - target)
    assert visit.page.locator("#hints li").count() == 1


def test_the_docs_screenshot_script_shows_a_colorized_photo_with_its_hint(browser, server, tmp_path):
    spec = importlib.util.spec_from_file_location("app_screenshot", REPO_ROOT / "docs" / "app_screenshot.py")
    app_screenshot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app_screenshot)
    shot = app_screenshot.take_screenshot(browser, server.url, gray_photo(tmp_path), tmp_path / "app.png")
    page = np.asarray(Image.open(shot).convert("RGB"))
    assert page.shape == (900, 1280, 3)
    assert mean_chroma(page[320:620, 570:1060]) > 3  # the colorized photo is on it, in colour


def test_a_click_hint_on_a_12_megapixel_upload_updates_the_preview_within_a_second(visit, tmp_path):
    scan = tmp_path / "scan.jpg"
    Image.open(PHOTO).convert("L").resize((4000, 3000), Image.BICUBIC).save(scan, quality=90)
    visit.open_file(scan)
    assert as_rgb(visit.wait_for_result()).shape == (960, 1280, 3)  # the preview, not the 12 MP result
    visit.page.click("#input-image", position={"x": 300, "y": 200})
    visit.page.wait_for_selector("#suggestions .swatch")
    shown = visit.result_src()
    start = time.perf_counter()
    visit.page.click("#suggestions .swatch >> nth=0")
    visit.wait_for_new_result(shown)
    seconds = time.perf_counter() - start
    print(f"12 MP upload: hint clicked to preview shown in {seconds:.2f} s ({visit.page.text_content('#status')})")
    assert seconds <= 1.0
    assert visit.page.eval_on_selector("#change-layer", "layer => layer.classList.contains('fading')")


def test_a_clip_is_colorized_into_a_video_that_plays(visit, tmp_path):
    visit.open_file(make_clip(tmp_path / "clip.mp4", frames=12))
    visit.page.wait_for_selector("#start-video", state="visible")
    visit.page.check("#side-by-side")
    visit.page.click("#start-video")
    assert visit.page.is_visible("#video-progress")  # while it works (loading the model alone takes seconds)
    visit.page.wait_for_selector("#video-result", state="visible")
    assert not visit.page.is_visible("#video-progress")
    playback = visit.page.evaluate(
        "async () => { const v = document.getElementById('video-result');"
        " if (v.readyState < 2) await new Promise((ok, fail) => { v.onloadeddata = ok; v.onerror = () => fail(v.error.message); });"
        " await v.play(); await new Promise(ok => setTimeout(ok, 300)); v.pause();"
        " return {width: v.videoWidth, height: v.videoHeight, duration: v.duration, time: v.currentTime}; }"
    )
    assert (playback["width"], playback["height"]) == (256, 96)  # side by side with the grayscale input
    assert 1.0 < playback["duration"] < 1.5 and playback["time"] > 0  # 12 frames at 10 fps, and it played
    assert visit.page.get_attribute("#video-download", "href").startswith("/files/")
    assert visit.message() is None


def test_a_bad_upload_shows_a_message_and_the_page_works_afterwards(visit, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture\n")
    visit.open_file(notes)
    visit.page.wait_for_selector("#message", state="visible")
    assert "notes.txt is neither an image nor a video" in visit.message()

    cut = tmp_path / "cut.jpg"
    cut.write_bytes(PHOTO.read_bytes()[:6000])
    visit.open_file(cut)
    visit.page.wait_for_function("document.getElementById('message').textContent.includes('cut.jpg')")
    assert "damaged or cut short" in visit.message()

    visit.open_file(gray_photo(tmp_path))
    assert as_rgb(visit.wait_for_result()).shape == (320, 512, 3)
    assert visit.message() is None


def test_two_browsers_at_once_both_get_their_photo(browser, server, tmp_path):
    visits = [Visit(browser, server) for _ in range(2)]
    try:
        Image.open(PHOTO).convert("L").resize((256, 160)).save(small := tmp_path / "small.png")
        for visit, path in zip(visits, (gray_photo(tmp_path), small)):
            visit.open_file(path)
        shapes = [as_rgb(visit.wait_for_result()).shape for visit in visits]
        assert shapes == [(320, 512, 3), (160, 256, 3)]
    finally:
        for visit in visits:
            visit.close()
