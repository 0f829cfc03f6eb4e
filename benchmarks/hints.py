"""How much user hints help: PSNR and AuC against the number of random hint points, a reference palette,
and how often the model's suggestions hold the true colour.

    python benchmarks/hints.py                      # the shipped full_version on datasets/landscapes/test
    python benchmarks/hints.py --model models/full_version.keras --points 0 1 2 5 10 20 50

Hints are sampled from the originals with a fixed seed: points uniform over the
photo, each the original's colour at that pixel (as a user who knows the true
colour would give it). Printed, with the machine:
- per number of points: PSNR, AuC and the share of hinted pixels whose output ab
  lies within 10 of the hint's;
- the original as the reference palette, without points;
- suggestions: at random points, how often a colour within 15 in ab of the true
  one is among the 8 suggested;
- the network's time for one hinted 512-px photo, model loaded (median of 10).

    python benchmarks/hints.py --tune    # the settings of shared/hints.py's priors, on the validation split

--tune measures a grid of the hint prior's settings (feature similarity tau,
lightness sigma, distance sigma, automatic-colour sigma) with 10 points (an
earlier grid without the colour term had tau 0.1-0.4 and distance sigma 0.15
behind at every setting: they are left out), then for the best of them how
sharp a hint's colour is (bin sigma), and the palette's strength with the
original as reference, on the photos train.py holds out for validation
(never the test photos); shared/hints.py's defaults were chosen with it: the
most PSNR with 10 points while at least 95% of hinted pixels follow their hint
(a margin over the 90% asked of the test photos) and one red hint moves at most
half a photo (a click should colour its object, not the whole scene), and the
palette strength with the best AuC.
"""

import argparse
import itertools
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from shared import cli, data, hints, inference, lab, metrics, training  # noqa: E402
from shared.hints import HINT_BIN_SIGMA  # noqa: E402

HINT_TOLERANCE = 10.0  # ab units: a hinted pixel "follows" its hint within this
SUGGESTION_TOLERANCE = 15.0  # ab units: a suggestion "is" the true colour within this
MAX_REACH = 0.5  # --tune: the share of a photo one hint may move at most (a click colours its object, not all)


def random_points(rgb, count, rng):
    """`count` points uniform over the photo, each with the original's colour there."""
    height, width = rgb.shape[:2]
    ys, xs = rng.integers(0, height, count), rng.integers(0, width, count)
    return [(int(x), int(y), tuple(int(c) for c in rgb[y, x])) for x, y in zip(xs, ys)]


def ab_at(rgb, points):
    """ab (len(points), 2) of `rgb` at the points."""
    pixels = np.array([[rgb[y, x] for x, y, _ in points]], np.uint8)
    return lab.rgb_to_lab(pixels)[0, :, 1:]


def hint_following(result, points):
    """The share of points whose output ab is within HINT_TOLERANCE of the hint's own ab."""
    hint_ab = np.array([hints.colour_ab_norm(c) * lab.AB_SCALE for _, _, c in points])
    return float(np.mean(np.linalg.norm(ab_at(result, points) - hint_ab, axis=1) <= HINT_TOLERANCE))


def measure(colorizer, photos, count, seed, reference=False):
    rng = np.random.default_rng(seed)
    rows, followed = [], []
    for rgb in photos:
        points = random_points(rgb, count, rng)
        (result,) = colorizer.colorize([rgb], [points] if points else None, rgb if reference else None)
        rows.append(metrics.image_metrics(result, rgb))
        if points:
            followed.append(hint_following(result, points))
    mean = {key: float(np.mean([row[key] for row in rows])) for key in ("psnr", "auc")}
    return mean, (float(np.mean(followed)) if followed else None)


CHANGED = 8.0  # ab units: a pixel a hint moves by more than this is "changed" (--locality)
WORSE = 2.0  # ab units: a changed pixel this much farther from the true colour than automatic is "worse"
LOCALITY_POINTS = 10  # true-colour hints per photo, each measured alone (3 left the worse share swinging 17-24%)
HINT_PATCH = 5  # px: a true-colour hint is the original's mean colour over this square


