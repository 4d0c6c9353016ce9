"""``martech decide``, ``martech lift``, ``martech personalize …``: decisions, lift, push."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from ..errors import ConfigError
from .app import console, err_console, interactive, open_store, print_json, print_table

if TYPE_CHECKING:
    from ..personalize.decide import DecideContext
    from ..personalize.lift import LiftRow
    from ..personalize.placements import Placement
    from ..store import Store

personalize_app = typer.Typer(
    name="personalize", help="Placements, neighbours and content push.", no_args_is_help=True
)

PLACEMENTS_OPT = typer.Option(
    None, "--placements", help="Placements YAML (default: the packaged examples)."
)
AS_OF_OPT = typer.Option(
    None, "--as-of", help="Decide as if now were this ISO datetime/date (UTC)."
)


def _placements(path: Path | None) -> dict[str, Placement]:
    from ..personalize.placements import example_placements, load_placements

    return load_placements(path) if path is not None else example_placements()


def _context(
    store: Store, path: Path | None, as_of: str | None, segments: Path | None, placement: str
) -> DecideContext:
    """The context for one placement: only the segments and traits its rules need are read."""
    from ..personalize.decide import DecideContext
    from .generate import _parse_as_of

    defs: list[Any] = []
    if segments is not None:
        from ..segments import load_segments

        defs = load_segments(segments)
    return DecideContext.from_store(
        store, _placements(path), segments=defs, now=_parse_as_of(as_of), only=[placement]
    )


def _warn_uncomputed(store: Store, ctx: DecideContext, placement: str) -> None:
    """One warning when the placement's rules read computed traits the store never computed."""
    from ..personalize.decide import uncomputed_traits

    missing = uncomputed_traits(store, ctx.placement(placement))
    if missing:
        names = ", ".join(missing)
        err_console.print(
            f"[yellow]warning:[/] {escape(placement)} has rules on computed trait(s) "
            f"{escape(names)}, which this store has never computed, so they match no one: run "
            "`martech traits compute`",
            soft_wrap=True,
        )


