"""Fit full_version's neutral lean (shared/ab_bins.py's NeutralLean) in closed form: how far each whole scene
leans toward grey, predicted from its pooled ImageNet features, on photos the colorizer never trained on.

    python scripts/fit_neutral_lean.py full_version/pretrained.keras models/fv_refit.keras

Gradient descent hardly moves the lean in a short fine-tune: the rebalanced loss pulls the colourful photos'
many rare colours one way and the neutral photos' few grey ones the other. So it is fitted directly. Not on
the colorizer's training photos: there its colours are right by construction (it learned them), so every
training photo, the grey ones too, "needs" almost no lean, and a regression fitted there learns to lean
little (the first fit did: 11 of 14 neutral validation photos stayed below the grayscale input). Instead:
1. the photos: the landscapes' held-out split (as train.py splits them) and --fit-images (default
   datasets/calibration, 55 photos gathered for this, and datasets/neutral/val), none of which the
   colorizer trained on; at the training size, their pooled features and automatic logits (without
   the lean), once;
2. per photo, the lean g (of a grid) whose decoding (--temperature, --neutral-prior) lies nearest the
   original's ab (mean squared ab error at the logits' size): 0 for a photo whose colours are right,
   large for a grey scene the network paints;
3. a ridge regression from the standardised features to softplus^-1(g) / gain, its strength chosen by
   leave-one-out (each photo's lean predicted by the ridge fitted on all the others; the least mean
   squared ab error, each group of photos counting alike);
4. the ridge of that strength on all of them, written into the lean's kernel and bias; every other
   weight stays as trained.
The test photos (datasets/landscapes/test, datasets/unlike, datasets/neutral/test) never enter.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from full_version.model import NEUTRAL_LEAN  # noqa: E402
from shared import ab_bins, cli, data, hints, inference, lab, training  # noqa: E402

LEANS = np.array([0.0, 0.1, 0.2, 0.4, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0, 40.0])
RIDGE_STRENGTHS = (1.0, 10.0, 100.0, 1e3, 1e4, 1e5)
FIT_IMAGES = (cli.DATASETS / "calibration", cli.DATASETS / "neutral" / "val")
SMALLEST_LEAN = 0.02  # softplus^-1 of 0 is -inf: the target floor


def photo_arrays(model, paths, image_size):
    """(pooled features (n, C), automatic logits before the lean (n, h, w, bins), true ab at the logits' size)."""
    probe = keras.Model(model.inputs, [model.get_layer("pool").output, model.get_layer("ab_logits").output])
    pooled, logits, true_ab = [], [], []
    for _, rgb in data.read_images(paths):
        small = cv2.resize(rgb, (image_size, image_size), interpolation=cv2.INTER_AREA)
        lab_image = lab.rgb_to_lab(small)
        inputs = {"l_norm": (lab_image[..., :1] / 100.0)[None].astype(np.float32),
                  "hints": np.zeros((1, image_size, image_size, hints.HINT_CHANNELS), np.float32),
                  "palette": np.zeros((1, hints.PALETTE_SIZE), np.float32)}
        vector, cell_logits = (keras.ops.convert_to_numpy(x) for x in probe(inputs, training=False))
        pooled.append(vector[0])
        logits.append(cell_logits[0].astype(np.float32))
        side = cell_logits.shape[1]
        true_ab.append(cv2.resize(lab_image[..., 1:], (side, side), interpolation=cv2.INTER_AREA))
    return np.array(pooled), np.array(logits), np.array(true_ab)


def decoded_errors(logits, true_ab, leans, temperature, neutral_prior, per_photo=False):
    """(n, len(leans)): mean squared ab error of each photo decoded with each lean of the grid `leans`; with
    per_photo, (n,): each photo with its own lean, leans[i]. (Said, not guessed from the lengths: a grid as long as
    the photos are many is still a grid.)"""
    squared = (ab_bins.BINS**2).sum(-1) / (2.0 * ab_bins.NEUTRAL_LEAN_SIGMA**2)
    prior = ab_bins.NEUTRAL_LOG_PRIOR if neutral_prior else 0.0
    leans = np.asarray(leans, np.float64)
    grid = leans[:, None] if per_photo else np.broadcast_to(leans, (len(logits), len(leans)))
    errors = np.zeros(grid.shape)
    for i in range(len(logits)):
        for j, lean in enumerate(grid[i]):
            probability = hints.softmax((logits[i] - lean * squared) / temperature + prior)
            errors[i, j] = float(((probability @ ab_bins.BINS - true_ab[i]) ** 2).sum(-1).mean())
    return errors[:, 0] if per_photo else errors


def softplus_inverse(value):
    return np.log(np.expm1(np.maximum(value, SMALLEST_LEAN)))


def ridge(features, targets, strength):
    """(weights, bias) on raw features for a ridge regression fitted on standardised ones."""
    mean, scale = features.mean(0), features.std(0) + 1e-6
    standard = (features - mean) / scale
    centre = targets.mean()
    weights = np.linalg.solve(standard.T @ standard + strength * np.eye(standard.shape[1]),
                              standard.T @ (targets - centre))
    return weights / scale, centre - float((weights / scale) @ mean)


def predicted_leans(regression, gain):
    """The leans g = softplus(gain * r) of the regression's outputs r, as NeutralLean computes them."""
    return np.logaddexp(0.0, gain * regression)


def leave_one_out(features, targets, strength):
    """Each photo's target predicted by a ridge fitted on all the others (n,)."""
    predictions = np.zeros(len(targets))
    for i in range(len(targets)):
        others = np.arange(len(targets)) != i
        weights, bias = ridge(features[others], targets[others], strength)
        predictions[i] = features[i] @ weights + bias
    return predictions


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a trained full_version .keras with a neutral lean")
    parser.add_argument("destination", type=Path)
    parser.add_argument("--images", type=Path, nargs="+", default=list(training.DEFAULT_TRAINING_IMAGES),
                        help="what train.py split: its held-out share is fitted on (default: %(default)s)")
    parser.add_argument("--fit-images", type=Path, nargs="+", default=list(FIT_IMAGES),
                        help="further photos the colorizer never trained on (default: %(default)s)")
    parser.add_argument("--val-share", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=192)
    parser.add_argument("--temperature", type=float, default=2.0)
    parser.add_argument("--neutral-prior", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--restraint-midpoint", type=float, help="the decoding's restraint in the written model")
    parser.add_argument("--ridge-strength", type=float, help="write the fit of this strength (default: the one chosen)")
    args = parser.parse_args(argv)

    model = inference.load_keras_file(args.source)
    lean = model.get_layer(NEUTRAL_LEAN)
    _, held_out = data.split_validation(training.list_training_images(args.images), args.val_share, seed=args.seed)
    groups = {"held-out split": held_out}
    groups.update({str(source): training.list_training_images([source]) for source in args.fit_images})
    arrays = {name: photo_arrays(model, paths, args.image_size) for name, paths in groups.items()}
    group_of = np.concatenate([[name] * len(arrays[name][0]) for name in groups])
    features, logits, true_ab = (np.concatenate([arrays[name][k] for name in groups]) for k in range(3))

    errors = decoded_errors(logits, true_ab, LEANS, args.temperature, args.neutral_prior)
    best = LEANS[errors.argmin(1)]
    print(f"{len(best)} photos the colorizer never trained on; best lean per photo: " +
          ", ".join(f"{value:g}: {int((best == value).sum())}" for value in LEANS))
    targets = softplus_inverse(best) / lean.gain

    def group_mean(per_photo):  # every group counts alike, whatever its size
        return float(np.mean([per_photo[group_of == name].mean() for name in groups]))

    print(f"  no lean: mean squared ab error {group_mean(errors[:, 0]):.1f}; the best lean of each photo: "
          f"{group_mean(errors.min(1)):.1f}")
    scores = {}
    for strength in RIDGE_STRENGTHS:
        leans = predicted_leans(leave_one_out(features, targets, strength), lean.gain)
        per_photo = decoded_errors(logits, true_ab, leans, args.temperature, args.neutral_prior,
                                   per_photo=True)
        scores[strength] = group_mean(per_photo)
        print(f"  ridge {strength:g}, leave-one-out: mean squared ab error {scores[strength]:.1f} (" +
              ", ".join(f"{name} {per_photo[group_of == name].mean():.1f}" for name in groups) + ")")
    strength = min(scores, key=scores.get)
    print(f"chosen ridge strength {strength:g} (the least leave-one-out error)")
    if args.ridge_strength is not None:
        strength = args.ridge_strength
        print(f"written: ridge strength {strength:g} (--ridge-strength)")
    weights, bias = ridge(features, targets, strength)

    lean.kernel.assign(weights[:, None].astype(np.float32))
    lean.bias.assign(np.array([bias], np.float32))
    decoding = ab_bins.decoding_layer(model)
    decoding.temperature, decoding.neutral_prior = args.temperature, bool(args.neutral_prior)
    decoding.restraint_midpoint = args.restraint_midpoint
    training.save_atomic(model, args.destination)
    print(f"wrote {args.destination}")
    return 0


if __name__ == "__main__":
    main()
