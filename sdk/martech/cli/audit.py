"""``martech audit``: probe a tool as a black box and label what it really does, with evidence."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from ..errors import ConfigError, MartechError
from .app import check_output_file, console, err_console, interactive, plural, print_json

#: Exit code when the observed level is below the claim and --fail-on-overclaim is set.
OVERCLAIM_EXIT = 3


class OverclaimError(MartechError):
    """The observed level is below what the vendor claims (``--fail-on-overclaim``)."""

    exit_code = OVERCLAIM_EXIT


LEVELS = "broadcast, random, token_only, segmentation, micro_segmentation, personalization"


def audit(
    target: str = typer.Argument(
        None,
        help="module:function, connector:NAME[:capability], or 'http' with --spec FILE.",
        show_default=False,
    ),
    spec: Path | None = typer.Option(
        None,
        "--spec",
        help="HTTP probe spec (YAML) for 'http'; its format: martech schema HttpSpec.",
    ),
    claim: str | None = typer.Option(
        None, "--claim", help=f"The level the vendor claims: {LEVELS}."
    ),
    fail_on_overclaim: bool = typer.Option(
        False, "--fail-on-overclaim", help=f"Exit {OVERCLAIM_EXIT} when observed < claimed."
    ),
    budget: int = typer.Option(2000, "--budget", help="Most calls the audit may make."),
    seed: int = typer.Option(0, "--seed", help="Seed for the probes: same seed, same result."),
    population: str | None = typer.Option(
        None,
        "--population",
        help="Profiles to build probes from: a JSONL/CSV/Parquet file or 'store' "
        "(default: the synthetic shop population).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    html: Path | None = typer.Option(None, "--html", help="Also write a standalone HTML report."),
    all_connectors: bool = typer.Option(
        False, "--all-connectors", help="Audit every installed connector's capabilities."
    ),
    live: bool = typer.Option(
        False, "--live", help="Call the vendor's real API with configured credentials."
    ),
    placement: str = typer.Option("home", "--placement", help="Placement for decide calls."),
) -> None:
    """Probe a capability and label it honestly, with confidence and evidence.

    The labels, lowest to highest: broadcast, random, token_only, segmentation,
    micro_segmentation, personalization.
    """
    from ..audit import audit_connectors, audit_target, render_table
    from ..models import Level

    claimed: Level | None = None
    if claim is not None:
        try:
            claimed = Level(claim)
        except ValueError:
            raise ConfigError(f"--claim {claim!r}: expected one of {LEVELS}") from None

    if not placement.strip():
        raise ConfigError("--placement: expected a placement key, e.g. home; got an empty one")
    if html is not None:
        _check_html(html, all_connectors=all_connectors)

    if all_connectors:
        if target:
            raise ConfigError("--all-connectors audits every connector; drop the TARGET argument")
        # Each of these would be ignored: the emulators audited for --live, every connector
        # judged by its own claim for --claim.
        ignored = [
            name
            for name, given in (
                ("--live", live),
                ("--claim", claim is not None),
                ("--spec", spec is not None),
                ("--placement", placement != "home"),
            )
            if given
        ]
        if ignored:
            raise ConfigError(
                f"{', '.join(ignored)}: not with --all-connectors, which audits every connector "
                "against its emulator and judges it by its own claim; audit one connector "
                "(connector:NAME) to use them"
            )
        with _status("auditing every installed connector"):
            reports = audit_connectors(population=population, budget=budget, seed=seed)
        if as_json:
            print_json({"reports": [r.to_dict() for r in reports]})
        else:
            render_table(reports, console)
        over = [r for r in reports if r.overclaim]
        if fail_on_overclaim and over:
            raise OverclaimError(
                f"{plural(len(over), 'capability claim')} not met: "
                + "; ".join(f"{r.target}: {r.verdict}" for r in over)
            )
        return

    if not target:
        raise ConfigError("martech audit: give a TARGET (module:function, connector:NAME, http)")
    if not target.startswith("connector:"):
        # A callable or an endpoint is called as it is; these would be ignored without a word.
        only = [n for n, given in (("--live", live), ("--placement", placement != "home")) if given]
        if only:
            raise ConfigError(
                f"{', '.join(only)}: applies to a connector:NAME target only; {target!r} is "
                "called as it is"
            )
    resolved: Any = target
    if target == "http":
        if spec is None:
            raise ConfigError("martech audit http: --spec FILE is required")
        from ..audit import HttpTarget, load_http_spec

        resolved = HttpTarget(load_http_spec(spec))
    elif spec is not None:
        raise ConfigError("--spec applies to 'martech audit http' only")

    with _status(f"auditing {escape(target)} (up to {plural(budget, 'call')})"):
        report = audit_target(
            resolved,
            population=population,
            budget=budget,
            seed=seed,
            claim=claimed,
            live=live,
            placement=placement,
        )
    if html is not None:
        html.write_text(report.to_html(), encoding="utf-8")
    if as_json:
        print_json(report.to_dict())
    else:
        report.render_terminal(console)
        if html is not None:
            console.print(f"HTML report: {escape(str(html))}")
    if fail_on_overclaim and report.overclaim:
        raise OverclaimError(
            f"{report.target}: {report.verdict} (confidence {report.confidence:.3f})"
        )


def _check_html(html: Path, *, all_connectors: bool) -> None:
    """Refuse an --html path that cannot be written before the audit spends its budget."""
    if all_connectors:
        raise ConfigError(
            "--html writes one target's report; it does not apply to --all-connectors"
        )
    check_output_file(html, "--html", example="audit.html")


def _status(message: str) -> AbstractContextManager[Any]:
    """A spinner on a terminal, nothing when piped."""
    return err_console.status(message) if interactive() else nullcontext()


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
