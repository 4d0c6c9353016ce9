"""The governance report as one self-contained HTML file: inline CSS and SVG, no external assets.

Meant to be looked at rather than read: headline numbers, a bar chart of segment sizes (below
``min_size`` in amber, with the minimum marked), a heat map of pairwise Jaccard overlap (similar
segments ordered next to each other), then the details. Every user-supplied string is escaped.
"""

from __future__ import annotations

from html import escape
from itertools import pairwise

from .governance import GovernanceReport, seriate

# A sequential blue ramp (light -> dark), interpolated in RGB; dark enough at 1.0 for white text.
_RAMP = [(0.0, (247, 249, 252)), (0.15, (198, 219, 239)), (0.4, (107, 174, 214)),
         (0.7, (33, 113, 181)), (1.0, (8, 48, 107))]  # fmt: skip
_ACCENT = "#2171b5"
_WARN = "#d98e04"


def _color(x: float) -> str:
    x = min(1.0, max(0.0, x))
    for (x0, c0), (x1, c1) in pairwise(_RAMP):
        if x <= x1:
            t = 0.0 if x1 == x0 else (x - x0) / (x1 - x0)
            r, g, b = (round(a + (b - a) * t) for a, b in zip(c0, c1, strict=True))
            return f"#{r:02x}{g:02x}{b:02x}"
    return "#08306b"


def _fmt(n: int) -> str:
    return f"{n:,}"


def _bars(report: GovernanceReport) -> str:
    stats = sorted(report.segments, key=lambda s: (-s.size, s.key))
    if not stats:
        return "<p class='muted'>No segments defined.</p>"
    label_w, bar_w, row_h, value_w = 210, 560, 24, 150
    top = _nice(max([s.size for s in stats] + [1]))
    height = row_h * len(stats) + 28
    out = [
        f"<svg viewBox='0 0 {label_w + bar_w + value_w} {height}' "
        f"width='{label_w + bar_w + value_w}' height='{height}' role='img' "
        "aria-label='Segment sizes'>"
    ]
    for k in range(5):  # light grid with round numbers
        x = label_w + bar_w * k / 4
        out.append(
            f"<line x1='{x:.1f}' y1='4' x2='{x:.1f}' y2='{height - 22}' class='grid'/>"
            f"<text x='{x:.1f}' y='{height - 6}' class='axis' text-anchor='middle'>"
            f"{_fmt(round(top * k / 4))}</text>"
        )
    for r, s in enumerate(stats):
        y = 6 + r * row_h
        w = bar_w * s.size / top
        fill = _WARN if s.below_min else _ACCENT
        title = escape(
            f"{s.name} ({s.key}): {s.size:,} members, {s.share:.1%} of profiles, "
            f"{s.exclusive:,} only here; min_size {s.min_size:,}"
        )
        out.append(
            f"<g><title>{title}</title>"
            f"<text x='{label_w - 10}' y='{y + 15}' class='label' text-anchor='end'>"
            f"{escape(_short(s.key, 28))}</text>"
            f"<rect x='{label_w}' y='{y + 3}' width='{max(w, 1.5):.1f}' height='{row_h - 8}' "
            f"rx='3' fill='{fill}'/>"
            f"<text x='{label_w + w + 8:.1f}' y='{y + 15}' class='value'>{_fmt(s.size)} "
            f"<tspan class='muted'>· {s.share:.1%}</tspan></text>"
        )
        if s.min_size and s.min_size <= top:
            mx = label_w + bar_w * s.min_size / top
            out.append(
                f"<line x1='{mx:.1f}' y1='{y + 1}' x2='{mx:.1f}' y2='{y + row_h - 3}' "
                "class='minmark'/>"
            )
        elif s.min_size:  # the minimum is off the chart: say so at its edge
            out.append(
                f"<text x='{label_w + bar_w - 2}' y='{y + 15}' class='axis minoff' "
                f"text-anchor='end'>min {_fmt(s.min_size)} &#8250;</text>"
            )
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


