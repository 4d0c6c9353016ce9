"""The audit's result and its three renderings: rich terminal, one JSON object, a standalone HTML.

Reports carry no PII: outputs are masked excerpts (the person's own values replaced by «trait»),
trait changes of personal traits say "first_name changed", never the values.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..models import Level

if TYPE_CHECKING:
    from rich.console import Console

LEVEL_TEXT: dict[Level, str] = {
    Level.broadcast: "the same output for everyone",
    Level.random: "varies, but not by who you are (rotation, A/B, hash bucketing)",
    Level.token_only: "one content with the person's merge tokens filled in",
    Level.segmentation: "a few coarse attributes decide: few large groups",
    Level.micro_segmentation: "conjunctions of many attributes: many small groups, still groups",
    Level.personalization: "follows the individual's own behaviour at the level of items",
}


@dataclass
class AuditReport:
    """What an audit found: the observed level, how sure, against what was claimed, and why."""

    target: str
    kind: str
    level: Level
    confidence: float
    """1 - the weakest evidence behind the label (see :mod:`martech.audit.rubric`), at most 0.999
    (1.0 for a structural label); not the probability that the label is right. 0.5 is a guess,
    near 0 the probes could not tell."""
    claimed: Level | None
    calls: int
    budget: int
    seed: int
    population: str = ""
    reason: str = ""
    traits: list[str] = field(default_factory=list)
    behaviours: list[str] = field(default_factory=list)
    token_traits: list[str] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    structural: bool = False

    @property
    def overclaim(self) -> bool:
        """True when the vendor claims more than was observed."""
        return self.claimed is not None and self.level < self.claimed

    @property
    def confirmed(self) -> bool:
        """True when a claim is met by a label sure enough to back it (confidence at least
        ``CONFIRM_AT``, or a structural label). A met claim below that is "unconfirmed": a guess
        (0.5) that happens to match what the vendor sells does not make the claim hold."""
        from .rubric import CONFIRM_AT

        met = self.claimed is not None and not self.overclaim
        return met and (self.structural or self.confidence >= CONFIRM_AT)

    @property
    def verdict(self) -> str:
        if self.claimed is None:
            return f"observed {self.level.value}"
        if self.overclaim:
            return f"OVERCLAIM: sold as {self.claimed.value}, observed {self.level.value}"
        if not self.confirmed:
            return (
                f"claim unconfirmed: {self.claimed.value} claimed, {self.level.value} observed "
                f"at confidence {self.confidence:.3f}, too weak to back it (a larger --budget "
                "may settle it)"
            )
        return f"claim holds: {self.claimed.value} claimed, {self.level.value} observed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "kind": self.kind,
            "level": self.level.value,
            "confidence": self.confidence,
            "claimed": self.claimed.value if self.claimed else None,
            "overclaim": self.overclaim,
            "confirmed": self.confirmed,
            "verdict": self.verdict,
            "reason": self.reason,
            "calls": self.calls,
            "budget": self.budget,
            "seed": self.seed,
            "population": self.population,
            "depends_on": {"traits": self.traits, "behaviours": self.behaviours},
            "token_traits": self.token_traits,
            "evidence": self.evidence,
            "stats": self.stats,
            "notes": self.notes,
            "seconds": self.seconds,
            "structural": self.structural,
        }

    def to_json(self) -> str:
        import orjson

        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2, default=str).decode()

    # -------------------------------------------------------------------------- terminal

    def render_terminal(self, console: Console) -> None:
        """A rich summary: verdict, level, dependence, classes, evidence, thresholds."""
        from rich.markup import escape
        from rich.panel import Panel
        from rich.table import Table

        colour = "red" if self.overclaim else "green" if self.confirmed else "yellow"
        head = Table.grid(padding=(0, 2))
        head.add_column(style="bold")
        head.add_column()
        head.add_row("target", escape(self.target))
        head.add_row(
            "observed",
            f"[bold]{self.level.value}[/] — {LEVEL_TEXT[self.level]} "
            f"(confidence {self.confidence:.3f})",
        )
        head.add_row("claimed", self.claimed.value if self.claimed else "-")
        head.add_row("verdict", f"[bold {colour}]{escape(self.verdict)}[/]")
        head.add_row("why", escape(self.reason))
        s = self.stats
        if not self.structural:
            head.add_row(
                "depends on", escape(", ".join(self.traits + self.behaviours) or "nothing probed")
            )
            if self.token_traits:
                head.add_row("merge tokens", escape(", ".join(self.token_traits)))
            head.add_row(
                "outputs",
                f"{s.get('distinct_outputs', 0)} distinct for {s.get('people', 0)} people; median "
                f"class {s.get('median_class_size', 0):g}; H(out)={s.get('entropy_bits', 0)} bits, "
                f"H(out|traits)={s.get('conditional_entropy_bits', 0)} bits",
            )
            noise = s.get("noise_floor", {})
            head.add_row(
                "noise floor",
                f"{noise.get('changed', 0)}/{noise.get('pairs', 0)} identical calls changed",
            )
            if s.get("fallback"):
                head.add_row(
                    "fallback",
                    f"{s.get('fallback_share', 0):.0%} of the population got the fallback",
                )
        head.add_row(
            "calls", f"{self.calls} of {self.budget} (seed {self.seed}, {self.seconds:.1f} s)"
        )
        console.print(
            Panel(head, title=f"martech audit — {escape(self.level.value)}", border_style=colour)
        )
        if self.evidence:
            console.print("[bold]evidence[/] [dim](probe pairs; the person's own values masked)[/]")
            for n, e in enumerate(self.evidence, 1):
                style = "yellow" if e.get("output_changed") else "cyan"
                change = f" · {escape(e['change'])}" if e.get("change") else ""
                console.print(f" {n}. [bold {style}]{escape(e.get('meaning', ''))}[/]")
                console.print(f"    [dim]{escape(e.get('probe', ''))}{change}[/]")
                if e.get("a") or e.get("b"):
                    console.print(f"    A: {escape(e.get('a', ''))}", soft_wrap=False)
                    console.print(f"    B: {escape(e.get('b', ''))}", soft_wrap=False)
        factors = [f for f in s.get("factors", []) if f.get("matters")]
        if factors:
            ft = Table(title="inputs the output depends on")
            for col in ("factor", "probe", "changed", "rate (95% CI)", "p (Holm)"):
                ft.add_column(col)
            for f in factors[:10]:
                low, high = f["interval95"]
                ft.add_row(
                    escape(f["factor"]),
                    f["probe"],
                    f"{f['changed']}/{f['pairs']}",
                    f"{f['change_rate']:.2f} ({low:.2f}-{high:.2f})",
                    f"{f['p_holm']:.2g}",
                )
            console.print(ft)
        for note in self.notes:
            console.print(f"[dim]note:[/] {escape(note)}")

    # ------------------------------------------------------------------------------ HTML

    def to_html(self) -> str:
        """A self-contained page (inline CSS, no scripts, no external resources)."""
        e = html.escape
        s = self.stats
        colour = "#b42318" if self.overclaim else "#067647" if self.confirmed else "#b54708"
        levels = "".join(
            f'<li class="{"on" if lv == self.level else ""}'
            f'{" claim" if lv == self.claimed else ""}">'
            f"<b>{e(lv.value)}</b><span>{e(LEVEL_TEXT[lv])}</span></li>"
            for lv in Level
        )
        evidence_rows = "".join(
            "<tr>"
            f"<td>{e(ev.get('probe', ''))}</td><td>{e(ev.get('change', ''))}</td>"
            f"<td><code>{e(ev.get('a', ''))}</code></td><td><code>{e(ev.get('b', ''))}</code></td>"
            f"<td>{e(ev.get('meaning', ''))}</td></tr>"
            for ev in self.evidence
        )
        factor_rows = "".join(
            f'<tr class="{"hit" if f["matters"] else ""}"><td>{e(f["factor"])}</td>'
            f"<td>{e(f['probe'])}</td><td>{f['changed']}/{f['pairs']}</td>"
            f"<td>{f['change_rate']:.2f} ({f['interval95'][0]:.2f}-{f['interval95'][1]:.2f})</td>"
            f"<td>{f['p_holm']:.2g}</td><td>{'yes' if f['matters'] else 'no'}</td></tr>"
            for f in s.get("factors", [])
        )
        thresholds = "".join(
            f"<tr><td>{e(k)}</td><td>{v}</td></tr>" for k, v in s.get("thresholds", {}).items()
        )
        notes = "".join(f"<li>{e(n)}</li>" for n in self.notes)
        noise = s.get("noise_floor", {})
        facts = [
            ("Depends on", ", ".join(self.traits + self.behaviours) or "nothing the probes varied"),
            ("Merge tokens", ", ".join(self.token_traits) or "none"),
            (
                "Distinct outputs",
                f"{s.get('distinct_outputs', '-')} for {s.get('people', '-')} people",
            ),
            ("Median class size", f"{s.get('median_class_size', '-')}"),
            (
                "H(output) / H(output | traits found)",
                f"{s.get('entropy_bits', '-')} / {s.get('conditional_entropy_bits', '-')} bits",
            ),
            (
                "Noise floor",
                f"{noise.get('changed', 0)} of {noise.get('pairs', 0)} identical calls changed",
            ),
            (
                "Fallback share",
                f"{s.get('fallback_share', 0):.0%}" if s.get("fallback") else "no fallback seen",
            ),
            ("Calls", f"{self.calls} of {self.budget} · seed {self.seed} · {self.seconds:.1f} s"),
            ("Population", self.population or "-"),
        ]
        fact_rows = "".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in facts)
        claimed = self.claimed.value if self.claimed else "not stated"
        return _HTML.format(
            title=e(f"martech audit: {self.target}"),
            target=e(self.target),
            level=e(self.level.value),
            level_text=e(LEVEL_TEXT[self.level]),
            confidence=f"{self.confidence:.3f}",
            claimed=e(claimed),
            verdict=e(self.verdict),
            colour=colour,
            reason=e(self.reason),
            levels=levels,
            facts=fact_rows,
            evidence=evidence_rows
            or '<tr><td colspan="5">no probe pairs (structural label)</td></tr>',
            factors=factor_rows or '<tr><td colspan="6">no factors probed</td></tr>',
            thresholds=thresholds,
            notes=f"<ul>{notes}</ul>" if notes else "<p>none</p>",
        )


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
:root {{ --ink:#1d2939; --muted:#667085; --line:#e4e7ec; --bg:#f8fafc; --accent:{colour}; }}
* {{ box-sizing:border-box; }}
body {{ margin:0; font:15px/1.5 -apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
  color:var(--ink); background:var(--bg); }}
main {{ max-width:1040px; margin:0 auto; padding:32px 24px 48px; }}
header h1 {{ font-size:15px; font-weight:600; color:var(--muted); margin:0 0 4px;
  letter-spacing:.04em; text-transform:uppercase; }}
header h2 {{ font-size:24px; margin:0 0 20px; word-break:break-all; }}
.verdict {{ background:#fff; border:1px solid var(--line); border-left:6px solid var(--accent);
  border-radius:10px; padding:18px 22px; display:flex; gap:32px; flex-wrap:wrap;
  align-items:center; }}
.verdict .big {{ font-size:30px; font-weight:700; color:var(--accent); }}
.verdict .label {{ color:var(--muted); font-size:12px; text-transform:uppercase;
  letter-spacing:.05em; }}
.verdict .line {{ flex-basis:100%; font-weight:600; color:var(--accent); }}
.verdict .why {{ flex-basis:100%; color:var(--ink); margin-top:-8px; }}
section {{ margin-top:28px; }}
section h3 {{ font-size:17px; margin:0 0 10px; }}
.card {{ background:#fff; border:1px solid var(--line); border-radius:10px; overflow:hidden; }}
table {{ border-collapse:collapse; width:100%; }}
th, td {{ text-align:left; padding:8px 12px; border-bottom:1px solid var(--line);
  vertical-align:top; }}
thead th {{ background:#f2f4f7; font-size:12px; text-transform:uppercase; letter-spacing:.04em;
  color:var(--muted); }}
tbody th {{ width:260px; color:var(--muted); font-weight:500; }}
tr:last-child td, tr:last-child th {{ border-bottom:0; }}
tr.hit td:first-child {{ font-weight:700; }}
code {{ font:13px/1.4 "DejaVu Sans Mono",Menlo,monospace; background:#f2f4f7; padding:2px 5px;
  border-radius:4px; word-break:break-word; }}
ol.levels {{ list-style:none; padding:0; margin:0; display:grid;
  grid-template-columns:repeat(6,1fr); gap:8px; }}
ol.levels li {{ background:#fff; border:1px solid var(--line); border-radius:8px; padding:10px;
  font-size:12px; color:var(--muted); position:relative; }}
ol.levels li b {{ display:block; color:var(--ink); font-size:13px; margin-bottom:4px; }}
ol.levels li.on {{ border:2px solid var(--accent); background:#fff; }}
ol.levels li.on b {{ color:var(--accent); }}
ol.levels li.claim::after {{ content:"claimed"; position:absolute; top:-9px; right:8px;
  background:#344054; color:#fff; font-size:10px; padding:1px 6px; border-radius:8px; }}
.muted {{ color:var(--muted); font-size:13px; }}
</style></head>
<body><main>
<header><h1>martech audit</h1><h2>{target}</h2></header>
<div class="verdict">
  <div><div class="label">observed</div><div class="big">{level}</div></div>
  <div><div class="label">confidence</div><div class="big">{confidence}</div></div>
  <div><div class="label">claimed</div>
    <div class="big" style="color:var(--ink)">{claimed}</div></div>
  <div class="line">{verdict}</div>
  <div class="why">{level_text}: {reason}</div>
</div>
<section><h3>Where it sits</h3><ol class="levels">{levels}</ol></section>
<section><h3>Findings</h3><div class="card"><table><tbody>{facts}</tbody></table></div></section>
<section><h3>Evidence: probe pairs</h3>
<p class="muted">Each row compares two calls that differ in one controlled way. Outputs are shown
with the person's own values masked as «trait».</p>
<div class="card"><table><thead><tr><th>probe</th><th>change</th><th>output A</th><th>output B</th>
<th>what it shows</th></tr></thead><tbody>{evidence}</tbody></table></div></section>
<section><h3>Inputs tested</h3>
<p class="muted">Change rate of each probe against the noise floor (identical profiles called
twice); one-sided Fisher exact test, Holm-adjusted.</p>
<div class="card"><table><thead><tr><th>factor</th><th>probe</th><th>changed</th>
<th>rate (95% CI)</th><th>p (Holm)</th><th>matters</th></tr></thead>
<tbody>{factors}</tbody></table></div></section>
<section><h3>Notes</h3>{notes}</section>
<section><h3>Thresholds</h3>
<div class="card"><table><tbody>{thresholds}</tbody></table></div></section>
</main></body></html>
"""


