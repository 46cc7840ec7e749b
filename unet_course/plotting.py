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


#: What each arrow of ``plot_unet`` stands for, by the class of the layer it leads to.
UNET_ARROWS = {
    "Conv2D": ("tab:blue", "conv 3x3 (with its activation)"),
    "MaxPooling2D": ("tab:red", "max pooling 2x2"),
    "Conv2DTranspose": ("tab:green", "up-convolution"),
    "UpSampling2D": ("tab:green", "up-convolution"),
    "Cropping2D": ("0.55", "copy and crop (skip connection)"),
    "Concatenate": ("0.55", "copy and crop (skip connection)"),
    "Dropout": ("tab:purple", "dropout"),
    "head": ("tab:cyan", "conv 1x1 (head)"),
}
_LEVEL_STEP = {"MaxPooling2D": 1, "Conv2DTranspose": -1, "UpSampling2D": -1}


def _parents(layer) -> list[str]:
    """Names of the layers whose outputs ``layer`` takes as inputs."""
    inputs = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
    return [t._keras_history[0].name for t in inputs]


def unet_layout(model) -> tuple[dict, list]:
    """Where ``plot_unet`` puts each layer, and the arrows between them.

    Returns ``(nodes, edges)``: ``nodes`` maps a layer's name to ``(x, level, layer)``,
    ``x`` its position in ``model.layers`` and ``level`` how many poolings it lies below
    the input; ``edges`` lists ``(parent, child, kind)``, where ``kind`` is a key of
    ``UNET_ARROWS`` (``"head"`` for the last layer, a 1x1 convolution).
    """
    nodes, edges = {}, []
    for x, layer in enumerate(model.layers):
        kind = type(layer).__name__
        if kind == "InputLayer":
            nodes[layer.name] = (x, 0, layer)
            continue
        parents = [p for p in _parents(layer) if p in nodes]
        level = nodes[parents[0]][1] + _LEVEL_STEP.get(kind, 0) if parents else 0
        nodes[layer.name] = (x, level, layer)
        if layer is model.layers[-1] and kind == "Conv2D":
            kind = "head"
        elif kind == "Activation" or kind == "ReLU":
            kind = "Conv2D"
        for parent in parents:
            edges.append((parent, layer.name, kind))
    return nodes, edges


def plot_unet(model, ax=None, title: str | None = None):
    """Draw a U-Net as a U: one box per layer, its channels above it, the levels' sizes.

    The encoder runs down on the left, the decoder up on the right; each arrow's colour
    says what the layer it leads to does (``UNET_ARROWS``), and the long grey arrows are
    the skip connections. Drawn with matplotlib from the model's own layers, so it needs
    neither pydot nor Graphviz (which ``keras.utils.plot_model`` needs).
    """
    nodes, edges = unet_layout(model)
    if ax is None:
        width = min(16.0, max(8.0, 0.36 * len(nodes)))
        _, ax = plt.subplots(figsize=(width, 4.8))
    depth = max(level for _, level, _ in nodes.values())
    sizes = {}
    for x, level, layer in nodes.values():
        shape = tuple(layer.output.shape)
        sizes.setdefault(level, []).append(shape[1:3])
        kind = type(layer).__name__
        face = "white" if kind in ("InputLayer", "Cropping2D", "Dropout") else "0.85"
        ax.add_patch(plt.Rectangle((x - 0.3, -level - 0.22), 0.6, 0.44, facecolor=face,
                                   edgecolor="0.2", lw=0.8, zorder=3))
        ax.text(x, -level + 0.4, str(shape[-1]), ha="center", va="bottom", fontsize=7)
    used = {}
    for parent, child, kind in edges:
        (x0, y0, _), (x1, y1, _) = nodes[parent], nodes[child]
        color, label = UNET_ARROWS.get(kind, ("0.3", kind))
        style = dict(arrowstyle="-|>", color=color, lw=1.2, shrinkA=0, shrinkB=0,
                     ls="--" if kind == "Dropout" else "-")
        if y0 == y1 and x1 - x0 > 1:
            # around the boxes in between: skip connections above, short hops below
            side = 1 if x1 - x0 > 2 else -1
            y = -y0 + side * 0.31
            ax.plot([x0, x0, x1], [-y0 + side * 0.22, y, y], color=color, lw=1.4, zorder=2)
            ax.annotate("", xy=(x1, -y1 + side * 0.22), xytext=(x1, y), arrowprops=style, zorder=2)
        else:
            ax.annotate("", xy=(x1 - 0.3, -y1), xytext=(x0 + 0.3, -y0), arrowprops=style,
                        zorder=2)
        used.setdefault(label, color)
    for level, shapes in sizes.items():
        first, last = shapes[0], shapes[-1]
        text = "x".join(map(str, first))
        if last != first:
            text += f" ... {'x'.join(map(str, last))}"
        ax.text(-1.2, -level, text, ha="right", va="center", fontsize=8)
    handles = [plt.Line2D([], [], color=c, lw=2) for c in used.values()]
    ax.legend(handles, list(used), loc="lower right", fontsize=8, framealpha=0.9)
    ax.set_xlim(-6, len(nodes) + 0.5)
    ax.set_ylim(-depth - 0.8, 0.9)
    ax.axis("off")
    ax.set_title(title or f"{model.name}: {model.count_params():,} parameters")
    return ax


