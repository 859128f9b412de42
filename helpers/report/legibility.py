"""Is a figure legible in print? The check `Stage.show_figure` runs on every figure before saving it.

How a figure reaches paper: `show_figure` saves it as a PNG with `bbox_inches="tight"` (the drawn
content plus `savefig.pad_inches`) at 150 dpi; the PDF includes the PNG at its natural size (150 dpi)
unless that is wider than 0.9 of the text width (nbconvert's `\\adjustboxset{max size={0.9\\linewidth}
{0.9\\paperheight}}`, which applies to every `\\includegraphics`, inside figure_latex's own `max
width=\\linewidth`) or taller than `latex.MAX_FIGURE_HEIGHT` (0.72 of the text height); then it is
scaled down, keeping its aspect ratio, and every font in it shrinks by the same factor.

`check_figure` draws the figure once without rendering, and reports:

- the printed scale: min(1, printed width / saved width, maximum height / saved height);
- every visible, non-empty text that was drawn (titles, suptitles, tick labels, axis labels,
  legend entries, annotations, bar labels, colorbar labels) whose printed size, font size × scale,
  is under `min_pt` points, and the smallest printed size of all;
- colour scales without a colorbar: images of 2-D scalar data (not RGB photos), meshes and other
  collections coloured through a colormap, with neither a colorbar of their own nor one of another
  mappable of the same colormap and limits;
- texts that overlap one another (horizontal or vertical ones; the boxes of other rotations are
  too loose to tell);
- hidden series: two lines (or two step outlines) of one Axes with identical data, one hiding the
  other, and lines with points outside the Axes' limits (a clipped or off-scale series);
- legends over data: a legend box that a plotted line, marker, bar or error bar crosses.

It is generic: it reads matplotlib artists only, so it works for any study's figures.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from . import latex

# The printed page (report/study.tex.j2): US letter, 0.8 in margins all round.
TEXT_WIDTH_IN = latex.TEXT_WIDTH_PT / 72.27            # 6.9 in
TEXT_HEIGHT_IN = 11.0 - 2 * 0.8                        # 9.4 in
PAPER_HEIGHT_IN = 11.0
ADJUSTBOX_MAX = 0.9  # nbconvert's template limits every included image to 0.9 linewidth and 0.9 paperheight
_HEIGHT_FRACTION = float(re.match(r"\s*([0-9.]+)\s*\\textheight", latex.MAX_FIGURE_HEIGHT).group(1))
PRINTED_WIDTH_IN = ADJUSTBOX_MAX * TEXT_WIDTH_IN       # 6.21 in: the widest a figure prints
PRINTED_MAX_HEIGHT_IN = min(_HEIGHT_FRACTION * TEXT_HEIGHT_IN, ADJUSTBOX_MAX * PAPER_HEIGHT_IN)  # 6.77 in
MIN_PT = 7.0  # the legibility floor on paper, in points


@dataclass
class Legibility:
    """The result of `check_figure` for one figure (sizes in inches and printed points)."""
    width_in: float                   # the saved (tight bounding box) size
    height_in: float
    scale: float                      # printed size / saved size, at most 1
    smallest_pt: float | None         # the smallest printed font size of a drawn text (None: no text)
    min_pt: float = MIN_PT
    small_texts: list[dict[str, Any]] = field(default_factory=list)   # {'text', 'pt', 'axes'} under min_pt
    overlapping_texts: list[str] = field(default_factory=list)        # pairs of texts drawn over each other
    no_colorbar: list[str] = field(default_factory=list)              # colour scales without a colorbar
    hidden_series: list[str] = field(default_factory=list)            # identical or off-scale lines
    legend_overlaps: list[str] = field(default_factory=list)          # legends that data cross

    @property
    def ok(self) -> bool:
        return not (self.small_texts or self.overlapping_texts or self.no_colorbar or self.hidden_series
                    or self.legend_overlaps)

    def problems(self) -> list[str]:
        """One line per problem, for a log or an assertion message."""
        shown = ", ".join(f"{t['text']!r} {t['pt']:.1f} pt" for t in self.small_texts[:6])
        more = f" and {len(self.small_texts) - 6} more" if len(self.small_texts) > 6 else ""
        return ([f"{len(self.small_texts)} texts print under {self.min_pt:g} pt (scale {self.scale:.2f}): {shown}{more}"]
                if self.small_texts else []) + \
            [f"texts overlap: {o}" for o in self.overlapping_texts] + \
            [f"colour scale without colorbar: {m}" for m in self.no_colorbar] + \
            [f"hidden series: {h}" for h in self.hidden_series] + \
            [f"legend over data: {o}" for o in self.legend_overlaps]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the fields, `ok`, sizes rounded."""
        d = asdict(self)
        for k in ("width_in", "height_in", "scale", "smallest_pt"):
            d[k] = None if d[k] is None else round(d[k], 3)
        for t in d["small_texts"]:
            t["pt"] = round(t["pt"], 2)
        return {"ok": self.ok, **d}