def true_colour_points(rgb, count, rng):
    """`count` points uniform over the photo, each the original's mean colour over the HINT_PATCH square there."""
    height, width = rgb.shape[:2]
    points, half = [], HINT_PATCH // 2
    for x, y, _ in random_points(rgb, count, rng):
        patch = rgb[max(y - half, 0) : y + half + 1, max(x - half, 0) : x + half + 1].reshape(-1, 3)
        points.append((x, y, tuple(int(round(c)) for c in patch.mean(axis=0))))
    return points


def locality_counts(automatic, hinted, true_ab):
    """One hint's effect, from ab (HxWx2) automatic, hinted and true: (pixels changed by more than CHANGED,
    of those the ones more than WORSE farther from the true colour, the mean ab error gained (negative: cut),
    the pixels)."""
    moved = np.linalg.norm(hinted - automatic, axis=-1) > CHANGED
    gained = np.linalg.norm(hinted - true_ab, axis=-1) - np.linalg.norm(automatic - true_ab, axis=-1)
    return int(moved.sum()), int((moved & (gained > WORSE)).sum()), float(gained.mean()), moved.size


def summarise_locality(counts):
    """[(changed, worse, gained, pixels), ...] one per hint -> (mean share changed, share of the changed pixels
    worse, pooled over the hints, mean ab error gained)."""
    changed, worse, gained, pixels = np.array(counts, np.float64).T
    return float(np.mean(changed / pixels)), float(worse.sum() / max(changed.sum(), 1)), float(gained.mean())


def locality(colorizer, photos, seed):
    """True-colour hints one at a time (LOCALITY_POINTS per photo): summarise_locality of them."""
    rng, counts = np.random.default_rng(seed), []
    for rgb, automatic in zip(photos, automatic_ab(colorizer, photos)):
        true_ab = lab.rgb_to_lab(rgb)[..., 1:]
        for point in true_colour_points(rgb, LOCALITY_POINTS, rng):
            (hinted,) = colorizer.colorize([rgb], [[point]])
            counts.append(locality_counts(automatic, lab.rgb_to_lab(hinted)[..., 1:], true_ab))
    return summarise_locality(counts)


def print_locality(colorizer, photos, seed):
    """Today's prior alone and with hint regions, in the same run: locality, 10-point PSNR, red-hint reach."""
    print(f"| spreading | one true-colour hint changes (>{CHANGED:.0f} ab) | of those, worse (>{WORSE:.0f} ab) | "
          "mean ab error gained | 10 points: PSNR gain (dB) | following | one red hint moves |\n"
          "|---|---|---|---|---|---|---|")
    automatic_psnr = measure(colorizer, photos, 0, seed)[0]["psnr"]
    unleaned = colorizer.unleaned_guidance
    rows = [("priors alone, on the leaned logits (the saved model's own guided path)", False, False),
            ("priors alone (before issue 29)", False, unleaned), ("priors and hint regions", True, unleaned)]
    for name, regions, colorizer.unleaned_guidance in rows[0 if unleaned else 1 :]:
        colorizer.hint_regions = regions
        changed, worse, gained = locality(colorizer, photos, seed)
        mean, followed = measure(colorizer, photos, 10, seed)
        reach = one_hint_reach(colorizer, photos, automatic_ab(colorizer, photos), seed)
        print(f"| {name} | {100 * changed:.1f}% | {100 * worse:.1f}% | {gained:+.2f} | "
              f"{mean['psnr'] - automatic_psnr:+.2f} | {100 * followed:.0f}% | {100 * reach:.0f}% |")


