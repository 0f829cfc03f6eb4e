// The colorizing page: every request goes to the server that served it, nothing elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  upload: null,        // {id, kind, width, height, name} of the photo or video shown
  hints: [],           // [{x, y, color: "#rrggbb"}], x column, y row in the photo's own pixels
  reference: null,     // upload id of the reference photo
  temperature: null,   // null: the model's own
  neutralLean: null,   // null: the model's own
  pick: null,          // {x, y} of the point being given a colour
  resultUrl: null,
  fullUrl: null,       // the full-size result for the download, made once when asked for
  colorizing: 0,       // the latest colorize request's number; older answers are dropped
  limits: {pixels: Infinity, bytes: Infinity},  // the server's, once it has said them
};

// --- talking to the server ---------------------------------------------------------------------

async function call(path, body) {
  const response = await fetch(path, {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(await errorText(response));
  return response;
}

async function errorText(response) {
  try { return (await response.json()).error; } catch { return `the server answered ${response.status}`; }
}

async function upload(file) {
  if (file.size > state.limits.bytes) {  // said before sending it all; the server refuses it too
    throw new Error(`${file.name} is larger than this page's limit of ${state.limits.bytes / 2 ** 20} MiB`);
  }
  const response = await fetch("/api/upload", {
    method: "POST", body: file, headers: {"X-Filename": encodeURIComponent(file.name).replace(/%20/g, " ")},
  });
  if (!response.ok) throw new Error(await errorText(response));
  return response.json();
}

function options() {
  const chosen = {model: $("model").value};
  if (state.temperature !== null) chosen.temperature = state.temperature;
  if (state.neutralLean !== null) chosen.neutral_lean = state.neutralLean;
  return chosen;
}

function guidance() {  // hints and reference only when given: a model without them works until then
  const given = {};
  if (state.hints.length) given.hints = state.hints;
  if (state.reference) given.reference = state.reference;
  return given;
}

// --- messages ----------------------------------------------------------------------------------

function showError(error) {
  $("message").textContent = error.message || String(error);
  $("message").hidden = false;
  $("status").textContent = "";
}

function clearError() { $("message").hidden = true; }
function status(text) { $("status").textContent = text; }

// --- photos ------------------------------------------------------------------------------------

async function openFile(file) {
  clearError();
  status(`uploading ${file.name}...`);
  let described;
  try {
    described = await upload(file);
  } catch (error) { showError(error); return; }
  state.upload = described;
  state.hints = [];
  state.pick = null;
  $("picker").hidden = true;
  renderHints();
  $("photo").hidden = described.kind !== "image";
  $("video").hidden = described.kind !== "video";
  if (described.kind === "image") {
    $("input-image").src = URL.createObjectURL(file);
    await colorizePhoto();
  } else {
    $("video-name").textContent = `${described.name}: ${described.width}x${described.height}` +
      (described.frames ? `, ${described.frames} frames` : "");
    $("video-result").hidden = $("video-download").hidden = $("video-progress").hidden = true;
    status("");
  }
}

// The server sends a preview (at most 1280 px a side); the full-size result is made once, when downloaded.
async function colorizePhoto({highlight = false} = {}) {
  if (!state.upload || state.upload.kind !== "image") return;
  const number = ++state.colorizing;
  const started = performance.now();
  status("colorizing...");
  const body = {id: state.upload.id, ...options(), ...guidance()};
  try {
    const blob = await (await call("/api/colorize", body)).blob();
    if (number !== state.colorizing) return;
    const previous = highlight && $("result-image").complete ? $("result-image") : null;
    const shown = await loadImage(URL.createObjectURL(blob));
    if (number !== state.colorizing) return;
    if (previous) highlightChange(previous, shown);
    if (state.resultUrl) URL.revokeObjectURL(state.resultUrl);
    if (state.fullUrl) URL.revokeObjectURL(state.fullUrl);
    state.resultUrl = shown.src;
    state.fullUrl = null;
    $("result-image").src = state.resultUrl;
    $("download").download = state.upload.name.replace(/\.[^.]*$/, "") + "_colorized.png";
    clearError();
    status(`colorized in ${((performance.now() - started) / 1000).toFixed(2)} s`);
  } catch (error) {
    if (number === state.colorizing) showError(error);
  }
}

function loadImage(url) {
  const image = new Image();
  return new Promise((resolve, reject) => {
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error("the result could not be shown"));
    image.src = url;
  });
}

// Where the colours changed by more than a little, tinted and outlined over the result, fading out.
const CHANGE_THRESHOLD = 12;  // summed RGB levels: smaller changes are not drawn

function highlightChange(before, after) {
  const {naturalWidth: width, naturalHeight: height} = after;
  if (before.naturalWidth !== width || before.naturalHeight !== height) return;
  const pixels = (image) => {
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext("2d");
    context.drawImage(image, 0, 0);
    return context.getImageData(0, 0, width, height).data;
  };
  const [old, now] = [pixels(before), pixels(after)];
  const changed = new Uint8Array(width * height);
  for (let i = 0; i < changed.length; i++) {
    const j = 4 * i;
    changed[i] = Math.abs(old[j] - now[j]) + Math.abs(old[j + 1] - now[j + 1]) + Math.abs(old[j + 2] - now[j + 2])
      > CHANGE_THRESHOLD ? 1 : 0;
  }
  const layer = $("change-layer");
  layer.width = width;
  layer.height = height;
  const context = layer.getContext("2d");
  const drawn = context.createImageData(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!changed[i]) continue;
      const edge = x === 0 || y === 0 || x === width - 1 || y === height - 1
        || !changed[i - 1] || !changed[i + 1] || !changed[i - width] || !changed[i + width];
      drawn.data.set(edge ? [255, 255, 255, 255] : [255, 255, 255, 70], 4 * i);
    }
  }
  context.putImageData(drawn, 0, 0);
  layer.classList.remove("fading");
  void layer.offsetWidth;  // restart the fade
  layer.classList.add("fading");
}