@contextmanager
def _drawn_texts():
    """Collect the Text artists that draw themselves (visible, non-empty, inside a drawn parent)."""
    from matplotlib.text import Text
    seen: dict[int, Any] = {}
    original = Text.draw

    def spy(self, renderer, *args, **kwargs):
        if self.get_visible() and self.get_text().strip():
            seen[id(self)] = self
        return original(self, renderer, *args, **kwargs)

    Text.draw = spy
    try:
        yield seen
    finally:
        Text.draw = original


def _is_colorbar_axes(ax) -> bool:
    return getattr(ax, "_colorbar", None) is not None or ax.get_label() == "<colorbar>"


def _axes_name(ax) -> str:
    if ax is None:
        return "figure"
    title = next((t for t in (ax.get_title(loc) for loc in ("center", "left", "right")) if t), "")
    return title.replace("\n", " ")[:40] or ax.get_label() or "axes"


def _colour_scales(fig) -> list[str]:
    """Scalar colour scales (images of 2-D scalar data, colour-mapped meshes and collections)
    with no colorbar of their own and none of another mappable with the same colormap and limits."""
    mappables = []
    for ax in fig.axes:
        if _is_colorbar_axes(ax) or not ax.get_visible():
            continue
        for m in list(ax.images) + list(ax.collections):
            if not m.get_visible():
                continue
            arr = m.get_array()
            if arr is None or (m in ax.images and np.ndim(arr) != 2):  # RGB(A) images carry their own colours
                continue
            mappables.append((ax, m))

    def scale(m):
        return m.get_cmap().name, m.norm.vmin, m.norm.vmax, type(m.norm).__name__

    with_bar = {scale(m) for _, m in mappables if m.colorbar is not None}
    return [f"{type(m).__name__} in '{_axes_name(ax)}'" for ax, m in mappables
            if m.colorbar is None and scale(m) not in with_bar]


def _overlapping_texts(texts, renderer, dpi: float, tolerance_pt: float = 1.0) -> list[str]:
    """Pairs of drawn texts, each horizontal or vertical, whose boxes overlap by more than
    `tolerance_pt` points both ways."""
    upright = [t for t in texts if round(t.get_rotation()) % 90 == 0]
    if len(upright) < 2:
        return []
    boxes = np.array([t.get_window_extent(renderer).extents for t in upright])  # x0, y0, x1, y1 in pixels
    tol = tolerance_pt * dpi / 72
    w = np.minimum(boxes[:, None, 2], boxes[None, :, 2]) - np.maximum(boxes[:, None, 0], boxes[None, :, 0])
    h = np.minimum(boxes[:, None, 3], boxes[None, :, 3]) - np.maximum(boxes[:, None, 1], boxes[None, :, 1])
    i, j = np.nonzero(np.triu((w > tol) & (h > tol), k=1))

    def name(t):
        return repr(t.get_text().replace("\n", " ")[:30])
    return [f"{name(upright[a])} and {name(upright[b])} in '{_axes_name(upright[a].axes)}'" for a, b in zip(i, j)]


def _xy(line) -> np.ndarray | None:
    try:
        xy = np.asarray(line.get_xydata(), dtype=float)
    except (TypeError, ValueError):
        return None
    return xy if xy.size else None


