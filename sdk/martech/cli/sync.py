"""``martech sync``: plan, apply and inspect audience syncs.

``martech sync plan SEGMENT --to CONNECTOR[:AUDIENCE]`` shows what would change (adds, removes,
updates, invalid members, requests, estimated time); ``martech sync apply`` does it (first
finishing an interrupted run for the same audience); ``martech sync status`` lists the latest runs.
The connector's settings come from ``[connectors.NAME]`` in martech.toml and
``MARTECH_<NAME>_<FIELD>`` environment variables; the audience defaults to the segment key.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from ..errors import ConfigError
from .app import check_output_file, console, open_store, plural, print_json, print_table
from .segments import AS_OF_OPTION, EXAMPLES_OPTION, FILE_OPTION, parse_as_of, read_definitions

if TYPE_CHECKING:
    from ..connector import Connector
    from ..models import SyncPlan, SyncResult
    from ..store import Store
    from ..sync import PreparedSync, SyncSpec

sync_app = typer.Typer(
    help="Push segments to destinations: plan, apply, status.", no_args_is_help=True
)

TO_OPTION = typer.Option(
    ..., "--to", help="CONNECTOR or CONNECTOR:AUDIENCE (default: segment key)."
)
MODE_OPTION = typer.Option("mirror", "--mode", help="mirror | add_only | upsert.")
TRAITS_OPTION = typer.Option(
    None, "--trait", help="Trait sent with each member (repeatable); upsert re-sends on change."
)
SUPPRESS_OPTION = typer.Option(
    None, "--suppress", help="File of profile ids, emails or phones never to send (one a line)."
)
JSON_OPTION = typer.Option(False, "--json", help="Print JSON.")
ALLOW_EMPTY_OPTION = typer.Option(
    False,
    "--allow-empty",
    help="Let a mirror sync of a segment that matches nobody remove everyone it added.",
)


def parse_target(target: str, default_audience: str) -> tuple[str, str]:
    """``CONNECTOR[:AUDIENCE]`` -> (connector, audience)."""
    name, _, audience = target.partition(":")
    if not name:
        raise ConfigError(f"--to: expected CONNECTOR or CONNECTOR:AUDIENCE, got {target!r}")
    return name, audience or default_audience


def parse_deadline(value: str | None) -> datetime | None:
    """``--deadline``: seconds from now (``90``, ``15m``, ``2h``) or an ISO 8601 moment."""
    if value is None:
        return None
    units = {"s": 1, "m": 60, "h": 3600}
    text = value.strip()
    try:
        if text[-1:] in units:
            return datetime.now(UTC) + timedelta(seconds=float(text[:-1]) * units[text[-1]])
        if text.replace(".", "", 1).isdigit():
            return datetime.now(UTC) + timedelta(seconds=float(text))
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"--deadline: cannot read {value!r}; expected seconds (90), 15m, 2h or ISO 8601"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def build_connector(name: str) -> Connector:
    """The installed connector ``name`` configured from martech.toml and the environment."""
    from ..config import connector_settings
    from ..plugins import get_connector

    cls = get_connector(name)
    values = connector_settings(name)
    return cls(config=cls.Config.load(name, values))  # type: ignore[no-any-return]


def read_suppressions(path: Path | None) -> list[str]:
    if path is None:
        return []
    if not path.exists():
        raise ConfigError(f"--suppress: no such file {path}")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def build_spec(
    store: Store,
    segment_key: str,
    audience: str,
    *,
    mode: str,
    file: Path | None,
    examples: bool,
    as_of: str | None,
    traits: list[str] | None,
    suppress: Path | None,
    allow_empty: bool = False,
) -> SyncSpec:
    """Evaluate the segment and describe the sync."""
    from ..segments import members
    from ..sync import SyncSpec
    from .segments import _pick

    definitions = read_definitions(file, examples)
    segment = _pick(definitions, segment_key)
    who = members(store, segment, segments=definitions, as_of=parse_as_of(as_of))
    return SyncSpec(
        audience=audience,
        members=who,
        mode=mode,  # type: ignore[arg-type]
        segment_key=segment_key,
        suppressions=read_suppressions(suppress),
        traits=tuple(traits or ()),
        allow_empty=allow_empty,
    )


def plan_dict(prepared: PreparedSync) -> dict[str, Any]:
    p: SyncPlan = prepared.plan
    return {
        "destination": p.destination,
        "audience": p.audience,
        "mode": p.mode,
        "adds": len(p.adds),
        "removes": len(p.removes),
        "updates": len(p.updates),
        "invalid": len(prepared.invalid),
        "invalid_reasons": prepared.summary()["invalid_reasons"],
        "requests": p.requests,
        "batch_requests": p.batch_requests,
        "lookup_requests": p.lookup_requests,
        "resolve_requests": p.resolve_requests,
        "estimated_seconds": p.estimated_seconds,
        "estimated_seconds_min": p.estimated_seconds_min,
        "daily_quota": p.daily_quota,
        "match_quality": prepared.match_quality,
        "resumes": prepared.resumes,
    }


def result_dict(result: SyncResult) -> dict[str, Any]:
    return {
        "destination": result.destination,
        "audience": result.audience,
        "complete": result.complete,
        "sent": result.sent,
        "invalid": len(result.invalid),
        "rejected": len(result.rejected),
        "rejected_reasons": sorted(set(result.rejected.values()))[:10],
        "dead_lettered": result.dead_lettered,
        "requests": result.requests,
        "checkpoint": result.checkpoint,
        "resume_after": result.resume_after.isoformat() if result.resume_after else None,
    }


def _target(data: dict[str, Any]) -> str:
    """``destination:audience`` as markup: both are user or vendor text, so escaped."""
    return escape(f"{data['destination']}:{data['audience']}")


def _requests_and_time(data: dict[str, Any]) -> str:
    """``8 requests, ~0.3s``; a range when a vendor's per-batch extras may not be needed
    (Mailchimp subscribes only the people not yet on its list): ``2-8 requests, ~0.1-0.3s``."""
    most, secs = data["requests"], data["estimated_seconds"]
    if not data["resolve_requests"]:
        return f"{plural(most, 'request')}, ~{secs:.1f}s"
    least = most - data["resolve_requests"]
    fast, slow = f"{data['estimated_seconds_min']:.1f}", f"{secs:.1f}"
    return f"{least:,}-{most:,} requests, ~" + (slow if fast == slow else f"{fast}-{slow}") + "s"


def show_plan(data: dict[str, Any]) -> None:
    console.print(
        f"[bold]{_target(data)}[/] ({escape(str(data['mode']))}): "
        f"+{data['adds']:,} add, -{data['removes']:,} remove, ~{data['updates']:,} update; "
        f"{data['invalid']:,} not sendable; {_requests_and_time(data)}"
    )
    extra = data["lookup_requests"] + data["resolve_requests"]
    if extra:
        lookups = data["lookup_requests"]
        why = [f"{lookups:,} to find " + ("and create " if lookups > 1 else "") + "the audience"]
        if data["resolve_requests"]:
            why.append(
                f"up to {data['resolve_requests']:,} in batches, resolving or subscribing members"
            )
        console.print(
            f"  {plural(data['batch_requests'], 'batch request')} "
            f"+ {plural(extra, 'lookup/resolve request')} ({', '.join(why)})"
        )
    for reason, n in sorted(data["invalid_reasons"].items()):
        console.print(f"  not sent: {n:,} {escape(str(reason))}")
    resumes = data.get("resumes")
    if resumes:
        line = f"  finishes the interrupted run {escape(resumes['run_id'])} first"
        if n := resumes["uncertain_add_batches"]:
            line += f": {plural(n, 'add batch', 'add batches')} may have reached the vendor; " + (
                "reading the audience back to check them costs requests not counted here"
                if resumes["reads_back"]
                else "sent again (adding twice is harmless)"
            )
        console.print(line)
    quality = data.get("match_quality")
    if quality:
        console.print(
            f"  match quality: {quality.get('members', 0):,} to upload, "
            f"{quality.get('valid_email', 0):,} valid email, "
            f"{quality.get('valid_phone', 0):,} valid phone, "
            f"{quality.get('duplicates', 0):,} duplicates after normalization; audience after "
            f"{quality.get('audience_after', 0):,}, minimum {quality.get('minimum', 0):,}: "
            + ("ok" if quality.get("meets_minimum") else "too small, adds wait")
        )
    quota = data.get("daily_quota")
    if quota and data["requests"] > quota:
        days = -(-data["requests"] // quota)
        console.print(
            f"  [yellow]more than a day's quota:[/] {data['requests']:,} requests at "
            f"{quota:,} a day take {days} days; apply stops when the vendor refuses more, "
            "and the next apply goes on from there"
        )


def show_result(data: dict[str, Any]) -> None:
    state = "complete" if data["complete"] else f"stopped; resume after {data['resume_after']}"
    console.print(
        f"[bold]{_target(data)}[/]: {state}; sent {data['sent']:,}, "
        f"rejected {data['rejected']:,}, {data['invalid']:,} not sendable, "
        f"dead-lettered {data['dead_lettered']:,}, {plural(data['requests'], 'request')}"
        + (
            " in all (lookups, a vendor's extra calls and retries included)"
            if data["requests"]
            else ""
        )
    )
    for reason in data["rejected_reasons"]:
        console.print(f"  rejected: {escape(str(reason))}")
    if data.get("stop_reason"):
        console.print(f"  stopped because: {data['stop_reason']}", markup=False)
        console.print("  run `martech sync apply` again to resume; nothing sent is sent twice")


@sync_app.command("plan")
def plan_command(
    segment: str = typer.Argument(..., help="Segment key."),
    to: str = TO_OPTION,
    mode: str = MODE_OPTION,
    file: Path | None = FILE_OPTION,
    examples: bool = EXAMPLES_OPTION,
    as_of: str | None = AS_OF_OPTION,
    trait: list[str] | None = TRAITS_OPTION,
    suppress: Path | None = SUPPRESS_OPTION,
    allow_empty: bool = ALLOW_EMPTY_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show what a sync would send: adds, removes, updates, invalid, requests, time."""
    from ..sync import prepare

    name, audience = parse_target(to, segment)
    connector = build_connector(name)
    with open_store() as store:
        spec = build_spec(
            store,
            segment,
            audience,
            mode=mode,
            file=file,
            examples=examples,
            as_of=as_of,
            traits=trait,
            suppress=suppress,
            allow_empty=allow_empty,
        )
        data = plan_dict(prepare(store, connector, spec))
    print_json(data) if as_json else show_plan(data)