def worse_sources(colorizer, photos, seed):
    """Where the pixels one true-colour hint makes worse come from, with the shipped regions: the changed pixels
    (locality's hints, the same seed) split by which weight moved them (the region or the long reach), by how far
    they moved, by the network's share near the hint's colour there (`HintRegions.long_weight`) and by the gap
    between their automatic colour and the hinted pixel's: {group: (changed pixels, worse, summed ab gained)}."""
    rng, groups, was = np.random.default_rng(seed), {}, colorizer.hint_regions
    colorizer.hint_regions = False
    try:
        for rgb in photos:
            l_channel, true_ab = lab.rgb_to_l(rgb), lab.rgb_to_lab(rgb)[..., 1:]
            photo = inference.PreparedPhoto(colorizer, l_channel)
            automatic, regions = photo.ab_norm() * lab.AB_SCALE, photo.regions
            colours = cv2.resize(photo.region_colours(), l_channel.shape[::-1]) * lab.AB_SCALE
            for point in true_colour_points(rgb, LOCALITY_POINTS, rng):
                hinted = photo.ab_norm([point])
                bounded = regions.bound(automatic / lab.AB_SCALE, hinted, [point], l_channel) * lab.AB_SCALE
                (region, reach), = regions.weight_pairs([point])
                region, reach = (hints.weight_at_size(weight, l_channel) for weight in (region, reach))
                hint_ab = hints.colour_ab_norm(point[2]) * lab.AB_SCALE
                share = cv2.resize(regions.plausible_share(hint_ab), l_channel.shape[::-1])
                moved = np.linalg.norm(bounded - automatic, axis=-1)
                gained = np.linalg.norm(bounded - true_ab, axis=-1) - np.linalg.norm(automatic - true_ab, axis=-1)
                gap = np.linalg.norm(colours - colours[point[1], point[0]], axis=-1)
                changed = moved > CHANGED
                masks = {"the region": reach <= region, "the long reach": reach > region,
                         f"moved {CHANGED:.0f}-15 ab": moved <= 15, "moved more than 15 ab": moved > 15,
                         "the network's share near the hint's colour below 0.06": share < 0.06,
                         "share 0.06 or more": share >= 0.06, "automatic colour within 5 ab of the hinted pixel's": gap < 5,
                         "5-10 ab from it": (gap >= 5) & (gap < 10), "10 ab or more from it": gap >= 10}
                for name, mask in {"all": np.ones_like(changed), **masks}.items():
                    counted = changed & mask
                    total = groups.setdefault(name, [0, 0, 0.0])
                    total[0] += int(counted.sum())
                    total[1] += int((counted & (gained > WORSE)).sum())
                    total[2] += float(gained[counted].sum())
    finally:
        colorizer.hint_regions = was
    return groups


def print_worse_sources(colorizer, photos, seed):
    groups = worse_sources(colorizer, photos, seed)
    changed = max(groups["all"][0], 1)
    print(f"| changed pixels (>{CHANGED:.0f} ab) moved by or at | share of the changed | of those, worse (>{WORSE:.0f} ab) | "
          "share of the changed pixels' ab error cut |\n|---|---|---|---|")
    for name, (count, worse, gained) in groups.items():
        print(f"| {name} | {100 * count / changed:.1f}% | {100 * worse / max(count, 1):.1f}% | "
              f"{100 * gained / groups['all'][2]:.0f}% |")