def _hidden_series(fig) -> list[str]:
    """Lines of one Axes with identical data (error-bar caps aside), and data lines with points
    outside the Axes' view limits."""
    out = []
    for ax in fig.axes:
        if _is_colorbar_axes(ax) or not ax.get_visible():
            continue
        caps = {id(c) for cont in ax.containers if hasattr(cont, "has_yerr") for c in cont.lines[1]}
        lines = [ln for ln in ax.lines if ln.get_visible() and id(ln) not in caps]
        seen: dict[tuple, str] = {}
        for ln in lines:
            xy = _xy(ln)
            if xy is None:
                continue
            key = (id(ln.get_transform()), xy.shape, np.round(xy, 12).tobytes())
            label = ln.get_label()
            if key in seen:
                out.append(f"'{label}' has the same data as '{seen[key]}' in '{_axes_name(ax)}'")
            else:
                seen[key] = label
            if ln.get_transform() is ax.transData:
                (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
                tx, ty = 1e-9 * max(1.0, x1 - x0), 1e-9 * max(1.0, y1 - y0)
                finite = xy[np.isfinite(xy).all(1)]
                outside = ((finite[:, 0] < x0 - tx) | (finite[:, 0] > x1 + tx)
                           | (finite[:, 1] < y0 - ty) | (finite[:, 1] > y1 + ty))
                if outside.any():
                    out.append(f"'{label}' has {int(outside.sum())} of {len(finite)} points outside the limits of "
                               f"'{_axes_name(ax)}'")
        outlines: dict[bytes, str] = {}  # step histograms and stairs: unfilled outlines
        for p in ax.patches:
            if p.get_visible() and not p.get_fill() and type(p).__name__ in ("Polygon", "StepPatch"):
                key = np.round(np.asarray(p.get_path().vertices, dtype=float), 12).tobytes()
                if key in outlines:
                    out.append(f"'{p.get_label()}' has the same outline as '{outlines[key]}' in '{_axes_name(ax)}'")
                else:
                    outlines[key] = p.get_label()
    return out


_NO_LINE = {"None", "none", "", " "}


def _legend_overlaps(fig, renderer) -> list[str]:
    """Legends whose box a plotted line, marker, data patch or error bar crosses (within the
    Axes the data are drawn in)."""
    from matplotlib.legend import Legend
    from matplotlib.transforms import Bbox
    out = []
    legends = [lg for lg in fig.findobj(Legend) if lg.get_visible()]
    for lg in legends:
        box = lg.get_window_extent(renderer)
        for ax in fig.axes:
            if _is_colorbar_axes(ax) or not ax.get_visible():
                continue
            inner = Bbox.intersection(box, ax.bbox)
            if inner is None or inner.width <= 0 or inner.height <= 0:
                continue
            hits = []
            for ln in ax.lines:
                if not ln.get_visible() or _xy(ln) is None:
                    continue
                path = ln.get_transform().transform_path(ln.get_path())
                crossed = (ln.get_linestyle() not in _NO_LINE and path.intersects_bbox(inner, filled=False))
                pad = ln.get_markersize() / 2 * fig.dpi / 72 if ln.get_marker() not in _NO_LINE else 0
                marked = pad and inner.padded(pad).count_contains(path.vertices) > 0
                if crossed or marked:
                    hits.append(ln.get_label())
            for p in ax.patches:
                if p.get_visible() and p.get_transform() is not ax.transAxes:
                    ext = p.get_window_extent(renderer)
                    if ext.width > 0 and ext.height > 0 and ext.overlaps(inner) and ext.width < 0.98 * ax.bbox.width:
                        hits.append(p.get_label() or type(p).__name__)
            for c in ax.collections:
                if c.get_visible() and c.get_array() is None:
                    t = c.get_transform()
                    if any(t.transform_path(path).intersects_bbox(inner, filled=False) for path in c.get_paths()):
                        hits.append(c.get_label() or type(c).__name__)
            if hits:
                names = ", ".join(dict.fromkeys(h for h in hits if not h.startswith("_"))) or f"{len(hits)} artists"
                out.append(f"legend in '{_axes_name(lg.axes)}' over {names} in '{_axes_name(ax)}'")
    return out


def check_figure(fig, printed_width: float = PRINTED_WIDTH_IN, max_height: float = PRINTED_MAX_HEIGHT_IN,
                 min_pt: float = MIN_PT, pad_inches: float | None = None) -> Legibility:
    """Check `fig` as it will print: saved with a tight bounding box (padded by `pad_inches`,
    savefig's default when None) and scaled to at most `printed_width` × `max_height` inches."""
    import matplotlib

    pad = matplotlib.rcParams["savefig.pad_inches"] if pad_inches is None else pad_inches
    pad = pad if isinstance(pad, (int, float)) else 0.1
    with _drawn_texts() as texts:
        fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer() if hasattr(fig.canvas, "get_renderer") else fig._get_renderer()
    box = fig.get_tightbbox(renderer)
    width, height = box.width + 2 * pad, box.height + 2 * pad
    scale = min(1.0, printed_width / width, max_height / height)
    sizes = [(t, t.get_fontsize() * scale) for t in texts.values()]
    small = sorted(({"text": t.get_text().replace("\n", " ")[:60], "pt": pt, "axes": _axes_name(t.axes)}
                    for t, pt in sizes if pt < min_pt - 1e-9), key=lambda s: s["pt"])
    return Legibility(width, height, scale, min((pt for _, pt in sizes), default=None), min_pt, small,
                      _overlapping_texts(list(texts.values()), renderer, fig.dpi), _colour_scales(fig),
                      _hidden_series(fig), _legend_overlaps(fig, renderer))