@sync_app.command("apply")
def apply_command(
    segment: str = typer.Argument(..., help="Segment key."),
    to: str = TO_OPTION,
    mode: str = MODE_OPTION,
    file: Path | None = FILE_OPTION,
    examples: bool = EXAMPLES_OPTION,
    as_of: str | None = AS_OF_OPTION,
    trait: list[str] | None = TRAITS_OPTION,
    suppress: Path | None = SUPPRESS_OPTION,
    allow_empty: bool = ALLOW_EMPTY_OPTION,
    deadline: str | None = typer.Option(
        None, "--deadline", help="Stop cleanly if a wait would pass it: 90, 15m, 2h or ISO 8601."
    ),
    dead_letter: Path | None = typer.Option(
        None, "--dead-letter", help="Append refused and invalid members here (JSONL, redacted)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Send the sync, first finishing an interrupted one for the same audience.

    Exit 3: stopped early (rate limit, outage, --deadline); run apply again to resume.

    Exit 1: the vendor refused (credentials, a missing list); fix that, then apply again.
    """
    from ..sync import apply

    name, audience = parse_target(to, segment)
    if dead_letter is not None:
        check_output_file(dead_letter, "--dead-letter", example="dead.jsonl", makes_folders=True)
    connector = build_connector(name)
    until = parse_deadline(deadline)
    with open_store() as store:
        spec = build_spec(
            store,
            segment,
            audience,
            mode=mode,
            file=file,
            examples=examples,
            as_of=as_of,
            traits=trait,
            suppress=suppress,
            allow_empty=allow_empty,
        )
        result = apply(store, connector, spec, deadline=until, dead_letter=dead_letter)
        data = result_dict(result)
        if not result.complete:
            from ..sync import status

            last = status(store, limit=1)
            data["stop_reason"] = last[0].summary.get("stop_reason") if last else None
    print_json(data) if as_json else show_result(data)
    if not result.complete:
        raise typer.Exit(3)


def _at_least_one(value: int) -> int:
    if value < 1:
        raise typer.BadParameter(f"expected 1 or more, got {value}")
    return value


@sync_app.command("status")
def status_command(
    limit: int = typer.Option(10, "--limit", "-n", callback=_at_least_one, help="How many runs."),
    as_json: bool = JSON_OPTION,
) -> None:
    """The latest sync runs, newest first."""
    from ..sync import status

    with open_store(read_only=True) as store:
        runs = status(store, limit=limit)
    rows = [
        {
            "run_id": r.run_id,
            "destination": r.destination,
            "audience": r.audience,
            "segment": r.segment_key,
            "mode": r.mode,
            "status": r.status,
            "started_at": r.started_at.isoformat(timespec="seconds"),
            "finished_at": r.finished_at.isoformat(timespec="seconds") if r.finished_at else None,
            "sent": r.summary.get("sent", 0),
            "rejected": r.summary.get("rejected", 0),
            "invalid": r.summary.get("invalid", 0),
            "requests": r.summary.get("requests", 0),
            "resume_after": r.resume_after.isoformat() if r.resume_after else None,
            "stop_reason": r.summary.get("stop_reason"),
        }
        for r in runs
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("no sync runs yet")
        return
    from rich.table import Column, Table

    numbers = [Column(n, justify="right") for n in ("sent", "rejected", "invalid", "requests")]
    table = Table("run", "destination", "segment", "mode", "status", *numbers, "finished")
    for row in rows:
        status_text = row["status"]
        if row["resume_after"]:
            status_text += f" (resume after {row['resume_after']})"
        table.add_row(  # a str cell is markup: the names are user or vendor text
            escape(row["run_id"]),
            escape(f"{row['destination']}:{row['audience']}"),
            escape(row["segment"] or ""),
            escape(row["mode"]),
            escape(status_text),
            f"{row['sent']:,}",
            f"{row['rejected']:,}",
            f"{row['invalid']:,}",
            f"{row['requests']:,}",
            row["finished_at"] or "",
        )
    print_table(table)


def register(app: typer.Typer) -> None:
    app.add_typer(sync_app, name="sync")