REGION_GRID = {  # (edge weight, sigma, lightness sigma, colour sigma, fill): --tune-regions measures each
    "distance": list(itertools.product((0.0, 2.0, 5.0, 10.0, 20.0), (0.2, 0.4, 0.8, 1.6, 3.2, 6.4), (None,), (None,),
                                       ("network",))),
    "lightness and fill": list(itertools.product((2.0, 5.0, 10.0), (0.8, 1.6, 3.2), (None, 10.0, 20.0), (None,),
                                                 ("network", "shift"))),
    "lightness and colour": list(itertools.product((0.0, 2.0), (3.2, 6.4), (5.0, 7.0, 10.0), (None, 10.0, 20.0),
                                                   ("network",))),
    "edges as barriers": [*itertools.product((0.0, 20.0, 100.0), (6.4,), (10.0, 12.0, 14.0), (20.0, 30.0, None), ("network",)),
                          *itertools.product((0.0,), (3.2,), (10.0, 12.0, 14.0), (20.0, 30.0, None), ("network",))],
    "with red reach": [*itertools.product((0.0, 2.0, 5.0, 10.0, 20.0), (1.6, 3.2, 6.4), ((14.0, 20.0), (18.0, 15.0))),
                       *itertools.product((0.0, 2.0, 5.0, 10.0, 20.0), (1.6, 3.2, 6.4), ((None, None),))],
    "between": [(5.0, 2.4, (18.0, 15.0)), (7.0, 3.2, (18.0, 15.0)), (10.0, 4.5, (18.0, 15.0)), (20.0, 9.0, (18.0, 15.0))],
    "long reach": [(20.0, 9.0, 18.0, 15.0, "network", 0.0, None, None),
                   *itertools.product((20.0,), (9.0,), (18.0,), (15.0,), ("network",), (0.5, 1.0), (3.0, 6.0, 10.0),
                                      (4.0, 8.0))],
    "fill and contrast": [*itertools.product((20.0,), (9.0,), (18.0,), (15.0,), ("network", "colour"), (0.0,), (None,),
                                             (None,), (1.0, 2.0, 4.0)),
                          *itertools.product((20.0,), (9.0,), (18.0,), (15.0,), ("network", "colour"), (1.0,), (10.0,),
                                             (8.0,), (1.0, 2.0, 4.0))],
    "stronger long reach": list(itertools.product((20.0,), (9.0,), (18.0, 14.0), (15.0,), ("network",), (1.0, 2.0, 4.0),
                                                  (10.0, 15.0, 20.0), (8.0, 12.0), (1.0,))),
    "narrower lightness, long reach": [
        *itertools.product((20.0,), (9.0,), (10.0, 12.0), (15.0,), ("network",), (2.0, 4.0, 8.0), (20.0,), (12.0,), (1.0,)),
        *itertools.product((20.0,), (9.0,), (12.0,), (10.0,), ("network",), (4.0, 8.0), (20.0,), (12.0,), (1.0,))],
    "as much cut": list(itertools.product((20.0,), (9.0,), (8.0, 10.0), (15.0,), ("network",), (8.0, 16.0),
                                          ((20.0, 12.0), (15.0, 12.0)), (1.0,))),
    # the three grids above were measured before the long reach's target colour was fixed (a hinted pixel could move
    # toward another hint's colour): their 10-point rows are low; the grid below, after the fix, is the one chosen from
    "toward": list(itertools.product((20.0,), (4.5, 6.0, 9.0), (10.0,), (10.0,), ("network",), (16.0, 32.0, 64.0),
                                     (4.0, 6.0, 10.0), (4.0, 6.0, 12.0), (1.0,), ("toward",))),
    "around the choice": [(20.0, 9.0, 10.0, 10.0, "network", 16.0, 20.0, 12.0, 1.0, "network"),  # shipped before "toward"
                          (20.0, 9.0, 10.0, 10.0, "network", 16.0, 20.0, 12.0, 1.0, "toward"),  # the same, "toward"
                          (20.0, 4.5, 10.0, 10.0, "network", 0.0, None, None, 1.0, "toward"),  # no long reach
                          (20.0, 4.5, 10.0, 10.0, "network", 32.0, 4.0, 6.0, 1.0, "network"),  # chosen, long as a region
                          (20.0, 4.5, 10.0, 10.0, "network", 32.0, 4.0, 6.0, 1.0, "toward"),  # chosen before the feature term
                          (20.0, 4.5, 10.0, 10.0, "network", 16.0, 4.0, 4.0, 1.0, "toward"),  # the fewest worse
                          (20.0, 9.0, 10.0, 10.0, "network", 32.0, 4.0, 6.0, 1.0, "toward"),  # a wider region
                          (20.0, 4.5, 10.0, 10.0, "network", 32.0, 4.0, 6.0, 1.0, "toward", 0.8)],  # with the feature term
    # the region's feature term (hints.REGION_FEATURE_SIMILARITY) at the settings "around the choice" chose
    "features": list(itertools.product((20.0,), (4.5,), (10.0,), (10.0,), ("network",), (32.0,), (4.0,), (6.0,), (1.0,),
                                       ("toward",), (None, 0.4, 0.6, 0.8, 1.2, 1.6))),
    # the "toward" grid again with the feature term at the similarity "features" chose
    "toward with features": list(itertools.product((20.0,), (4.5, 6.0, 9.0), (10.0,), (10.0,), ("network",),
                                                   (16.0, 32.0, 64.0), (4.0, 6.0, 10.0), (4.0, 6.0, 12.0), (1.0,),
                                                   ("toward",), (0.8,))),
    "wider lightness": list(itertools.product((0.0, 0.5), (6.4,), (14.0, 16.0, 18.0, 20.0), (15.0, 20.0, 25.0),
                                              ("network",))),
}


