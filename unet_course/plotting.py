"""Plots for the notebooks: images, masks, overlays, training curves."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

#: Names of the class ids after ``trimap - 1``.
#: (Oxford-IIIT Pet README: trimap 1 pet, 2 background, 3 border.)
TRIMAP_CLASSES = ("pet", "background", "border")
#: One colour per trimap class id: pet orange, background dark blue, border yellow.
TRIMAP_COLORS = np.array([[0.95, 0.55, 0.10], [0.10, 0.15, 0.40], [1.00, 0.95, 0.30]])


def _array(x) -> np.ndarray:
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def palette(num_classes: int) -> np.ndarray:
    """``num_classes`` distinguishable RGB colours (the trimap colours for 3 classes)."""
    if num_classes == 3:
        return TRIMAP_COLORS
    return plt.get_cmap("tab20" if num_classes <= 20 else "gist_ncar")(
        np.linspace(0, 1, num_classes, endpoint=num_classes > 20)
    )[:, :3]


def colorize(mask, num_classes: int = 3) -> np.ndarray:
    """A class-id mask (H, W) or (H, W, 1) as an RGB picture, one colour per class."""
    ids = _array(mask).astype(int)
    if ids.ndim == 3:
        ids = ids[..., 0]
    return palette(num_classes)[np.clip(ids, 0, num_classes - 1)]


def _as_image(x) -> np.ndarray:
    x = _array(x)
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.dtype.kind == "f" and x.ndim == 3:
        x = np.clip(x, 0.0, 1.0)
    return x


def show(
    images: Sequence,
    titles: Sequence[str] | None = None,
    cmap: str | None = None,
    size: float = 3.0,
    vmax=None,
):
    """Images side by side; 2-D arrays (masks) are drawn with ``cmap`` and a colour bar."""
    fig, axes = plt.subplots(1, len(images), figsize=(size * len(images), size), squeeze=False)
    for i, (ax, img) in enumerate(zip(axes[0], images)):
        picture = _as_image(img)
        shown = ax.imshow(
            picture,
            cmap=cmap if picture.ndim == 2 else None,
            vmin=0 if picture.ndim == 2 else None,
            vmax=vmax,
            interpolation="nearest",
        )
        if picture.ndim == 2:
            fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
        if titles:
            ax.set_title(titles[i])
        ax.axis("off")
    fig.tight_layout()
    return fig


def show_overlay(
    image,
    mask,
    num_classes: int = 3,
    alpha: float = 0.45,
    class_names: Sequence[str] | None = TRIMAP_CLASSES,
    ax=None,
    title=None,
):
    """The image with its class-id mask laid over it in colour, and a legend."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(_as_image(image))
    ax.imshow(colorize(mask, num_classes), alpha=alpha, interpolation="nearest")
    if class_names and len(class_names) == num_classes:
        colors = palette(num_classes)
        handles = [plt.Rectangle((0, 0), 1, 1, color=colors[i]) for i in range(num_classes)]
        ax.legend(handles, class_names, loc="lower right", fontsize="small", framealpha=0.7)
    ax.set_title(title or "overlay")
    ax.axis("off")
    return ax


def show_predictions(
    images,
    true_masks,
    pred_masks,
    num_classes: int = 3,
    n: int = 3,
    titles=("input", "true mask", "predicted mask", "overlay"),
):
    """Rows of input, true mask, predicted mask and the prediction laid over the input."""
    n = min(n, len(images))
    fig, axes = plt.subplots(n, 4, figsize=(12, 3 * n), squeeze=False)
    for row in range(n):
        a = axes[row]
        a[0].imshow(_as_image(images[row]))
        a[1].imshow(colorize(true_masks[row], num_classes), interpolation="nearest")
        a[2].imshow(colorize(pred_masks[row], num_classes), interpolation="nearest")
        show_overlay(images[row], pred_masks[row], num_classes, ax=a[3], class_names=None)
        for ax, title in zip(a, titles):
            ax.set_title(title)
            ax.axis("off")
    fig.tight_layout()
    return fig


def plot_history(history, metrics: Sequence[str] = ("loss",), log_scale: bool = False):
    """Training and validation curves of a Keras ``History`` (or its ``.history`` dict)."""
    logs = getattr(history, "history", history)
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.5), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for key, style in ((metric, "-"), ("val_" + metric, "--")):
            if key in logs:
                epochs = np.arange(1, len(logs[key]) + 1)
                ax.plot(epochs, logs[key], style, marker="o", label=key)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        if log_scale:
            ax.set_yscale("log")
        ax.grid(True, ls=":")
        ax.legend()
    fig.tight_layout()
    return fig


def plot_class_scores(
    scores,
    class_names: Sequence[str] = TRIMAP_CLASSES,
    metric: str = "IoU",
    title: str | None = None,
    ax=None,
):
    """Grouped bars: one group per class, one bar per run (``scores``: run -> per-class values).

    NaN (a class absent from truth and prediction) is drawn as no bar and labelled "n/a".
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(scores) * len(class_names)), 3.6))
    runs = list(scores)
    width = 0.8 / max(1, len(runs))
    x = np.arange(len(class_names))
    for i, run in enumerate(runs):
        values = np.asarray(scores[run], dtype=float)
        bars = ax.bar(x + (i - (len(runs) - 1) / 2) * width, np.nan_to_num(values), width,
                      label=run)
        labels = ["n/a" if np.isnan(v) else f"{v:.2f}" for v in values]
        ax.bar_label(bars, labels=labels, fontsize="x-small", padding=1)
    ax.set_xticks(x, class_names)
    ax.set_ylabel(metric)
    ax.set_ylim(0, 1.08)
    ax.grid(axis="y", ls=":")
    ax.legend(fontsize="small", ncol=min(len(runs), 3), loc="upper center",
              bbox_to_anchor=(0.5, -0.12))
    ax.set_title(title or f"{metric} per class")
    ax.figure.tight_layout()
    return ax
