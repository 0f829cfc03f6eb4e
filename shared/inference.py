"""Applying a trained model: L in, ab out, at any image size.

A model with a fixed input size (beta, full_version: 128 or 256 px square) sees L
resized to that size; its ab is upsampled back to the image's size and merged with
the image's own full-resolution L. A fully-convolutional model (alpha) sees L at
full size, padded to a multiple of its total stride. Everything inference needs is
read from the saved model itself (shared/layers.py, shared/ab_bins.py).
"""

import zipfile
from pathlib import Path

import cv2
import keras
import numpy as np

from shared import ab_bins, accel, cli, hints, lab
from shared.data import InputError
from shared.layers import embedding_of, total_stride


def pad_to_multiple(image, multiple):
    """Mirror-pad an HxW[xC] image at the bottom and right so both sides divide by `multiple`."""
    pad_h, pad_w = (-image.shape[0]) % multiple, (-image.shape[1]) % multiple
    return np.pad(image, ((0, pad_h), (0, pad_w)) + ((0, 0),) * (image.ndim - 2), mode="symmetric")


UNCHANGED = object()  # set_restraint: leave this setting as it is (None is a value there: restraint off)


class Colorizer:
    """Wraps a trained Keras model: `predict_ab` maps L images to ab at their own sizes."""

    def __init__(self, model, batch_size=8):
        self.model, self.batch_size = model, batch_size
        l_input = dict(zip(hints.input_names(model), model.inputs)).get("l_norm", model.inputs[0])
        height, width = l_input.shape[1:3]
        self.working_size = (height, width) if height and width else None  # None: fully convolutional
        self.min_side = total_stride(model)
        if embedding_of(model) == "imagenet":
            raise InputError(f"{model.name} takes InceptionResNetV2's class scores, which the project no longer "
                             "computes (its weights could not be had offline): train a new one with "
                             "`python full_version/train.py` or use the shipped full_version")
        self.takes_hints = hints.takes_hints(model)
        self.hint_regions = True  # bound each hint's change by the photo's edges (hints.HintRegions); False: the priors alone
        # the guided path reads the automatic logits before the neutral lean (where a model has one): a colour the
        # user gives, and the suggestions, are not pulled toward grey; False: the saved model's own (leaned) logits
        self.unleaned_guidance = True
        self._logits_model = None  # inputs -> bin logits, made on first `suggest`
        self._automatic = automatic_part(model)  # for images with no hint or palette, where a model has one
        # the parts add nodes to the model's layers, so a wrapped model can no longer be saved: save it before
        self._parts = split_at_guidance(model)  # (per-photo part, guided part, guided logits), where the model splits so

    def set_temperature(self, temperature):
        """A new annealed-mean temperature for a classification model, for the calls that follow."""
        set_temperature(self.model, temperature, self.model.name)
        self._trace_again()

    def set_restraint(self, neutral_prior=None, midpoint=UNCHANGED, width=None):
        """A classification model's restraint (shared/ab_bins.py's annealed_mean), for the calls that follow."""
        set_restraint(self.model, neutral_prior, midpoint, width, self.model.name)
        self._trace_again()

    def set_neutral_lean(self, strength):
        """How far whole scenes lean toward grey (0: the network's own colours, 1: as fitted), for the calls
        that follow."""
        set_neutral_lean(self.model, strength, self.model.name)
        self._trace_again()

    def _trace_again(self):
        for model in (self.model, self._automatic, *(self._parts or ())):
            if model is not None:
                model.predict_function = None  # the decoding is traced into the compiled step: trace again

    def _predict(self, l_norm, hint_maps=None, palettes=None):
        """ab_norm batch for a batch of l_norm and its guidance; a batch given no hint and no palette goes
        through the automatic part alone, where the model has one."""
        guided = ((hint_maps is not None and hint_maps[..., 2].any())
                  or (palettes is not None and palettes[:, -1].any()))
        if self._automatic is not None and not guided:
            model, inputs = self._automatic, l_norm
        elif self._parts is not None and guided:  # the per-photo part, then the guided part on the logits it chooses
            guidance = self.network_inputs(l_norm, hint_maps, palettes)
            kept = self.guidance_features(predicted(self._parts[0], l_norm))
            return np.asarray(predicted(self._parts[1], [*kept, guidance["hints"], guidance["palette"]]))
        else:
            model, inputs = self.model, self.network_inputs(l_norm, hint_maps, palettes)
        if self.working_size is None:  # sizes vary: an eager call traces no graph per new size
            return keras.ops.convert_to_numpy(model(inputs, training=False))
        return keras.ops.convert_to_numpy(model.predict_on_batch(inputs))  # one size: the compiled step is faster

    def guidance_features(self, per_photo_outputs):
        """The per-photo part's outputs (`split_at_guidance`) -> what its guided part reads: the kept tensors, the
        automatic logits before the neutral lean in place of those after it where `unleaned_guidance`."""
        *kept, _automatic_ab, unleaned_logits = per_photo_outputs
        return [*kept[:-1], unleaned_logits] if self.unleaned_guidance else kept

    def check_size(self, height, width, name="image"):
        if min(height, width) < self.min_side:
            raise InputError(
                f"{name} is {width}x{height} px; this model needs at least {self.min_side}x{self.min_side}"
            )

    def network_inputs(self, l_norm, hint_maps=None, palettes=None):
        """The model's inputs for a batch of l_norm (N, h, w, 1): with a model that takes hints, the hint
        maps (N, h, w, 3) and palettes (N, n_bins + 1), none where not given."""
        if not self.takes_hints:
            return l_norm
        count, size = len(l_norm), l_norm.shape[1:3]
        no_hints = np.zeros((count, *size, hints.HINT_CHANNELS), np.float32)
        no_palette = np.zeros((count, hints.PALETTE_SIZE), np.float32)
        return {"l_norm": l_norm, "hints": no_hints if hint_maps is None else hint_maps,
                "palette": no_palette if palettes is None else palettes}

    def check_guidance(self, points, reference):
        if (points or reference is not None) and not self.takes_hints:
            raise InputError(f"{self.model.name} does not take hints or a reference palette: use a model trained "
                             "with them (the shipped full_version)")

    def guidance_inputs(self, indices, l_channels, points, palette):
        """Hint maps and palettes for the images `indices` (None where nothing is given); `palette` is
        `hints.reference_palette` of the reference, or None."""
        hint_maps = palettes = None
        if points is not None:
            hint_maps = np.stack([hints.hint_map(points[i], l_channels[i].shape, self.working_size) for i in indices])
        if palette is not None:
            palettes = np.repeat(palette[None], len(indices), axis=0)
        return hint_maps, palettes

    @staticmethod
    def palette_of(reference):
        return None if reference is None else hints.reference_palette(reference)

    def predict_ab(self, l_channels, points=None, reference=None, at_image_size=True):
        """L images (each HxW, L in [0, 100]) -> ab_norm images (each HxWx2, in [-1, 1]).

        `points`: per image a list of checked hints (x, y, (r, g, b)) in its own pixels
        (shared/hints.py); `reference`: uint8 RGB whose colours set every image's palette.
        Only models that take hints accept them. at_image_size=False leaves a fixed-size model's ab
        at the size it comes out (its working size), for `lab.merge_l_ab` to scale up once, after
        whatever else works at a smaller size (video frames)."""
        self.check_guidance(points and any(points), reference)
        palette = self.palette_of(reference)  # once for every batch
        results = [None] * len(l_channels)
        hinted = [i for i in range(len(l_channels)) if points is not None and points[i]] if self.takes_hints else []
        for i in hinted:  # one at a time: each hint's region is the photo's own
            self.check_size(*l_channels[i].shape)
            photo = PreparedPhoto(self, l_channels[i])
            results[i] = photo.ab_norm(points[i], palette, None if at_image_size else self.working_size)
        unhinted = [i for i in range(len(l_channels)) if i not in set(hinted)]
        for indices, batch in self._batches([l_channels[i] for i in unhinted]):
            indices = [unhinted[i] for i in indices]
            guidance = self.guidance_inputs(indices, l_channels, points, palette)
            ab_batch = np.asarray(self._predict(batch, *guidance), np.float32)  # bfloat16 models answer in bfloat16
            for i, ab_norm in zip(indices, ab_batch):
                height, width = l_channels[i].shape
                if self.working_size is None:
                    results[i] = ab_norm[:height, :width]
                elif not at_image_size:
                    results[i] = ab_norm
                else:
                    results[i] = cv2.resize(ab_norm, (width, height), interpolation=cv2.INTER_LINEAR)
        return results

    def _batches(self, l_channels):
        """(indices, l_norm batch) groups: same-size images together, at most batch_size each."""
        groups = {}
        for i, l_channel in enumerate(l_channels):
            self.check_size(*l_channel.shape)
            groups.setdefault(l_channel.shape, []).append(i)
        for indices in groups.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                batch = np.stack([self._prepare(l_channels[i]) for i in chunk])
                yield chunk, batch

    def _prepare(self, l_channel):
        l_norm = np.asarray(l_channel, np.float32) / lab.L_SCALE
        if self.working_size is None:
            l_norm = pad_to_multiple(l_norm, self.min_side)
        else:
            height, width = self.working_size
            shrink = height < l_norm.shape[0] or width < l_norm.shape[1]
            interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
            l_norm = cv2.resize(l_norm, (width, height), interpolation=interpolation)
        return l_norm[..., None]

    def colorize(self, rgb_images, points=None, reference=None):
        """Colour or grayscale RGB images -> colorized RGB, uint8, or uint16 for uint16 images (their own
        16-bit L kept); only their lightness is used. `points` and `reference` as in `predict_ab`."""
        l_channels = [lab.rgb_to_l(rgb) for rgb in rgb_images]
        ab_norms = self.predict_ab(l_channels, points, reference)
        return [lab.merge_l_ab(l, ab, bits=16 if np.asarray(rgb).dtype == np.uint16 else 8)
                for l, ab, rgb in zip(l_channels, ab_norms, rgb_images)]

    def suggest(self, rgb, x, y, k=8, points=None, reference=None):
        """The k most likely colours at pixel (x, y) of one image, as 8-bit RGB at that pixel's lightness,
        most likely first: the bins of the predicted distribution there (classification models)."""
        l_channel = lab.rgb_to_l(rgb)
        hints.check_points([(x, y, (0, 0, 0))], *l_channel.shape)
        self.check_size(*l_channel.shape)
        return PreparedPhoto(self, l_channel).suggest(x, y, k, points, self.palette_of(reference))

    def logits_model(self):
        """inputs -> bin logits (classification models); InputError for a regression model."""
        if ab_bins.decoding_layer(self.model) is None:
            raise InputError(f"{self.model.name} predicts one colour per pixel (regression): it has no "
                             "distribution to suggest colours from")
        if self._logits_model is None:
            self._logits_model = keras.Model(self.model.inputs, ab_bins.decoding_layer(self.model).input)
        return self._logits_model

    def warm_up(self):
        """Trace the per-photo and the guided part once and make the suggestions' model, so that a photo's first
        hint and first click do not wait for them."""
        side = self.working_size[0] if self.working_size else self.min_side
        photo = PreparedPhoto(self, np.full((side, side), 50.0, np.float32))
        if self.takes_hints:
            photo.ab_norm([(0, 0, (200, 30, 30))])
        if ab_bins.decoding_layer(self.model) is not None:
            photo.suggest(0, 0)