def _nice(x: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^k at or above x: round axis ends."""
    import math

    if x <= 0:
        return 1.0
    base = 10 ** math.floor(math.log10(x))
    return float(next(m * base for m in (1, 2, 2.5, 5, 10) if m * base >= x))


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _heatmap(report: GovernanceReport) -> str:
    n = len(report.keys)
    if n < 2:
        return "<p class='muted'>Overlaps need at least two segments.</p>"
    order = seriate(report)
    cell = max(10, min(40, 760 // n))
    label_w = 200
    longest = max(len(_short(k, 26)) for k in report.keys)
    top_h = round(16 + longest * 6.4 * 0.82)  # rotated labels: height of the longest one
    size = cell * n
    show_numbers = cell >= 26
    out = [
        f"<svg viewBox='0 0 {label_w + size + 20} {top_h + size + 10}' "
        f"width='{label_w + size + 20}' height='{top_h + size + 10}' role='img' "
        "aria-label='Pairwise overlap (Jaccard)'>"
    ]
    font = 11 if cell >= 14 else 9
    for c, j in enumerate(order):
        x = label_w + c * cell + cell / 2
        out.append(
            f"<text transform='translate({x + font / 3:.1f},{top_h - 6}) rotate(-55)' "
            f"class='label' style='font-size:{font}px'>{escape(_short(report.keys[j], 26))}</text>"
        )
    for r, i in enumerate(order):
        y = top_h + r * cell
        out.append(
            f"<text x='{label_w - 8}' y='{y + cell / 2 + font / 3:.1f}' class='label' "
            f"text-anchor='end' style='font-size:{font}px'>"
            f"{escape(_short(report.keys[i], 28))}</text>"
        )
        for c, j in enumerate(order):
            x = label_w + c * cell
            value = report.jaccard[i][j]
            if i == j:
                fill, tip = "#e9e9e6", f"{report.keys[i]}"
            else:
                fill = _color(value**0.5)  # sqrt: small overlaps stay visible
                tip = f"{report.keys[i]} / {report.keys[j]}: Jaccard {value:.2f}"
            out.append(
                f"<g><title>{escape(tip)}</title><rect x='{x}' y='{y}' width='{cell - 1}' "
                f"height='{cell - 1}' fill='{fill}'/>"
            )
            if show_numbers and i != j and value >= 0.005:
                ink = "#fff" if value**0.5 > 0.55 else "#1d2733"
                out.append(
                    f"<text x='{x + (cell - 1) / 2:.1f}' y='{y + cell / 2 + 3.5:.1f}' "
                    f"text-anchor='middle' class='num' style='fill:{ink}'>"
                    f"{value:.2f}".replace("0.", ".", 1)
                    + "</text>"
                )
            out.append("</g>")
    out.append("</svg>")
    return "".join(out)


def _legend() -> str:
    stops = "".join(
        f"<stop offset='{k / 10:.1f}' stop-color='{_color((k / 10) ** 0.5)}'/>" for k in range(11)
    )
    return (
        "<svg width='260' height='34' viewBox='0 0 260 34' aria-hidden='true'>"
        f"<defs><linearGradient id='ramp'>{stops}</linearGradient></defs>"
        "<rect x='0' y='2' width='260' height='12' rx='2' fill='url(#ramp)'/>"
        "<text x='0' y='30' class='axis'>0 (disjoint)</text>"
        "<text x='130' y='30' class='axis' text-anchor='middle'>0.5</text>"
        "<text x='260' y='30' class='axis' text-anchor='end'>1 (same)</text></svg>"
    )


def _kpi(label: str, value: str, note: str = "", bad: bool = False) -> str:
    cls = "kpi bad" if bad else "kpi"
    return (
        f"<div class='{cls}'><div class='kpi-label'>{escape(label)}</div>"
        f"<div class='kpi-value'>{escape(value)}</div>"
        f"<div class='kpi-note'>{escape(note)}</div></div>"
    )


def _table(report: GovernanceReport) -> str:
    rows = []
    for s in sorted(report.segments, key=lambda s: (-s.size, s.key)):
        status = (
            "<span class='pill warn'>empty</span>"
            if s.size == 0
            else "<span class='pill warn'>below min</span>"
            if s.below_min
            else "<span class='pill ok'>ok</span>"
        )
        rows.append(
            f"<tr><td><code>{escape(s.key)}</code></td><td>{escape(s.name)}</td>"
            f"<td class='r'>{_fmt(s.size)}</td><td class='r'>{s.share:.1%}</td>"
            f"<td class='r'>{_fmt(s.exclusive)}</td><td class='r'>{_fmt(s.min_size)}</td>"
            f"<td>{status}</td></tr>"
        )
    return (
        "<table><thead><tr><th>key</th><th>name</th><th class='r'>members</th>"
        "<th class='r'>share</th><th class='r'>only here</th><th class='r'>min size</th>"
        f"<th></th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _pairs(report: GovernanceReport, limit: int = 12) -> str:
    if not report.overlaps:
        return "<p class='muted'>No two segments share a member.</p>"
    rows = []
    for o in report.overlaps[:limit]:
        flag = ""
        if o.jaccard >= report.near_duplicate_threshold:
            flag = "<span class='pill warn'>near-duplicate</span>"
        elif o.containment >= 0.95:
            flag = "<span class='pill info'>nested</span>"
        width = round(120 * o.jaccard)
        rows.append(
            f"<tr><td><code>{escape(o.a)}</code></td><td><code>{escape(o.b)}</code></td>"
            f"<td class='r'>{_fmt(o.intersection)}</td>"
            f"<td class='r'><span class='spark' style='width:{width}px'></span> "
            f"{o.jaccard:.2f}</td><td class='r'>{o.containment:.0%}</td><td>{flag}</td></tr>"
        )
    return (
        "<table><thead><tr><th>segment</th><th>segment</th><th class='r'>shared</th>"
        "<th class='r'>Jaccard</th><th class='r'>of smaller</th><th></th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


_CSS = """
:root { --ink:#1d2733; --muted:#6b7785; --line:#e4e7eb; --bg:#f6f7f9; --card:#fff;
        --accent:#2171b5; --warn:#d98e04; --bad:#c0392b; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font: 14px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue",
             Arial, sans-serif; }
main { max-width: 1040px; margin: 0 auto; padding: 32px 28px 56px; }
h1 { font-size: 26px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 17px; margin: 0 0 4px; }
.sub { color: var(--muted); margin: 0 0 24px; }
.kpis { display: grid; grid-template-columns: repeat(4, 1fr); gap: 14px; margin-bottom: 18px; }
.kpi { background: var(--card); border-radius: 10px; padding: 14px 16px;
       box-shadow: 0 1px 2px rgba(16,24,40,.06), 0 0 0 1px var(--line); }
.kpi.bad { box-shadow: 0 0 0 2px var(--warn); }
.kpi-label { color: var(--muted); font-size: 12px; text-transform: uppercase;
             letter-spacing: .06em; }
.kpi-value { font-size: 26px; font-weight: 650; margin-top: 2px; }
.kpi-note { color: var(--muted); font-size: 12px; min-height: 18px; }
section { background: var(--card); border-radius: 10px; padding: 18px 20px 20px;
          margin: 0 0 18px; box-shadow: 0 1px 2px rgba(16,24,40,.06), 0 0 0 1px var(--line);
          overflow-x: auto; }
section p.hint { color: var(--muted); margin: 0 0 12px; font-size: 13px; }
.warnings { background: #fff8e6; box-shadow: 0 0 0 1px #f3d48a; }
.warnings ul { margin: 6px 0 0; padding-left: 20px; }
.warnings li { margin: 3px 0; }
svg text { fill: var(--ink); font-family: inherit; }
svg .label { font-size: 12px; }
svg .value { font-size: 12px; font-weight: 600; }
svg .muted, .muted { fill: var(--muted); color: var(--muted); font-weight: 400; }
svg .axis { font-size: 10px; fill: var(--muted); }
svg .num { font-size: 10px; font-variant-numeric: tabular-nums; }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .minmark { stroke: var(--bad); stroke-width: 2; }
svg .minoff { fill: var(--bad); }
.legend { display: flex; align-items: center; gap: 18px; color: var(--muted); font-size: 12px;
          margin-top: 8px; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px;
          vertical-align: -1px; margin-right: 5px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th { text-align: left; color: var(--muted); font-weight: 600; font-size: 12px;
     border-bottom: 1px solid var(--line); padding: 6px 8px; }
td { border-bottom: 1px solid var(--line); padding: 6px 8px; vertical-align: middle; }
tr:last-child td { border-bottom: 0; }
.r { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 11px;
        font-weight: 600; }
.pill.ok { background: #e7f5ec; color: #1e7b45; }
.pill.warn { background: #fff1d6; color: #8a5a00; }
.pill.info { background: #e8f0fb; color: #1f4e99; }
.spark { display: inline-block; height: 8px; background: var(--accent); border-radius: 2px;
         vertical-align: 0; opacity: .75; }
.grid2 { display: grid; grid-template-columns: 1fr; gap: 18px; }
footer { color: var(--muted); font-size: 12px; text-align: center; margin-top: 24px; }
"""


def render_html(report: GovernanceReport, *, title: str = "Segment governance") -> str:
    """The whole report as one HTML document (a string you can write to a file)."""
    over = report.too_many
    kpis = "".join(
        [
            _kpi("Profiles", _fmt(report.population)),
            _kpi(
                "Active segments",
                f"{report.active} / {report.max_active}",
                "more than a team can manage" if over else "within what a team can manage",
                bad=over,
            ),
            _kpi(
                "In no segment",
                _fmt(report.unassigned),
                f"{report.unassigned_share:.1%} of profiles",
            ),
            _kpi(
                "Warnings",
                str(len(report.warnings)),
                f"{len(report.near_duplicates)} near-duplicate pairs",
                bad=bool(report.warnings),
            ),
        ]
    )
    warnings = ""
    if report.warnings:
        items = "".join(f"<li>{escape(w)}</li>" for w in report.warnings)
        warnings = f"<section class='warnings'><h2>Needs attention</h2><ul>{items}</ul></section>"
    as_of = f" · as of {report.as_of:%Y-%m-%d %H:%M} UTC" if report.as_of else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{_CSS}</style></head>
<body><main>
<h1>{escape(title)}</h1>
<p class="sub">{report.active} segments over {_fmt(report.population)} profiles{as_of}
 · generated {report.generated_at:%Y-%m-%d %H:%M} UTC in {report.seconds:.2f} s</p>
<div class="kpis">{kpis}</div>
{warnings}
<section><h2>Segment sizes</h2>
<p class="hint">Members per segment and share of all profiles. Amber: below the segment's
<code>min_size</code> (red tick).</p>
{_bars(report)}
<div class="legend"><span><span class="swatch" style="background:{_ACCENT}"></span>size ok</span>
<span><span class="swatch" style="background:{_WARN}"></span>below min_size</span></div>
</section>
<section><h2>Overlap between segments</h2>
<p class="hint">Jaccard index: shared members / members of either. Similar segments are placed
next to each other; a dark block off the diagonal is a candidate for merging.</p>
{_heatmap(report)}
<div class="legend">{_legend()}</div>
</section>
<section><h2>Largest overlaps</h2>{_pairs(report)}</section>
<section><h2>All segments</h2>{_table(report)}</section>
<footer>martech segments report · near-duplicate threshold Jaccard ≥
{report.near_duplicate_threshold:.2f} · max active {report.max_active}</footer>
</main></body></html>
"""
