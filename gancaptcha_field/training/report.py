"""Internal. The training report: loss curves, a labelled sample grid, the filters'
figures.

Everything here draws with matplotlib into files beside the models; the demo
shows the files and never imports this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never a window
import matplotlib.pyplot as plt

from gancaptcha_field import artifacts, constants
from gancaptcha_field.training.sheets import contact_sheet, save_figure

__all__ = ["contact_sheet", "plot_losses", "plot_metadata", "write_charts"]


def plot_losses(history: list[dict[str, float]], path: Path) -> None:
    """Generator and discriminator loss per epoch."""
    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(epochs, [h["gen_loss"] for h in history], label="generator")
    ax.plot(epochs, [h["disc_loss"] for h in history], label="discriminator")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean loss")
    ax.set_title("GAN training losses")
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, path)


def plot_pass_rates(meta: dict[str, Any], path: Path) -> bool:
    """Pass rate per label and across the threshold grid, from metadata.

    False (and nothing written) when the metadata holds no calibration.
    """
    cal = meta.get("calibration")
    if not isinstance(cal, dict) or not cal.get("per_label"):
        return False
    thresholds = meta.get("thresholds") or {}
    reader_t, verifier_t = thresholds.get("reader"), thresholds.get("verifier")
    labels = [str(d) for d in range(constants.NUM_CLASSES)]
    per_label = cal["per_label"]
    share = [100 * per_label.get(d, {}).get("reader_share", 0.0) for d in labels]
    passed = [100 * per_label.get(d, {}).get("pass_rate", 0.0) for d in labels]
    grid = cal.get("threshold_grid") or []

    fig, axes = plt.subplots(1, 2 if grid else 1, figsize=(11 if grid else 6, 3.8))
    ax = axes[0] if grid else axes
    x = range(len(labels))
    ax.bar(x, share, color="#c8d3e0", label="read as this label")
    ax.bar(x, passed, color="#2b6cb0", label="passed both filters")
    for i, value in enumerate(passed):
        ax.annotate(f"{value:.1f}", (i, value), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(list(x), labels)
    ax.set_xlabel("label")
    ax.set_ylabel("% of generated digits")
    ax.set_title(
        f"Per label: {100 * cal.get('pass_rate', 0.0):.1f}% pass "
        f"(reader ≥ {reader_t}, verifier ≥ {verifier_t})",
        fontsize=9,
    )
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    if grid:
        ax = axes[1]
        names = [f"{g['reader_threshold']}\n{g['verifier_threshold']}" for g in grid]
        chosen = [
            g["reader_threshold"] == reader_t and g["verifier_threshold"] == verifier_t
            for g in grid
        ]
        y = range(len(grid))
        ax.bar(
            y,
            [100 * g["pass_rate"] for g in grid],
            color=["#2b6cb0" if c else "#9ab" for c in chosen],
            label="all labels",
        )
        ax.plot(
            list(y),
            [100 * g["min_label_pass_rate"] for g in grid],
            "o-",
            color="#c05621",
            label="rarest label",
        )
        ax.set_xticks(list(y), names, fontsize=7)
        ax.set_xlabel("reader / verifier threshold (served pair in dark blue)")
        ax.set_ylabel("% of generated digits passing")
        agreement = cal.get("reader_verifier_argmax_agreement")
        title = "Threshold pairs"
        if agreement is not None:
            title += f"; reader and verifier agree on {100 * agreement:.1f}%"
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"Calibration on {cal.get('samples', '?')} fresh digits", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    return True


def plot_metadata(meta: dict[str, Any], directory: Path) -> list[str]:
    """Every chart drawn from metadata into ``directory``; the files written."""
    written = []
    if plot_pass_rates(meta, directory / constants.PASS_RATE_PLOT_FILE):
        written.append(constants.PASS_RATE_PLOT_FILE)
    return written


def write_charts(model_dir: Path) -> list[str]:
    """Redraw the metadata charts of an installed model set, models untouched.

    For sets trained before the charts existed:
    ``python -c "from pathlib import Path; from gancaptcha_field.training
    import report; print(report.write_charts(Path('ml_models')))"``.
    """
    return plot_metadata(artifacts.read_metadata(model_dir), model_dir)
