"""Internal. Contact sheets of digits with their labels (matplotlib; never on a
request)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gancaptcha_field.artifacts import atomic_path


def save_figure(fig: object, path: Path) -> None:
    """Save a matplotlib figure atomically (write, then rename) and close it."""
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=100, bbox_inches="tight")  # type: ignore[attr-defined]
    finally:
        plt.close(fig)  # type: ignore[arg-type]


def contact_sheet(
    images: np.ndarray,
    labels: np.ndarray,
    confidence: np.ndarray,
    path: Path,
    title: str = "Served digits (label, reader confidence)",
    columns: int = 10,
) -> None:
    """A grid of uint8 digits with their labels; dark on light, as served."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never a window
    import matplotlib.pyplot as plt

    n = len(images)
    cols = min(columns, max(n, 1))
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 1.05))
    for i, ax in enumerate(np.atleast_1d(axes).ravel()):
        ax.axis("off")
        if i < n:
            ax.imshow(255 - images[i], cmap="gray", vmin=0, vmax=255)
            ax.set_title(f"{labels[i]} {confidence[i]:.3f}", fontsize=7)
    fig.suptitle(title, fontsize=9)
    save_figure(fig, path)
