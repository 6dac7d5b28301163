"""The training report: loss curves and a labelled sample grid (matplotlib)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never a window
import matplotlib.pyplot as plt

from gancaptcha_field.lab.sheets import contact_sheet, save_figure

__all__ = ["contact_sheet", "plot_losses"]


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