async function download(event) {  // the full-size result, made once for this photo and these hints
  if (state.fullUrl) return;  // the link already holds it
  event.preventDefault();
  const number = state.colorizing;
  status("making the full-size result...");
  try {
    const body = {id: state.upload.id, ...options(), ...guidance(), full: true};
    const blob = await (await call("/api/colorize", body)).blob();
    if (number !== state.colorizing) return;
    state.fullUrl = URL.createObjectURL(blob);
    $("download").href = state.fullUrl;
    status(`full size: ${state.upload.width}x${state.upload.height}`);
    $("download").click();
  } catch (error) { showError(error); }
}

// --- hints -------------------------------------------------------------------------------------

function imagePoint(event) {  // in the photo's own pixels, whatever size the image shown has
  const image = event.currentTarget;
  const {width, height} = state.upload;
  const x = Math.floor(event.offsetX * width / image.clientWidth);
  const y = Math.floor(event.offsetY * height / image.clientHeight);
  return {x: Math.min(Math.max(x, 0), width - 1), y: Math.min(Math.max(y, 0), height - 1)};
}

async function pickAt(point) {
  state.pick = point;
  $("picker").hidden = false;
  $("picker-title").textContent = `Colour at (${point.x}, ${point.y}):`;
  $("suggestions").replaceChildren();
  const body = {id: state.upload.id, x: point.x, y: point.y, model: $("model").value, ...guidance()};
  try {
    const {colors} = await (await call("/api/suggest", body)).json();
    if (state.pick !== point) return;
    $("picker-title").textContent = `Colour at (${point.x}, ${point.y}): the model's likeliest, most likely first`;
    for (const color of colors) {
      const swatch = document.createElement("button");
      swatch.className = "swatch";
      swatch.style.background = color;
      swatch.title = swatch.dataset.color = color;
      swatch.setAttribute("aria-label", `use ${color}`);
      swatch.addEventListener("click", () => addHint(color));
      $("suggestions").append(swatch);
    }
  } catch (error) {
    $("picker-title").textContent = `Colour at (${point.x}, ${point.y}): ${error.message}`;
  }
}

function addHint(color) {
  if (!state.pick) return;
  state.hints.push({x: state.pick.x, y: state.pick.y, color});
  state.pick = null;
  $("picker").hidden = true;
  renderHints();
  colorizePhoto({highlight: true});
}

function removeHint(index) {
  state.hints.splice(index, 1);
  renderHints();
  colorizePhoto();
}

