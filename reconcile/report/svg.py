"""Inline SVG charts for report.html: no script, no font or file from outside the page."""

from __future__ import annotations

from html import escape

from .common import text_width

SEVERITY_COLORS = {"high": "#c0392b", "medium": "#e67e22", "low": "#7f9fbf"}
SEVERITY_NAMES = {"high": "高", "medium": "中", "low": "低"}
CHAR_PX = 7.0  # px per narrow character at 13px (a CJK character counts as two)


def _label_px(labels: list[str]) -> float:
    return max([text_width(label) for label in labels] + [4]) * CHAR_PX + 12


def stacked_bars(rows: list[tuple[str, dict[str, int]]], chart_id: str, width: int = 760, bar_h: int = 20,
                 title: str = "") -> str:
    """Horizontal bars, one per row, stacked by severity; the total is printed at the end of each bar."""
    if not rows:
        return '<p class="empty">没有问题</p>'
    left = _label_px([r[0] for r in rows])
    right = 48
    plot = max(120.0, width - left - right)
    top = 26
    height = top + len(rows) * (bar_h + 6) + 8
    biggest = max(sum(parts.values()) for _, parts in rows) or 1
    out = [f'<svg id="{chart_id}" class="chart bars" xmlns="http://www.w3.org/2000/svg" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">']
    x = left
    for key in ("high", "medium", "low"):  # legend
        out.append(f'<rect x="{x:.0f}" y="4" width="12" height="12" fill="{SEVERITY_COLORS[key]}"/>'
                   f'<text x="{x + 16:.0f}" y="14" class="legend">{SEVERITY_NAMES[key]}</text>')
        x += 46
    for i, (label, parts) in enumerate(rows):
        y = top + i * (bar_h + 6)
        total = sum(parts.values())
        out.append(f'<g class="bar" data-label="{escape(label)}" data-total="{total}">')
        out.append(f'<text x="{left - 8:.0f}" y="{y + bar_h * 0.72:.1f}" text-anchor="end">{escape(label)}</text>')
        x = left
        for key in ("high", "medium", "low"):
            n = parts.get(key, 0)
            if not n:
                continue
            w = plot * n / biggest
            out.append(f'<rect x="{x:.1f}" y="{y}" width="{max(w, 1):.1f}" height="{bar_h}" '
                       f'fill="{SEVERITY_COLORS[key]}"><title>{escape(label)}:{SEVERITY_NAMES[key]} {n}</title></rect>')
            x += w
        out.append(f'<text x="{x + 6:.1f}" y="{y + bar_h * 0.72:.1f}" class="num">{total}</text></g>')
    out.append("</svg>")
    return "".join(out)


def _heat_color(value: int, biggest: int) -> str:
    if not value:
        return "#f7f7f7"
    t = value / biggest if biggest else 0
    # from light amber to deep red
    r1, g1, b1 = 0xFF, 0xE8, 0xB0
    r2, g2, b2 = 0xB0, 0x1E, 0x1E
    r, g, b = (round(a + (c - a) * t) for a, c in ((r1, r2), (g1, g2), (b1, b2)))
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap(row_labels: list[str], col_labels: list[str], counts: list[list[int]], chart_id: str,
            cell: int = 26) -> str:
    """Grid of villages × kinds; colour by count, the count printed in each non-empty cell."""
    if not row_labels or not col_labels:
        return '<p class="empty">没有问题</p>'
    left = _label_px(row_labels)
    head = min(220.0, _label_px(col_labels) * 0.75 + 10)
    width = left + len(col_labels) * cell + head * 0.6 + 10  # room for the last rotated column label
    height = head + len(row_labels) * cell + 10
    biggest = max((max(r) for r in counts if r), default=1) or 1
    out = [f'<svg id="{chart_id}" class="chart heat" xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
           f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="村 × 问题类型">']
    for j, label in enumerate(col_labels):
        x = left + j * cell + cell / 2
        out.append(f'<text transform="translate({x + 4:.1f},{head - 6:.1f}) rotate(-55)" class="col">'
                   f'{escape(label)}</text>')
    for i, label in enumerate(row_labels):
        y = head + i * cell
        out.append(f'<text x="{left - 8:.0f}" y="{y + cell * 0.68:.1f}" text-anchor="end">{escape(label)}</text>')
        for j, value in enumerate(counts[i]):
            x = left + j * cell
            out.append(f'<rect class="cell" x="{x:.1f}" y="{y:.1f}" width="{cell - 2}" height="{cell - 2}" '
                       f'fill="{_heat_color(value, biggest)}"><title>{escape(label)} · {escape(col_labels[j])}:'
                       f'{value}</title></rect>')
            if value:
                color = "#fff" if value / biggest > 0.5 else "#333"
                out.append(f'<text x="{x + (cell - 2) / 2:.1f}" y="{y + cell * 0.64:.1f}" text-anchor="middle" '
                           f'class="n" style="fill:{color}">{value}</text>')
    out.append("</svg>")
    return "".join(out)