def tune_regions(colorizer, photos, seed, grid="distance"):
    """Print the grid of HintRegions' settings on `photos` (the validation split) and the one the rule picks.

    The network's part is the same at every setting: each photo's hinted ab without regions is computed once
    (inference.PreparedPhoto), and each setting weighs its change anew."""
    rng, red_rng, cases = np.random.default_rng(seed), np.random.default_rng(seed + 1), []
    colorizer.hint_regions = False
    for rgb in photos:
        l_channel, true_ab = lab.rgb_to_l(rgb), lab.rgb_to_lab(rgb)[..., 1:]
        photo = inference.PreparedPhoto(colorizer, l_channel)
        automatic = photo.ab_norm() * lab.AB_SCALE
        singles = [(point, photo.ab_norm([point]) * lab.AB_SCALE) for point in true_colour_points(rgb, LOCALITY_POINTS, rng)]
        ten = random_points(rgb, 10, rng)
        (x, y, _), = random_points(rgb, 1, red_rng)
        red = ((x, y, RED),)
        cases.append((rgb, l_channel, true_ab, automatic, singles, ten, photo.ab_norm(ten) * lab.AB_SCALE,
                      (red, photo.ab_norm(red) * lab.AB_SCALE), {},
                      (photo.region_colours(), photo.unleaned_logits, photo.decoder_features)))

    def score(edge_weight, sigma, lightness_sigma, colour_sigma, fill, long_strength=0.0, long_lightness_sigma=None,
              long_colour_sigma=None, contrast=1.0, long_fill="network", feature_similarity=None):
        counts, gains, followed, reaches = [], [], [], []
        for rgb, l_channel, true_ab, automatic, singles, ten, ten_ab, (red, red_ab), kept_regions, network in cases:
            if edge_weight is not None and edge_weight not in kept_regions:  # the distances, kept per edge weight
                colours, logits, features = network  # what the regions compare (PreparedPhoto.regions)
                kept_regions[edge_weight] = hints.HintRegions(l_channel, colours, edge_weight, automatic_logits=logits,
                                                              features=features)
            regions = kept_regions.get(edge_weight)

            def weighed(points, hinted):
                if regions is None:
                    return hinted
                regions.sigma, regions.lightness_sigma, regions.colour_sigma = sigma, lightness_sigma, colour_sigma
                regions.long_strength = long_strength
                regions.long_lightness_sigma, regions.long_colour_sigma = long_lightness_sigma, long_colour_sigma
                regions.contrast, regions.feature_similarity = contrast, feature_similarity
                return lab.AB_SCALE * regions.bound(automatic / lab.AB_SCALE, hinted / lab.AB_SCALE, points, l_channel,
                                                    fill, long_fill)

            for point, hinted in singles:
                counts.append(locality_counts(automatic, weighed([point], hinted), true_ab))
            result = lab.merge_l_ab(l_channel, weighed(ten, ten_ab) / lab.AB_SCALE, fast=True)
            automatic_rgb = lab.merge_l_ab(l_channel, automatic / lab.AB_SCALE, fast=True)
            gains.append(metrics.psnr(result, rgb) - metrics.psnr(automatic_rgb, rgb))
            followed.append(hint_following(result, ten))
            moved = np.linalg.norm(weighed(list(red), red_ab) - automatic, axis=-1)
            reaches.append(float(np.mean(moved > HINT_TOLERANCE)))
        return (*summarise_locality(counts), float(np.mean(gains)), float(np.mean(followed)), float(np.mean(reaches)))

    print(f"{len(photos)} validation photos, {LOCALITY_POINTS} true-colour hints each alone, 10 random points")
    print("| edge weight | sigma | lightness sigma | colour sigma | fill | long strength | long lightness sigma | "
          "long colour sigma | contrast | long fill | feature similarity | changed | worse | mean ab error gained | "
          "10 points: PSNR gain (dB) | following | one red hint moves |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    results = {}
    grid = [(*s[:2], *s[2], "network") if len(s) == 3 else s for s in REGION_GRID[grid]]
    grid = [(*s[:6], *s[6], *s[7:]) if len(s) == 8 and isinstance(s[6], tuple) else s for s in grid]
    grid = [(*s, 0.0, None, None) if len(s) == 5 else s for s in grid]
    grid = [(*s, 1.0) if len(s) == 8 else s for s in grid]
    grid = [(*s, "network") if len(s) == 9 else s for s in grid]  # the long reach as a region, before "toward"
    grid = [(*s, None) if len(s) == 10 else s for s in grid]  # no feature term, before "features"
    for settings in [NO_REGIONS, *grid]:
        results[settings] = score(*settings)
        changed, worse, gained, gain, followed, reach = results[settings]
        names = ("priors alone", *[""] * 10) if settings[0] is None else settings
        print(f"| {' | '.join(map(str, names))} | {100 * changed:.1f}% | {100 * worse:.1f}% | {gained:+.2f} | "
              f"{gain:+.2f} | {100 * followed:.0f}% | {100 * reach:.0f}% |", flush=True)
    print(f"rule: {REGION_RULE}")
    print("chosen: edge weight, sigma, lightness sigma, colour sigma, fill, long strength, long lightness sigma, long "
          f"colour sigma, contrast, long fill, feature similarity = {choose_regions(results)}")


NO_REGIONS = (None,) * 11  # --tune-regions: the priors alone
MAX_WORSE = 0.08  # issue 29's bar: a true-colour hint makes at most this share of the pixels it changes worse
RED_REACH_SHARE = 0.5  # a red hint may move at most this share of what it moves with the priors alone
CUT_MARGIN = 0.05  # ab units: a setting "cuts the mean ab error as much as the priors alone" to within this
GAIN_MARGIN = 0.1  # dB: ... and keeps their 10-point PSNR gain to within this
REGION_RULE = (f"among the settings whose 10 points follow their hints (>= 95% within 10 ab) and whose red hint moves at "
               f"most {RED_REACH_SHARE:g} of what it moves with the priors alone, those that cut the mean ab error of a "
               f"single true-colour hint as much as the priors alone (to {CUT_MARGIN} ab) and keep their 10-point PSNR "
               f"gain (to {GAIN_MARGIN} dB), measured in the same run: the one whose hints make the fewest of the pixels "
               f"they change worse. If none does, those that make at most {100 * MAX_WORSE:.0f}% worse: the most "
               "10-point PSNR. (Issue 29 asks for both at once, the priors' cut and at most 8% worse; no setting measured "
               "has both, and a bound that gives up the cut gives up the hints' gain with it.) The red reach is there "
               "because a true-colour hint cannot show a colour spilling onto other objects (a true colour is right on "
               "much of a scene), which is what a user sees when a red click reddens the trees")


def choose_regions(results):
    """REGION_RULE over {settings: (changed, worse, gained, PSNR gain, following, red reach)}."""
    _, _, prior_gained, prior_gain, _, prior_reach = results[NO_REGIONS]
    allowed = [s for s, r in results.items() if s[0] is not None and r[4] >= 0.95 and r[5] <= RED_REACH_SHARE * prior_reach]
    as_much = [s for s in allowed if results[s][2] <= prior_gained + CUT_MARGIN and results[s][3] >= prior_gain - GAIN_MARGIN]
    if as_much:
        return min(as_much, key=lambda s: results[s][1])
    local = [s for s in allowed if results[s][1] <= MAX_WORSE]
    return max(local, key=lambda s: results[s][3]) if local else None


RED = (200, 30, 30)  # the reach's hint colour: unlike most true colours


def one_hint_reach(colorizer, photos, automatic_abs, seed, colour=RED):
    """How far one hint reaches: the mean share of each photo whose ab moves by more than HINT_TOLERANCE
    from its automatic ab (`automatic_abs`, one per photo) when one point at random is given `colour` (red:
    unlike most true colours)."""
    rng, shares = np.random.default_rng(seed), []
    for rgb, automatic in zip(photos, automatic_abs):
        (x, y, _), = random_points(rgb, 1, rng)
        (hinted,) = colorizer.colorize([rgb], [[(x, y, colour)]])
        moved = np.linalg.norm(lab.rgb_to_lab(hinted)[..., 1:] - automatic, axis=-1)
        shares.append(float(np.mean(moved > HINT_TOLERANCE)))
    return float(np.mean(shares))


def automatic_ab(colorizer, photos):
    """Each photo's automatic colours as ab (HxWx2), what one_hint_reach compares against."""
    return [lab.rgb_to_lab(result)[..., 1:] for result in colorizer.colorize(photos)]


def suggestion_hits(colorizer, photos, per_photo, seed, k=8):
    rng, hits = np.random.default_rng(seed), []
    for rgb in photos:
        for x, y, _ in random_points(rgb, per_photo, rng):
            true_ab = ab_at(rgb, [(x, y, None)])[0]
            suggested = np.array([hints.colour_ab_norm(c) * lab.AB_SCALE for c in colorizer.suggest(rgb, x, y, k)])
            hits.append(np.linalg.norm(suggested - true_ab, axis=1).min() <= SUGGESTION_TOLERANCE)
    return float(np.mean(hits))


def network_seconds(colorizer, photo, repeats=10):
    """Median time of the network alone for one 512-px photo with 10 hints, model loaded."""
    scale = 512 / max(photo.shape[:2])
    photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    l_channel = lab.rgb_to_l(photo)
    points = random_points(photo, 10, np.random.default_rng(0))
    inputs = colorizer.network_inputs(colorizer._prepare(l_channel)[None],
                                      *colorizer.guidance_inputs([0], [l_channel], [points], None))  # no palette
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        colorizer.model.predict_on_batch(inputs)
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:])), photo.shape[:2]