# --------------------------------------------------------------------------- error analysis

#: Colours of :func:`error_map`'s codes 1, 2, 3 in :func:`show_errors`.
ERROR_COLORS = np.array([[0.90, 0.10, 0.10], [0.10, 0.55, 1.00], [1.00, 0.85, 0.00]])
#: What :func:`error_map`'s codes 1, 2, 3 mean.
ERROR_NAMES = (
    "false positive (background painted as object)",
    "false negative (object missed)",
    "object classes mixed up",
)


def show_confusion(cm, class_names: Sequence[str] | None = TRIMAP_CLASSES, ax=None,
                   title: str = "confusion matrix, each row divided by its sum"):
    """A confusion matrix as a heatmap, each row normalised by the class's true pixels.

    Cell (i, j) shows which share of the pixels of true class i was predicted as class j
    (a row sums to 100 %) and, below it, the count. A class absent from the truth has a
    blank row. Rows are true classes, columns predicted classes. Returns the figure.
    """
    counts = _array(cm)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"a confusion matrix is square (K, K), got shape {counts.shape}")
    k = counts.shape[0]
    names = list(class_names) if class_names is not None and len(class_names) == k else [
        str(i) for i in range(k)
    ]
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.full(counts.shape, np.nan), where=totals > 0)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.4 * k + 2.2, 1.2 * k + 1.4))
    shown = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(k):
        for j in range(k):
            if np.isnan(shares[i, j]):
                continue
            colour = "white" if shares[i, j] > 0.55 else "black"
            ax.text(j, i, f"{shares[i, j]:.1%}\n{int(counts[i, j]):,}", ha="center",
                    va="center", color=colour, fontsize="small")
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    ax.figure.colorbar(shown, ax=ax, fraction=0.046, pad=0.04, label="share of the row")
    ax.figure.tight_layout()
    return ax.figure


def error_map(true_mask, pred_mask, foreground: Sequence[int] = (0, 2)) -> np.ndarray:
    """Where a predicted class-id mask is wrong, and how, as codes of the masks' shape.

    0 right; 1 false positive (a background pixel predicted as an object class); 2 false
    negative (an object pixel predicted as background); 3 an object pixel given the wrong
    object class (for the trimap: pet and border mixed up). ``foreground`` are the object
    classes (pet 0 and border 2 of the trimap). A trailing axis of size 1 is dropped from
    either mask; other shapes must be equal.
    """
    truth, pred = _array(true_mask), _array(pred_mask)
    if truth.ndim and truth.shape[-1] == 1 and truth.ndim == pred.ndim + 1:
        truth = truth[..., 0]
    if pred.ndim and pred.shape[-1] == 1 and pred.ndim == truth.ndim + 1:
        pred = pred[..., 0]
    if truth.shape != pred.shape:
        raise ValueError(f"the true mask has shape {truth.shape}, the predicted one {pred.shape}")
    true_object, pred_object = np.isin(truth, foreground), np.isin(pred, foreground)
    codes = np.zeros(truth.shape, np.uint8)
    codes[pred_object & ~true_object] = 1
    codes[true_object & ~pred_object] = 2
    codes[true_object & pred_object & (truth != pred)] = 3
    return codes


def show_errors(images, true_masks, pred_masks, num_classes: int = 3,
                foreground: Sequence[int] = (0, 2), scores=None, n: int = 3,
                score_name: str = "mean IoU"):
    """Rows of input, true mask, predicted mask and the errors drawn over the input.

    In the last column the input is shown dimmed and grey; false positives, false
    negatives and mixed-up object classes (see :func:`error_map`) are painted in the
    colours of ``ERROR_COLORS``, with a legend. ``scores`` (one per image) go into the
    row's titles. Returns the figure.
    """
    n = min(n, len(images))
    fig, axes = plt.subplots(n, 4, figsize=(13, 3.2 * n), squeeze=False)
    for row in range(n):
        a = axes[row]
        picture = _as_image(images[row])
        grey = picture.mean(axis=-1) if picture.ndim == 3 else picture
        codes = error_map(true_masks[row], pred_masks[row], foreground)
        shown = np.repeat(0.35 + 0.4 * grey[..., None] / max(float(grey.max()), 1e-9), 3, -1)
        for code in (1, 2, 3):
            shown[codes == code] = ERROR_COLORS[code - 1]
        a[0].imshow(picture)
        a[1].imshow(colorize(true_masks[row], num_classes), interpolation="nearest")
        a[2].imshow(colorize(pred_masks[row], num_classes), interpolation="nearest")
        a[3].imshow(shown, interpolation="nearest")
        wrong = int((codes > 0).sum())
        score = f", {score_name} {float(scores[row]):.3f}" if scores is not None else ""
        titles = ("input" + score, "true mask", "predicted mask",
                  f"errors: {wrong:,} of {codes.size:,} pixels")
        for ax, title in zip(a, titles):
            ax.set_title(title, fontsize="medium")
            ax.axis("off")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in ERROR_COLORS]
    fig.legend(handles, ERROR_NAMES, loc="lower center", ncol=3, fontsize="small",
               bbox_to_anchor=(0.5, -0.01))
    fig.tight_layout(rect=(0, 0.04, 1, 1))
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
