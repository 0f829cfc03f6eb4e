"""docs/app.png, the page's screenshot: a grayscale photo colorized by the shipped full_version with one hint (a
colour unlike the automatic one there, given with the page's colour picker, so that the outlined change shows), taken in headless Chromium (Debian's `chromium`) driven by Playwright (`pip install -e ".[test]"`).

    python docs/app_screenshot.py        # -> docs/app.png

It starts `python shared/app.py --port 0` for the shot and stops it afterwards.
"""

import argparse
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from shared import cli  # noqa: E402  (after the path, so this works as a script from anywhere)

PHOTO = cli.DATASETS / "landscapes" / "test" / "dune.jpg"  # 512x320
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 900}
HINT_AT = (150, 200)  # x, y on the photo: the dune grass, which the model colours straw-yellow
HINT_COLOUR = "#5f8f3a"  # a fresh green, clearly unlike the automatic colour there
TIMEOUT_MS = 120_000


def take_screenshot(browser, url, photo, output):
    """Open the page at `url` in `browser`, colorize `photo` (grayscale), add one hint of HINT_COLOUR at HINT_AT
    with the colour picker, and save the page (the changed area still outlined) as the PNG `output`."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector("#model option", state="attached")
        page.set_input_files("#file", str(photo))
        wait_for_new_result(page, previous="")
        page.click("#input-image", position={"x": HINT_AT[0], "y": HINT_AT[1]})
        page.wait_for_selector("#suggestions .swatch")
        shown = page.eval_on_selector("#result-image", "img => img.src")
        page.fill("#custom-color", HINT_COLOUR)
        page.click("#add-custom")
        wait_for_new_result(page, previous=shown)
        page.screenshot(path=str(output))
    finally:
        context.close()
    return Path(output)


def wait_for_new_result(page, previous):
    page.wait_for_function(
        "([previous]) => { const img = document.getElementById('result-image');"
        " return img.src && img.src !== previous && img.complete && img.naturalWidth > 0"
        " && document.getElementById('status').textContent.startsWith('colorized in'); }",
        arg=[previous],
    )


def gray_copy(photo, folder):
    from PIL import Image

    path = Path(folder) / f"{Path(photo).stem}_gray.png"
    Image.open(photo).convert("L").save(path)
    return path


def start_page(log):
    """`python shared/app.py --port 0` in a subprocess; (the process, its address) once it serves."""
    process = subprocess.Popen([sys.executable, str(REPO_ROOT / "shared" / "app.py"), "--port", "0"],
                               cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        printed = Path(log.name).read_text()
        address = re.search(r"colorize page: (http://\S+)", printed)
        if address:
            return process, address.group(1)
        if process.poll() is not None:
            raise RuntimeError(f"the page did not start:\n{printed}")
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("the page did not start within 180 s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("app.png"))
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise cli.InputError(f"no {CHROMIUM}: apt-get install -y chromium")
    with tempfile.TemporaryDirectory() as folder, open(Path(folder) / "page.log", "w") as log:
        process, url = start_page(log)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
                take_screenshot(browser, url, gray_copy(PHOTO, folder), args.output)
                browser.close()
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    cli.run(main)