def hint_timings(colorizer, photo, repeats=5):
    """The page's times (shared/web.py), model loaded and its hinted path traced at start (`warm_up`), each the
    median of `repeats`: a photo of 12 MP, then of 1 MP, made from `photo`, prepared and shown as the page does
    on upload; then, each time with one more hint (a new random point), the hint's preview made and encoded:
    {megapixels: (shape, [first hint's seconds, ...], [later hints' seconds, ...])}."""
    from shared import web

    colorizer.warm_up()
    rng, timings = np.random.default_rng(0), {}
    for megapixels in (12, 1):
        scale = np.sqrt(megapixels * 1e6 / (photo.shape[0] * photo.shape[1]))
        big = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        firsts, laters = [], []
        for _ in range(repeats):
            prepared = inference.PreparedPhoto(colorizer, lab.rgb_to_l_fast(big))
            web._bmp_bytes(web.render(prepared, {}))  # the upload's automatic preview
            points = []
            for seconds in (firsts, laters):
                (point,) = random_points(big, 1, rng)
                points.append((point[0], point[1], (200, 30, 30)))
                start = time.perf_counter()
                web._bmp_bytes(web.render(prepared, {"hints": points}))
                seconds.append(time.perf_counter() - start)
        timings[megapixels] = (big.shape[:2], firsts, laters)
    return timings


