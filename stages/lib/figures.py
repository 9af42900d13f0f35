"""Matplotlib without a display, and PNG files that depend only on what is drawn."""

from __future__ import annotations


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display on clusters and in CI)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path, **savefig) -> None:
    """Write `fig` atomically as a PNG without the version stamp, so the same figure gives the same bytes."""
    from stages.lib.files import atomic_path

    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=80, metadata={"Software": None}, **savefig)
    pyplot().close(fig)