def decide_cmd(
    profile_id: str | None = typer.Argument(
        None, help="Profile id, or kind=value (email=…, phone=…); omit with --segment."
    ),
    placement: str = typer.Option(..., "--placement", "-p", help="Placement key."),
    segment: str | None = typer.Option(
        None, "--segment", "-s", help="Decide for every member of this segment (batch)."
    ),
    all_profiles: bool = typer.Option(False, "--all", help="Batch: decide for every profile."),
    placements: Path | None = PLACEMENTS_OPT,
    segments_file: Path | None = typer.Option(
        None, "--segments", help="Segment definitions YAML (else the latest snapshots)."
    ),
    as_of: str | None = AS_OF_OPT,
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Decide what one person (PROFILE_ID) or a whole segment (--segment) sees in a placement."""
    if profile_id is None and segment is None and not all_profiles:
        raise ConfigError("give a PROFILE_ID, or --segment KEY (or --all) for a batch decision")
    if segment is not None and all_profiles:
        raise ConfigError("give either --segment KEY or --all, not both")
    if profile_id is not None and (segment is not None or all_profiles):
        raise ConfigError("give either a PROFILE_ID or --segment/--all, not both")
    if profile_id is not None:
        _decide_one(profile_id, placement, placements, segments_file, as_of, as_json)
    else:
        _decide_batch(segment, placement, placements, segments_file, as_of, as_json)


def _decide_one(
    profile_id: str,
    placement: str,
    placements: Path | None,
    segments: Path | None,
    as_of: str | None,
    as_json: bool,
) -> None:
    from ..models import DecisionLevel
    from ..personalize.decide import decide_outcome, suppressed

    with open_store(read_only=True) as store:
        profile_id = _resolve_profile(store, profile_id)
        ctx = _context(store, placements, as_of, segments, placement)
        out = decide_outcome(profile_id, placement, context=ctx)
        personal = any(s.level is DecisionLevel.personalization for s in ctx.chain(placement))
        if personal and not ctx.neighbours and store.count("events"):
            out_hint = "no co-occurrence neighbours yet: run `martech personalize neighbours`"
        else:
            out_hint = ""
        _warn_uncomputed(store, ctx, placement)
    d = out.decision
    if as_json:
        print_json({**d.model_dump(mode="json"), "tactic": out.tactic, "items": list(out.items)})
        return
    who = f"[bold]{escape(d.profile_id)}[/] · {escape(d.placement)}"  # user text: escaped
    if suppressed(d):
        console.print(f"{who}: [yellow]suppressed[/]")
    else:
        hold = " [magenta](holdout)[/]" if d.holdout else ""
        console.print(
            f"{who}: [cyan]{d.level.value}[/]{hold} → variant [bold]{escape(d.variant_id)}[/]"
        )
        console.print(f"  content: {d.content}", markup=False, highlight=False)
        if out.items:
            console.print(f"  items:   {', '.join(out.items)}", markup=False)
    console.print("  why:", markup=False)
    for reason in d.reasons:
        console.print(f"    - {reason}", markup=False, highlight=False)
    if d.segment_keys:
        console.print(f"  segments: {', '.join(d.segment_keys)}", markup=False)
    if out_hint:
        err_console.print(f"[yellow]hint:[/] {out_hint}")


def _resolve_profile(store: Store, given: str) -> str:
    """The profile id for PROFILE_ID or ``kind=value``, as ``martech profiles show`` reads it.

    Not found is a ConfigError (exit 2, as there); an email or phone is never echoed.
    """
    from ..http.redact import redact

    if "=" in given:
        kind, _, value = given.partition("=")
        resolved = store.resolve(kind, value)
        if resolved is None:
            raise ConfigError(f"no profile has {kind} identity matching the given value")
        return resolved
    if store.get_profile(given, events=0, identities=False) is None:
        shown = redact(given)
        hint = ""
        if shown != given:
            kind = "email" if "<email>" in shown else "phone"
            hint = f"; to look a person up by {kind}, give {kind}=…"
        raise ConfigError(f"profile {shown!r} not found in the store{hint}")
    return given


def _decide_batch(
    segment: str | None,
    placement: str,
    placements: Path | None,
    segments: Path | None,
    as_of: str | None,
    as_json: bool,
) -> None:
    from ..personalize.batch import decide_batch
    from ..personalize.neighbours import refresh_neighbours

    with open_store() as store:
        refresh_neighbours(store)
        ctx = _context(store, placements, as_of, segments, placement)
        _warn_uncomputed(store, ctx, placement)
        target: Any = segment
        if segments is not None and segment is not None:
            from ..segments import load_segments

            found = {s.key: s for s in load_segments(segments)}
            target = found.get(segment, segment)
        if interactive() and not as_json:
            from rich.progress import Progress

            with Progress(console=err_console, transient=True) as bar:
                task = bar.add_task("deciding", total=1)

                def tick(label: str, done: int, total: int) -> None:
                    bar.update(task, description=label, completed=done, total=total)

                summary = decide_batch(store, placement, context=ctx, segment=target, progress=tick)
        else:
            summary = decide_batch(store, placement, context=ctx, segment=target)
    if as_json:
        print_json(summary.__dict__)
        return
    from rich.table import Table

    table = Table(
        title=f"{summary.placement}: {summary.decided:,} decisions in {summary.seconds:.2f} s"
    )
    table.add_column("level")
    table.add_column("people", justify="right")
    table.add_column("share", justify="right")
    for level in ("personalization", "micro_segment", "segment", "default"):
        n = summary.by_level.get(level, 0)
        table.add_row(level, f"{n:,}", f"{n / summary.decided:.1%}" if summary.decided else "-")
    print_table(table)
    unknown = f"{summary.unknown:,} not in the store · " if summary.unknown else ""
    console.print(
        f"holdout {summary.holdout:,} (got the default) · "
        f"suppressed {summary.suppressed:,} (no consent) · {unknown}"
        "treated by tactic: " + ", ".join(f"{k} {v:,}" for k, v in summary.by_tactic.items()),
        markup=False,
    )


def _positive(value: float) -> float:
    if value <= 0:
        raise typer.BadParameter(f"must be more than 0 days, not {value:g}")
    return value


def lift_cmd(
    tactic: str | None = typer.Option(None, "--tactic", "-t", help="Only this tactic."),
    placement: str | None = typer.Option(None, "--placement", "-p", help="Only this placement."),
    window_days: float = typer.Option(
        7.0,
        "--window-days",
        help="Outcome window after a decision (days, > 0).",
        callback=_positive,
    ),
    min_per_arm: int = typer.Option(
        100, "--min-per-arm", min=1, help="Below this many people in an arm, do not conclude."
    ),
    confidence: float = typer.Option(
        0.95, "--confidence", help="Confidence of each interval (between 0 and 1)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Treated vs holdout per tactic: conversion, revenue/recipient, unsubscribes, complaints."""
    from ..personalize.lift import lift

    with open_store(read_only=True) as store:
        rows = lift(
            store,
            tactic=tactic,
            placement=placement,
            window_days=window_days,
            min_per_arm=min_per_arm,
            confidence=confidence,
        )
    if as_json:
        print_json(
            [
                {
                    "placement": r.placement,
                    "tactic": r.tactic,
                    "n_treated": r.n_treated,
                    "n_holdout": r.n_holdout,
                    "pending": r.pending,
                    "partial": r.partial,
                    "conclusive": r.conclusive,
                    "verdict": r.verdict,
                    "confidence": confidence,
                    "window_days": window_days,
                    "metrics": {
                        k: {**m.__dict__, "significant": m.significant}
                        for k, m in r.metrics.items()
                    },
                }
                for r in rows
            ]
        )
        return
    if not rows:
        console.print("no decisions stored yet: run `martech decide --segment S --placement P`")
        return
    from rich.table import Table

    table = Table(title=f"lift over {window_days:g} days after each decision (treated vs holdout)")
    for col in (
        "placement",
        "tactic",
        "n treated/holdout",
        "conversion",
        "revenue/recipient",
        "unsubscribe",
        "complaint",
        "verdict",
    ):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r.placement,
            r.tactic,
            f"{r.n_treated:,}/{r.n_holdout:,}" + (f"\n+{r.pending:,} pending" if r.pending else ""),
            _cell(r, "conversion"),
            _cell(r, "revenue_per_recipient", pct=False),
            _cell(r, "unsubscribe_rate"),
            _cell(r, "complaint_rate"),
            r.verdict,
        )
    print_table(table)
    compared = sum(1 for r in rows if r.metrics and r.tactic != "default")
    if compared > 1:
        # Bonferroni, each alpha rounded down so the family keeps at least the confidence asked.
        each = math.floor((1 - confidence) / compared * 1e4) / 1e4
        console.print(
            f"{compared} tactics compared, each at {confidence * 100:.10g}%: with no real effect "
            f"anywhere, about 1 in {1 / (1 - confidence):.0f} would still read as up or down by "
            f"chance (and each metric is one more chance); for {confidence * 100:.10g}% over all "
            f"{compared} at once, use --confidence {1 - each:.10g}",
            markup=False,
            soft_wrap=True,
        )
    if any(r.pending for r in rows):
        console.print(
            "pending: decided at or after the latest stored event, so no outcome can be seen "
            "yet; they are left out of both arms until newer events are imported or pulled",
            markup=False,
            soft_wrap=True,
        )