function renderHints() {
  const list = $("hints");
  list.replaceChildren();
  state.hints.forEach((hint, index) => {
    const item = document.createElement("li");
    const chip = document.createElement("span");
    chip.className = "chip";
    chip.style.background = hint.color;
    const remove = document.createElement("button");
    remove.textContent = "remove";
    remove.addEventListener("click", () => removeHint(index));
    item.append(chip, ` ${hint.color} at (${hint.x}, ${hint.y}) `, remove);
    list.append(item);
  });
  $("clear-hints").disabled = state.hints.length === 0;
  for (const layer of document.querySelectorAll(".hint-layer")) {
    layer.replaceChildren(...state.hints.map((hint) => {
      const dot = document.createElement("span");
      dot.className = "hint-dot";
      dot.style.background = hint.color;
      dot.style.left = `${100 * (hint.x + 0.5) / state.upload.width}%`;
      dot.style.top = `${100 * (hint.y + 0.5) / state.upload.height}%`;
      return dot;
    }));
  }
}

async function setReference(file) {
  clearError();
  try {
    const described = await upload(file);
    if (described.kind !== "image") throw new Error(`${file.name} is not a photo`);
    state.reference = described.id;
    $("clear-reference").hidden = false;
    await colorizePhoto();
  } catch (error) { showError(error); }
}

// --- videos ------------------------------------------------------------------------------------

async function colorizeVideo() {
  clearError();
  $("start-video").disabled = true;
  $("video-result").hidden = $("video-download").hidden = true;
  $("video-progress").hidden = false;
  $("video-progress").removeAttribute("value");  // indeterminate until the first frames are done
  status("colorizing the video...");
  try {
    const body = {id: state.upload.id, side_by_side: $("side-by-side").checked, ...options()};
    const {job} = await (await call("/api/video", body)).json();
    const result = await followJob(job);
    $("video-result").src = $("video-download").href = result.url;
    $("video-result").hidden = $("video-download").hidden = false;
    status(`video colorized: ${result.done} frames`);
  } catch (error) { showError(error); }
  $("video-progress").hidden = true;
  $("start-video").disabled = false;
}

async function followJob(job) {
  for (;;) {
    const response = await fetch(`/api/video/${job}`);
    if (!response.ok) throw new Error(await errorText(response));
    const progress = await response.json();
    if (progress.state === "done") return progress;
    if (progress.state === "failed") throw new Error(progress.error);
    if (progress.total) {
      $("video-progress").value = progress.done / progress.total;
      status(`colorizing the video: frame ${progress.done} of ${progress.total}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

// --- wiring ------------------------------------------------------------------------------------

async function loadModels() {
  const response = await fetch("/api/models");
  const {models, default: chosen, max_pixels: pixels, max_upload_bytes: bytes} = await response.json();
  for (const name of models) $("model").append(new Option(name, name, name === chosen, name === chosen));
  state.limits = {pixels, bytes};
  $("limits").textContent = `up to ${pixels / 1e6} megapixels and ${bytes / 2 ** 20} MiB`;
}

$("file").addEventListener("change", (event) => event.target.files[0] && openFile(event.target.files[0]));
for (const [name, handler] of [
  ["dragover", (event) => { event.preventDefault(); $("drop").classList.add("over"); }],
  ["dragleave", () => $("drop").classList.remove("over")],
  ["drop", (event) => {
    event.preventDefault();
    $("drop").classList.remove("over");
    if (event.dataTransfer.files[0]) openFile(event.dataTransfer.files[0]);
  }],
]) $("drop").addEventListener(name, handler);
$("model").addEventListener("change", colorizePhoto);
$("temperature").addEventListener("input", (event) => { $("temperature-value").textContent = event.target.value; });
$("temperature").addEventListener("change", (event) => {
  state.temperature = Number(event.target.value);
  colorizePhoto();
});
$("neutral-lean").addEventListener("input", (event) => { $("neutral-lean-value").textContent = event.target.value; });
$("neutral-lean").addEventListener("change", (event) => {
  state.neutralLean = Number(event.target.value);
  colorizePhoto();
});
for (const id of ["input-image", "result-image"]) $(id).addEventListener("click", (event) => pickAt(imagePoint(event)));
$("add-custom").addEventListener("click", () => addHint($("custom-color").value));
$("cancel-pick").addEventListener("click", () => { state.pick = null; $("picker").hidden = true; });
$("clear-hints").addEventListener("click", () => { state.hints = []; renderHints(); colorizePhoto(); });
$("reference").addEventListener("change", (event) => event.target.files[0] && setReference(event.target.files[0]));
$("clear-reference").addEventListener("click", () => {
  state.reference = null;
  $("reference").value = "";
  $("clear-reference").hidden = true;
  colorizePhoto();
});
$("start-video").addEventListener("click", colorizeVideo);
$("download").addEventListener("click", download);
loadModels().catch(showError);