def tune(colorizer, photos, seed):
    """Print the grid --tune measures (the layers read their settings when the model is traced again)."""
    hint_prior, palette_prior = colorizer.model.get_layer("hint_prior"), colorizer.model.get_layer("palette_prior")

    def run(count, reference=False):
        colorizer.model.predict_function = None
        return measure(colorizer, photos, count, seed, reference)

    print(f"automatic: PSNR {run(0)[0]['psnr']:.2f}")
    print("| tau | lightness sigma | distance sigma | colour sigma | bin sigma | PSNR, 10 points | AuC | following | "
          "one red hint moves |\n|---|---|---|---|---|---|---|---|---|")
    results, automatic = {}, automatic_ab(colorizer, photos)  # the prior's settings do not change these

    def measure_prior(settings):
        (hint_prior.similarity, hint_prior.lightness_sigma, hint_prior.distance_sigma, hint_prior.colour_sigma,
         hint_prior.bin_sigma) = settings
        mean, followed = run(10)
        reach = one_hint_reach(colorizer, photos, automatic, seed)
        results[settings] = (mean["psnr"], followed, reach)
        print(f"| {' | '.join(map(str, settings))} | {mean['psnr']:.2f} | {mean['auc']:.2f} | {100 * followed:.0f}% | "
              f"{100 * reach:.0f}% |")

    grid = itertools.product((0.6, 1.2, 2.4), (8.0, 16.0), (0.3, 0.5, 0.8), (5.0, 10.0, 20.0),
                             (HINT_BIN_SIGMA,))
    for settings in grid:
        measure_prior(settings)
    local = [s for s, (_, followed, reach) in results.items() if followed >= 0.95 and reach <= MAX_REACH]
    best = max(local, key=lambda s: results[s][0])
    for bin_sigma in (2.0, 2.5, 3.0, 3.5, 7.0):  # how sharp a hint's colour is, for the best of the grid
        if (*best[:4], bin_sigma) not in results:  # the grid's own bin sigma is measured already
            measure_prior((*best[:4], bin_sigma))
    for strength in (0.5, 1.0, 2.0, 3.0, 4.0):
        palette_prior.strength = strength
        mean, _ = run(0, reference=True)
        print(f"palette strength {strength}: PSNR {mean['psnr']:.2f}, AuC {mean['auc']:.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="full_version", help="tier name or .keras path (default: %(default)s)")
    parser.add_argument("--input", type=Path, default=cli.DATASETS / "landscapes" / "test")
    parser.add_argument("--points", type=int, nargs="+", default=[0, 1, 2, 5, 10, 20, 50])
    parser.add_argument("--suggestion-points", type=int, default=20, help="random points per photo (default: 20)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float)
    parser.add_argument("--tune", action="store_true", help="measure the priors' settings on the validation split")
    parser.add_argument("--tune-regions", choices=sorted(REGION_GRID),
                        help="measure a grid of the hint regions' settings on the validation split")
    parser.add_argument("--locality", action="store_true",
                        help="how far one true-colour hint reaches, the priors alone and with hint regions")
    parser.add_argument("--worse-sources", action="store_true",
                        help="where the pixels one true-colour hint makes worse come from (region, long reach, ...)")
    parser.add_argument("--validation", action="store_true", help="the validation split instead of --input")
    parser.add_argument("--timing", action="store_true",
                        help="the page's hint update at 12 MP and first hinted call at 1 MP")
    parser.add_argument("--leaned-guidance", action="store_true",
                        help="hints and suggestions on the automatic logits after the neutral lean, as the saved model "
                             "computes them (default: before it, Colorizer.unleaned_guidance)")
    args = parser.parse_args(argv)

    colorizer = inference.load_colorizer(args.model, temperature=args.temperature)
    colorizer.unleaned_guidance = not args.leaned_guidance
    if args.tune or args.tune_regions or args.validation:
        _, val_paths = data.split_validation(training.list_training_images(training.DEFAULT_TRAINING_IMAGES), 0.1, seed=0)
        validation = [rgb for _, rgb in data.read_images(val_paths)]
        if args.tune:
            return tune(colorizer, validation, args.seed)
        if args.tune_regions:
            return tune_regions(colorizer, validation, args.seed, args.tune_regions)
    photos = validation if args.validation else [rgb for _, rgb in data.read_images(data.list_images(args.input))]
    print(f"{len(photos)} photos from {'the validation split' if args.validation else args.input}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    if args.locality:
        return print_locality(colorizer, photos, args.seed)
    if args.worse_sources:
        return print_worse_sources(colorizer, photos, args.seed)
    if args.timing:
        print("| photo | first hint on a photo shown (s) | a second hint (s) |\n|---|---|---|")
        for megapixels, ((height, width), firsts, laters) in hint_timings(colorizer, photos[0]).items():
            print(f"| {megapixels} MP ({width}x{height}) | {np.median(firsts):.3f} | {np.median(laters):.3f} |")
        print("each the median of 5: the hint's 1280-px preview made and encoded, as the page does")
        return None
    print("| hint points | PSNR (dB) | AuC (%) | hinted pixels within 10 of the hint |\n|---|---|---|---|")
    for count in args.points:
        mean, followed = measure(colorizer, photos, count, args.seed)
        share = "" if followed is None else f"{100 * followed:.0f}%"
        print(f"| {count} | {mean['psnr']:.2f} | {mean['auc']:.2f} | {share} |")
    mean, _ = measure(colorizer, photos, 0, args.seed, reference=True)
    print(f"| 0, the original as reference palette | {mean['psnr']:.2f} | {mean['auc']:.2f} | |")
    reach = one_hint_reach(colorizer, photos, automatic_ab(colorizer, photos), args.seed)
    print(f"one red hint at a random point moves {100 * reach:.0f}% of a photo "
          f"by more than {HINT_TOLERANCE:.0f} ab (mean)")
    hit_rate = suggestion_hits(colorizer, photos, args.suggestion_points, args.seed)
    print(f"true colour (within {SUGGESTION_TOLERANCE:.0f} in ab) among the 8 suggestions at "
          f"{args.suggestion_points * len(photos)} random points: {100 * hit_rate:.0f}%")
    seconds, size = network_seconds(colorizer, photos[0])
    print(f"network time for a hinted {size[1]}x{size[0]} photo (10 points), model loaded: {seconds:.3f} s (median of 10)")


if __name__ == "__main__":
    main()