class PreparedPhoto:
    """One photo's work that hints do not change, done once: its lightness at the network's size, the
    network's per-photo part (features, automatic logits and colours) and its hint regions; each call of
    `ab_norm` then runs only the part of the network that hints change, and measures only new hints'
    regions. What the page keeps per uploaded photo; `Colorizer.predict_ab` makes one per hinted photo."""

    def __init__(self, colorizer, l_channel):
        self.colorizer, self.l_channel = colorizer, np.asarray(l_channel, np.float32)
        self.l_norm = colorizer._prepare(self.l_channel)[None]
        if colorizer._parts is not None:
            self._per_photo = predicted(colorizer._parts[0], self.l_norm)
            automatic = self._per_photo[-2]
        else:
            self._per_photo, automatic = None, colorizer._predict(self.l_norm)
        self.automatic = np.asarray(automatic, np.float32)[0]
        if colorizer.working_size is None:  # a fully-convolutional model's padding goes
            self.automatic = self.automatic[: self.l_channel.shape[0], : self.l_channel.shape[1]]
        self._regions = None
        self._guides = {}

    @property
    def features(self):
        """What the guided part reads besides the guidance (`Colorizer.guidance_features`); None for a model that
        does not split."""
        return None if self._per_photo is None else self.colorizer.guidance_features(self._per_photo)

    @property
    def unleaned_logits(self):
        """The automatic logits before the neutral lean (h, w, n_bins), where the model splits; else None."""
        return None if self._per_photo is None else np.asarray(self._per_photo[-1], np.float32)[0]

    @property
    def decoder_features(self):
        """The decoder's last features (h, w, C) at the logits' cells, what hint regions compare; None for a model
        that does not split."""
        return None if self._per_photo is None else np.asarray(self._per_photo[GUIDANCE_SPLIT.index("decoder_4b")], np.float32)[0]

    def region_colours(self):
        """The automatic colours hint regions compare (ab_norm): decoded from the logits before the neutral lean where
        the guided path reads those (a lean toward grey hides what the network colours differently), else the
        automatic ones."""
        if self.unleaned_logits is None or not self.colorizer.unleaned_guidance:
            return self.automatic
        decoding = ab_bins.decoding_layer(self.colorizer.model)
        return np.asarray(keras.ops.convert_to_numpy(decoding(self.unleaned_logits[None])), np.float32)[0]

    @property
    def regions(self):
        if self._regions is None:
            self._regions = hints.HintRegions(self.l_channel, self.region_colours(), automatic_logits=self.unleaned_logits,
                                              features=self.decoder_features)
        return self._regions

    def guided_ab(self, points, palette=None):
        """ab_norm at the network's size given checked points and a palette input (or None)."""
        colorizer = self.colorizer
        hint_maps, palettes = colorizer.guidance_inputs([0], [self.l_channel], [points], palette)
        if self.features is None:
            ab_norm = np.asarray(colorizer._predict(self.l_norm, hint_maps, palettes), np.float32)[0]
            return ab_norm[: self.l_channel.shape[0], : self.l_channel.shape[1]] if colorizer.working_size is None else ab_norm
        guidance = colorizer.network_inputs(self.l_norm, hint_maps, palettes)
        return np.asarray(predicted(colorizer._parts[1], [*self.features, guidance["hints"], guidance["palette"]]),
                          np.float32)[0]

    def ab_norm(self, points=None, palette=None, shape=None):
        """ab_norm (H, W, 2) at `shape` (default: the photo's) given checked points and a palette input: the
        colours without the points, plus each point's change within its region (`Colorizer.hint_regions`)."""
        shape = tuple(shape or self.l_channel.shape)
        base = self.automatic if palette is None else self.guided_ab([], palette)
        if not points:
            return at_size(base, shape)
        hinted = self.guided_ab(points, palette)
        if not self.colorizer.hint_regions:
            return at_size(hinted, shape)
        return self.regions.bound(at_size(base, shape), at_size(hinted, shape), points, self.lightness_at(shape))

    def suggest(self, x, y, k=8, points=None, palette=None):
        """The k most likely colours at pixel (x, y), as 8-bit RGB at its lightness, most likely first."""
        colorizer = self.colorizer
        colorizer.check_guidance(points, palette)
        hint_maps, palettes = colorizer.guidance_inputs([0], [self.l_channel], [points or []], palette)
        inputs = colorizer.network_inputs(self.l_norm, hint_maps, palettes)
        if self.features is not None:  # the guided logits on the logits the guided part reads (no lean, by default)
            logits = predicted(colorizer._parts[2], [*self.features, inputs["hints"], inputs["palette"]])
        else:
            logits = keras.ops.convert_to_numpy(colorizer.logits_model()(inputs, training=False))
        logits = np.asarray(logits, np.float32)[0]
        row, col = hints.cell_of(x, y, self.l_channel.shape, logits.shape[:2])
        best_bins = np.argsort(-logits[row, col])[:k]
        ab_norm = (ab_bins.BINS[best_bins] / lab.AB_SCALE).astype(np.float32)[:, None, :]
        lightness = np.full((len(best_bins), 1), self.l_channel[y, x], np.float32)
        return [tuple(int(c) for c in rgb_row[0]) for rgb_row in lab.merge_l_ab(lightness, ab_norm)]

    def lightness_at(self, shape):
        """The photo's L at `shape` (kept: a preview asks for the same size again)."""
        if shape == self.l_channel.shape:
            return self.l_channel
        if shape not in self._guides:
            shrink = shape[0] < self.l_channel.shape[0]
            self._guides[shape] = cv2.resize(self.l_channel, shape[::-1],
                                             interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        return self._guides[shape]


def at_size(ab_norm, shape):
    return ab_norm if ab_norm.shape[:2] == shape else cv2.resize(ab_norm, shape[::-1], interpolation=cv2.INTER_LINEAR)


def predicted(model, inputs):
    """A model's outputs (numpy, a list for several) for one batch, through its compiled step."""
    outputs = model.predict_on_batch(inputs)
    if isinstance(outputs, (list, tuple)):
        return [keras.ops.convert_to_numpy(output) for output in outputs]
    return keras.ops.convert_to_numpy(outputs)


GUIDANCE_SPLIT = ("decoder_4b", "affinity_features", "l_at_8", "automatic_logits")  # full_version/model.py


def split_at_guidance(model):
    """For a model built as full_version/model.py builds it: (l_norm -> the tensors the guidance path
    reads, the automatic ab_norm and the automatic logits before the neutral lean (the same as after it in a
    model without one); those tensors + hints + palette -> the guided ab_norm; the same -> the guided logits),
    so that a photo's hints rerun only the second. The last tensor read, the automatic logits, may be given
    before the lean (`Colorizer.unleaned_guidance`). None for any other model."""
    names = {layer.name for layer in model.layers}
    if automatic_part(model) is None or not set(GUIDANCE_SPLIT) <= names:
        return None
    inputs = dict(zip(hints.input_names(model), model.inputs))
    kept = [model.get_layer(name).output for name in GUIDANCE_SPLIT]
    per_photo = keras.Model(inputs["l_norm"], [*kept, automatic_ab(model), model.get_layer("ab_logits").output],
                            name=f"{model.name}_per_photo")
    guidance = [*kept, inputs["hints"], inputs["palette"]]
    guided = keras.Model(guidance, model.outputs[0], name=f"{model.name}_guided")
    guided_logits = keras.Model(guidance, ab_bins.decoding_layer(model).input, name=f"{model.name}_guided_logits")
    return per_photo, guided, guided_logits


def automatic_part(model):
    """For a model whose hint path adds exactly nothing without guidance (full_version/model.py): the
    same layers from l_norm to ab through its automatic logits, skipping the hint path and the priors.
    None for any other model."""
    names = {layer.name for layer in model.layers}
    if not {"only_with_guidance", "ab_logits", "to_input_size"} <= names:
        return None
    l_input = dict(zip(hints.input_names(model), model.inputs))["l_norm"]
    return keras.Model(l_input, automatic_ab(model), name=f"{model.name}_automatic")


def automatic_ab(model):
    """The tensor of a full_version model's automatic ab_norm: its automatic logits (after the neutral lean,
    where the model has one) decoded and scaled to the input's size, as the guided ones are."""
    names = {layer.name for layer in model.layers}
    automatic_logits = "neutral_lean" if "neutral_lean" in names else "ab_logits"
    ab_norm = ab_bins.decoding_layer(model)(model.get_layer(automatic_logits).output)
    return model.get_layer("to_input_size")(ab_norm)


def load_model(model, loader=None):
    """A tier name or a .keras path -> the Keras model, or an InputError naming the train command.

    Says in one line which file it uses: for a tier, the user's own models/<tier>.keras, else the shipped one.
    """
    path = cli.model_path(model)
    if not path.exists():
        raise InputError(f"no trained model at {path}: train one with `{cli.train_command(model)}`")
    keras_model = (loader or load_keras_file)(path)
    shipped = model in cli.TIERS and path == cli.shipped_model_path(model)
    print(f"model: {path}" + (f" (shipped; `{cli.train_command(model)}` trains your own)" if shipped else ""))
    return keras_model


def load_keras_file(path, compile=False):
    """An existing .keras file -> the Keras model; InputError saying it is corrupt when it is not one."""
    if Path(path).is_dir():
        raise InputError(f"{path} is a folder, not a .keras model file")
    if not zipfile.is_zipfile(path):  # Keras itself would say "file not found"
        raise InputError(f"{path} is corrupt or not a Keras model (not a .keras zip archive)")
    try:
        return keras.models.load_model(path, compile=compile)
    except Exception as error:
        raise InputError(f"{path} is corrupt or not a Keras model ({error})") from error


def load_for_inference(path, precision):
    """An existing .keras file -> the model as accel.for_inference makes it, built once from the file where
    its layout allows (accel.load_for_inference), else loaded and then folded."""
    if Path(path).is_dir() or not zipfile.is_zipfile(path):
        return load_keras_file(path)  # raises its InputError
    try:
        return accel.load_for_inference(path, precision)
    except Exception:  # another layout, or broken: Keras's own loader (its InputError), then the fold
        return accel.for_inference(load_keras_file(path), precision)


def set_temperature(keras_model, temperature, name="the model"):
    """Set a classification model's annealed-mean temperature; a regression model has none to set."""
    decoding = ab_bins.decoding_layer(keras_model)
    if decoding is None:
        raise InputError(
            f"--temperature applies only to models trained with --loss classification; {name} was trained "
            "with --loss regression and predicts one colour per pixel"
        )
    if not temperature > 0:
        raise InputError(f"--temperature must be positive, got {temperature}")
    decoding.temperature = float(temperature)


def set_restraint(keras_model, neutral_prior=None, midpoint=UNCHANGED, width=None, name="the model"):
    """Set a classification model's decoding restraint (AnnealedMean): the neutral prior (True/False),
    the entropy midpoint (None turns the per-pixel restraint off) and its width; what is not given stays."""
    decoding = ab_bins.decoding_layer(keras_model)
    if decoding is None:
        raise InputError(f"the neutral prior and the restraint apply only to classification models; {name} was "
                         "trained with --loss regression and predicts one colour per pixel")
    if neutral_prior is not None:
        decoding.neutral_prior = bool(neutral_prior)
    if midpoint is not UNCHANGED:
        decoding.restraint_midpoint = None if midpoint is None else float(midpoint)
    if width is not None:
        if not width > 0:
            raise InputError(f"the restraint width must be positive, got {width}")
        decoding.restraint_width = float(width)


def set_neutral_lean(keras_model, strength, name="the model"):
    """Scale a model's learned lean toward grey (ab_bins.NeutralLean): 0 the network's own colours, 1 the full fit."""
    lean = ab_bins.neutral_lean_layer(keras_model)
    if lean is None:
        raise InputError(f"--neutral-lean applies only to models with a neutral lean (the shipped full_version); "
                         f"{name} has none")
    if not strength >= 0:
        raise InputError(f"--neutral-lean must be 0 or more, got {strength}")
    lean.strength = float(strength)


def load_colorizer(model, batch_size=8, temperature=None, precision=accel.COLORIZING_PRECISION, neutral_lean=None):
    """A tier name or .keras path -> a Colorizer, its BatchNorms folded into their convolutions (the same
    colours, faster: shared/layers.py); `temperature` (classification models only) sets the annealed
    mean's temperature: lower is more vivid, higher calmer (default 0.38, Zhang et al.);
    `precision`: what the network computes in (shared/accel.py; auto: bfloat16 on CPUs with native
    bfloat16, where it is about 2x faster and gives the same evaluation table, else float32);
    `neutral_lean` (models with a neutral lean only) scales it: 0 the network's own colours, 1 the full fit."""
    keras_model = load_model(model, loader=lambda path: load_for_inference(path, precision))
    if temperature is not None:
        set_temperature(keras_model, temperature, cli.model_path(model))
    if neutral_lean is not None:
        set_neutral_lean(keras_model, neutral_lean, keras_model.name)
    return Colorizer(keras_model, batch_size=batch_size)