def structural_report(target: str, capability: str, claimed: Level | None) -> AuditReport:
    """A capability that takes no per-person input, labelled by what it can carry at most."""
    from .targets import STRUCTURAL_CAPABILITIES

    level, why = STRUCTURAL_CAPABILITIES[capability]
    return AuditReport(
        target=target,
        kind="structural",
        level=level,
        confidence=1.0,
        claimed=claimed,
        calls=0,
        budget=0,
        seed=0,
        reason=why,
        evidence=[
            {
                "probe": "structural",
                "change": "",
                "a": "",
                "b": "",
                "meaning": why,
                "output_changed": False,
                "raw_changed": False,
            }
        ],
        stats={"thresholds": {}},
        structural=True,
    )


def render_table(reports: list[AuditReport], console: Console) -> None:
    """The ``--all-connectors`` table: one row per capability."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(
        "connector", "capability", "claimed", "observed", "conf.", "calls", "verdict",
        title="martech audit --all-connectors",
    )  # fmt: skip
    for r in reports:
        name, _, capability = r.target.removeprefix("connector:").partition(":")
        if r.claimed is None:
            verdict = "[dim]no claim[/]"
        elif r.overclaim:
            verdict = "[bold red]OVERCLAIM[/]"
        elif not r.confirmed:
            verdict = "[yellow]unconfirmed[/]"
        else:
            verdict = "[green]holds[/]"
        table.add_row(
            escape(name),
            escape(capability),
            r.claimed.value if r.claimed else "-",
            r.level.value,
            f"{r.confidence:.3f}",
            "by design" if r.structural else str(r.calls),
            verdict,
        )
    # On a terminal rich fits the table to it; piped, a wider table beats truncated names.
    width = console.width
    if not console.is_terminal:
        console.width = max(width, 120)
    try:
        console.print(table)
    finally:
        console.width = width
    console.print(
        "[dim]by design: the capability takes no per-person input; its label is the most it can "
        "carry (an audience push is at most segmentation, a pushed variant at most merge tokens)[/]"
    )
