"""Bar charts as plain SVG rendered on the server: no JavaScript library, nothing fetched at runtime."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

# The SVG scales to its box, text included: the drawing is about as wide as a phone's card (~340 px) so a
# 12-unit label renders at >= 11 px there, and grows (capped by the stylesheet's max-height) on a laptop.
WIDTH, HEIGHT = 360, 200
PAD_LEFT, PAD_BOTTOM, PAD_TOP = 44, 36, 10
MAX_DAY_LABELS = 6  # "dd/mm" is ~34 units wide at 12 units: six fit without overlapping


def bar_chart(labels: Sequence[str], series: Sequence[tuple[str, Sequence[int], str]], title: str) -> Markup:
    """Grouped bars: `series` is (name, values, colour), one value per label.  Scales to its container."""
    if not labels:
        return Markup(f'<p class="muted">{escape(title)}: —</p>')
    top = max([max(values, default=0) for _, values, _ in series] + [1])
    plot_w, plot_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP
    slot = plot_w / len(labels)
    bar_w = max(1.0, slot * 0.8 / len(series))
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
             f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">',
             f'<title>{escape(title)}</title>']
    for fraction in (0, 0.5, 1):
        y = PAD_TOP + plot_h * (1 - fraction)
        parts.append(f'<line x1="{PAD_LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">'
                     f'{round(top * fraction):,}</text>')
    step = -(-len(labels) // MAX_DAY_LABELS)  # ceiling: at most MAX_DAY_LABELS day labels
    for i, label in enumerate(labels):
        x0 = PAD_LEFT + i * slot + slot * 0.1
        for j, (name, values, colour) in enumerate(series):
            value = values[i] if i < len(values) else 0
            h = plot_h * value / top
            parts.append(f'<rect x="{x0 + j * bar_w:.1f}" y="{PAD_TOP + plot_h - h:.1f}" width="{bar_w:.1f}" '
                         f'height="{h:.1f}" fill="{colour}"><title>{escape(label)} – {escape(name)}: {value:,}'
                         f'</title></rect>')
        if i % step == 0:
            parts.append(f'<text x="{PAD_LEFT + (i + 0.5) * slot:.1f}" y="{HEIGHT - PAD_BOTTOM + 16}" '
                         f'text-anchor="middle" class="axis">{escape(label)}</text>')
    legend_x = PAD_LEFT
    for name, _, colour in series:
        parts.append(f'<rect x="{legend_x}" y="{HEIGHT - 12}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{legend_x + 14}" y="{HEIGHT - 3}" class="axis">{escape(name)}</text>')
        legend_x += 24 + 7 * len(name)
    parts.append("</svg>")
    return Markup("".join(parts))
