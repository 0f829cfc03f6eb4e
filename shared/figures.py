"""Figures the commands write: a grid of images with titled columns, and thumbnails for it."""

import cv2


def thumbnail(rgb, side):
    """Shrink (never enlarge) so the longest side is at most `side` px."""
    height, width = rgb.shape[:2]
    scale = min(1.0, side / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if scale < 1.0 else rgb


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def grid_figure(rows, columns, path, dpi=100):
    """A grid of images: one row per (name, images) entry, one titled column per image.
    Each row is as tall as its tallest thumbnail, each column as wide as the widest, so the
    images are drawn at about their own size and the PNG stays small."""
    plt = pyplot()
    row_heights = [max(image.shape[0] for image in images) for _, images in rows]  # px
    column_width = max(image.shape[1] for _, images in rows for image in images)  # px
    margin = 24  # px, for titles and labels
    fig, axes = plt.subplots(
        len(rows), len(columns), squeeze=False, gridspec_kw={"height_ratios": row_heights},
        figsize=((len(columns) * (column_width + 6) + margin) / dpi, (sum(row_heights) + 6 * len(rows) + margin) / dpi),
    )
    for r, (name, images) in enumerate(rows):
        for c, image in enumerate(images):
            axes[r, c].imshow(image, interpolation="antialiased")
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(columns[c], fontsize=8)
        axes[r, 0].set_ylabel(name, fontsize=6)
    fig.tight_layout(pad=0.2, h_pad=0.2, w_pad=0.2)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
