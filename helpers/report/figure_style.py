"""What every figure of the study shares to print legibly: the width figures are drawn at (the width
they print at), the font sizes, measuring and fitting text, one legend below the panels, and shaded
95 % intervals. `helpers.report.legibility.check_figure` checks the result on every saved figure."""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

# Figures are drawn at the size they print: the report scales a figure to at most 0.9 of the text
# width (0.9 × 6.9 in at 0.8 in margins = 6.2 in; nbconvert's adjustbox default) and 0.72 of the text
# height (6.8 in), so one drawn PRINT_WIDTH wide (plus the tight bounding box's margin) keeps its
# font sizes, and no text in it is smaller than SMALL points (the legibility floor is 7 pt on paper).
# `helpers.report.legibility.check_figure` measures this on every figure `Stage.show_figure` saves.
PRINT_WIDTH = 6.0  # inches
SMALL = 7.5  # points: panel titles, ticks, legends, colorbar labels, numbers in cells
LABEL = 8.0  # points: axis labels
TITLE = 9.0  # points: panel titles
INTERVAL = "interval:"  # gid prefix of a shaded 95 % interval band, followed by its line's label


@lru_cache(maxsize=4096)
def text_width(text: str, size: float = SMALL) -> float:
    """Width in inches of the widest line of `text` at `size` points (matplotlib's default font)."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties
    renderer, prop = RendererAgg(1, 1, 72), FontProperties(size=size)
    return max((renderer.get_text_width_height_descent(line, prop, ismath=False)[0] if line else 0.0)
               for line in str(text).split("\n")) / 72


def fit_text(text: str, width: float, size: float = SMALL) -> str:
    """`text` with every line wider than `width` inches (at `size` points) broken, after a '/',
    space, '_' or '-' where one fits, else between characters, so that no line overruns its panel."""
    out = []
    for line in str(text).split("\n"):
        while line and text_width(line, size) > width:
            cut = max(1, max((i + 1 for i, ch in enumerate(line[:-1]) if ch in "/ _-"
                              and text_width(line[:i + 1], size) <= width), default=0))
            if cut == 1:  # no break point fits: as many characters as fit
                cut = max([1] + [i for i in range(1, len(line)) if text_width(line[:i], size) <= width])
            out.append(line[:cut].rstrip())
            line = line[cut:].lstrip()
        out.append(line)
    return "\n".join(out)


def legend_below(fig, axes, fontsize: float = SMALL, **kwargs):
    """One legend for the whole figure below its panels (the labels of `axes`, each once), in as
    many columns as fit PRINT_WIDTH; the figure grows by the legend's height, so the panels keep
    theirs. The figure must use the constrained layout. Returns the legend (None without labels)."""
    entries: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    if not entries:
        return None
    entry = max(text_width(label, fontsize) for label in entries) + 0.55  # handle, gap and spacing
    ncol = max(1, min(len(entries), int(PRINT_WIDTH // entry)))
    rows = -(-len(entries) // ncol)
    width, height = fig.get_size_inches()
    fig.set_size_inches(width, height + rows * fontsize * 1.45 / 72 + 0.12)
    return fig.legend(list(entries.values()), list(entries), loc="outside lower center", ncol=ncol,
                      fontsize=fontsize, frameon=False, **kwargs)


def interval_band(ax, x, rates: Sequence[float], n: int | None, color: str, label: str) -> None:
    """A shaded 95 % Wilson interval around per-point rates measured over n items (none without n)."""
    if not n:
        return
    from ..evaluation.intervals import wilson
    bounds = [wilson(min(n, max(0, round(r * n))), n) for r in rates]
    ax.fill_between(x, [b[0] for b in bounds], [b[1] for b in bounds], color=color, alpha=0.15, lw=0,
                    label="_nolegend_", gid=INTERVAL + label)


def distinct_series(series: dict[str, tuple]) -> dict[str, tuple]:
    """The series (label -> (x, y, ...)) with those of identical x and y merged into one whose label
    joins theirs ('a = b'), so that no line hides another (`legibility` rejects hidden series)."""
    merged: dict[tuple, tuple[str, tuple]] = {}
    for label, values in series.items():
        key = (tuple(map(float, values[0])), tuple(map(float, values[1])))
        merged[key] = (f"{merged[key][0]} = {label}", merged[key][1]) if key in merged else (label, values)
    return dict(merged.values())