def _cell(row: LiftRow, name: str, pct: bool = True) -> str:
    from ..personalize.lift import signed

    m = row.metrics.get(name)
    if m is None:
        return "-"

    def f(v: float) -> str:
        return f"{v * 100:.2f}%" if pct else f"{v:.2f}"

    def g(v: float) -> str:
        return signed(v * 100 if pct else v)

    shown = f"{f(m.treated)} vs {f(m.holdout)}\n{g(m.diff)} [{g(m.low)}, {g(m.high)}]"
    return shown if m.estimable else shown + "\n(< 2 purchases in an arm: interval not trusted)"


@personalize_app.command("placements")
def placements_cmd(
    placements: Path | None = PLACEMENTS_OPT,
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """List placements, their variants and rules (validated)."""
    from ..models import RecommendationVariant
    from ..personalize.strategies import _cell_reason

    pls = _placements(placements)
    if as_json:
        print_json({k: p.model_dump(mode="json") for k, p in pls.items()})
        return
    for p in pls.values():
        console.print(
            f"[bold]{p.key}[/] ({p.channel}, holdout {p.holdout:.0%}, default {p.default})"
        )
        strategies = {v.id: v.strategy for v in p.variants if isinstance(v, RecommendationVariant)}
        for r in p.rules:
            # Worded as decide's reasons word them: "cell interest=fishing + skill_level=beginner".
            kind = (
                _cell_reason(r)
                if r.cell
                else (
                    f"segment {r.segment}"
                    if r.segment
                    else (
                        f"{r.trait} = {r.equals}"
                        if r.trait
                        else f"recommendation ({strategies.get(r.variant, '?')})"
                    )
                )
            )
            console.print(f"  {r.variant}: {kind}", markup=False)


@personalize_app.command("neighbours")
def neighbours_cmd(
    full: bool = typer.Option(False, "--full", help="Rebuild from scratch."),
    top: int = typer.Option(20, "--top", min=1, help="Neighbours kept per item."),
) -> None:
    """Refresh item-to-item co-occurrence (incremental unless --full)."""
    from ..personalize.neighbours import refresh_neighbours

    with open_store() as store:
        r = refresh_neighbours(store, top_n=top, full=full)
    console.print(
        f"{'full' if r.full else 'incremental'} refresh: {r.profiles:,} people re-read, "
        f"{r.pairs:,} item pairs, {r.neighbours:,} neighbour rows"
    )


@personalize_app.command("push")
def push_cmd(
    placement: str = typer.Option(..., "--placement", "-p", help="Placement key."),
    to: str = typer.Option(..., "--to", help="Connector: contentful, wordpress, mailchimp."),
    placements: Path | None = PLACEMENTS_OPT,
    full: bool = typer.Option(
        False, "--full", help="ESP: send everyone, not only people whose items changed."
    ),
    unpublish_missing: bool = typer.Option(
        False,
        "--unpublish-missing",
        help="CMS: unpublish this placement's published variants the YAML no longer has "
        "(WordPress and Contentful keep them as drafts).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Publish a placement's variants to a CMS (validated first), or per-person items to an ESP."""
    from ..personalize.push import push_placement

    pl = _placements(placements)
    if placement not in pl:
        raise ConfigError(f"unknown placement {placement!r}; defined: {', '.join(sorted(pl))}")
    with open_store() as store:
        result = push_placement(
            store, pl[placement], to, full=full, unpublish_missing=unpublish_missing
        )
    if as_json:
        print_json(result)
        return
    if "variants" in result:  # a CMS: one row per variant
        _show_published(result)
    else:
        show_recommendations(result)


def show_recommendations(result: dict[str, Any]) -> None:
    """An ESP push in a few lines, as ``sync apply`` prints a sync: what was sent of everyone
    decided, then one line per reason someone was not, what the push created, and refusals.

    ``sent`` people were written (new to the list, updated, or refused one by one); the rest of
    the ``decided`` are the holdout (less those ``cleared``: sent once with blank fields), no
    email consent, no email, or unchanged since the last push.
    """
    from .app import plural

    where = escape(str(result.get("connector", "")))
    if result.get("list_id"):
        where += f" (list {escape(str(result['list_id']))})"
    sent = int(result.get("sent", 0))
    made = [
        f"{int(result[k]):,} {label}"
        for k, label in (("created", "new to the list"), ("updated", "updated"))
        if k in result
    ]
    made.append(f"{int(result.get('rejected', 0)):,} rejected")
    console.print(
        f"[bold]{escape(str(result['placement']))} → {where}[/]: sent {sent:,} of "
        f"{int(result.get('decided', 0)):,} decided"
        + (f" ({', '.join(made)})" if sent else "")
        + f"; {plural(int(result.get('requests', 0)), 'request')}",
        soft_wrap=True,
    )
    cleared = int(result.get("cleared", 0))
    left_out = {
        "holdout": int(result.get("holdout", 0)) - cleared,
        "no email consent": int(result.get("no_consent", 0)),
        "no email address": int(result.get("no_email", 0)),
        "unchanged since the last push (--full sends them again)": int(result.get("unchanged", 0)),
    }
    for reason, n in left_out.items():
        if n:
            console.print(f"  not sent: {n:,} {reason}", markup=False)
    if cleared:
        console.print(
            f"  cleared: {plural(cleared, 'holdout member')} an earlier push reached, sent "
            "blank fields",
            markup=False,
        )
    if result.get("merge_fields_created"):
        fields = ", ".join(map(str, result["merge_fields_created"]))
        console.print(f"  merge fields created: {fields}", markup=False, soft_wrap=True)
    if blank := int(result.get("values_left_blank", 0)):
        console.print(
            f"  left blank: {plural(blank, 'value')}, an item id or url longer than a merge "
            "field holds",
            markup=False,
        )
    errors = result.get("errors") or []
    for e in errors[:10]:  # addresses are masked by the connector; profile ids name the people
        who, why = (e.get("profile_id"), e.get("reason")) if isinstance(e, dict) else ("?", e)
        console.print(f"  refused {who}: {why}", markup=False, soft_wrap=True)
    if len(errors) > 10:
        console.print(f"  … and {len(errors) - 10} more (--json lists them all)", markup=False)


def _show_published(result: dict[str, Any]) -> None:
    from rich.table import Table

    counts = [f"{result[a]} {a}" for a in ("created", "updated", "unchanged", "published")]
    table = Table(
        "variant",
        "id at the vendor",
        "action",
        title=f"{escape(str(result['placement']))} → {escape(str(result['connector']))}: "
        + ", ".join(c for c in counts if not c.startswith("0 ")),
    )
    for row in result["variants"]:  # a str cell is markup: ids are user and vendor text
        table.add_row(escape(row["variant"]), escape(row["vendor_id"]), row["action"])
    gone = set(result.get("unpublished") or [])
    for row in result.get("not_in_yaml") or []:
        action = "unpublished" if row["variant"] in gone else "still published: not in the YAML"
        table.add_row(escape(row["variant"]), escape(row["vendor_id"]), action)
    print_table(table)
    left = [r["variant"] for r in result.get("not_in_yaml") or [] if r["variant"] not in gone]
    if left:
        console.print(
            f"warning: {len(left)} published variant(s) of {result['placement']} are no longer in "
            f"the YAML and stay live: {', '.join(left)}. Unpublish them in "
            f"{result['connector']}"
            + (" or re-run with --unpublish-missing" if result.get("can_unpublish") else "")
            + ".",
            markup=False,
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    app.command("decide")(decide_cmd)
    app.command("lift")(lift_cmd)
    app.add_typer(personalize_app, name="personalize")
