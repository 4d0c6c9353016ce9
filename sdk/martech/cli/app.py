"""The root typer app and what every command group shares: options, console, output."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import typer
from rich.console import Console

from .._paths import check_output_file as check_output_file  # the commands import it here

if TYPE_CHECKING:
    from rich.table import Table


def _flags_show_no_metavar() -> None:
    """Leave the type out of a flag's row in the rich help: ``--debug``, not ``--debug <bool>``.

    typer 0.29's rich help prints ``display_type_rich()`` for every option, flags included, though a
    flag takes no value; its plain help (``TyperOption.get_help_record``) already skips flags and
    counters. Options that take a value keep theirs (``--home <path>``). The patch is to typer's
    class, so plugin commands get it too; remove it once typer's rich help skips flags itself.
    """
    from typer.core import TyperOption

    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None:  # another typer: nothing to correct
        return

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        if self.is_flag or self.count:
            return None
        result: str | None = shown(self, ctx)
        return result

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_show_no_metavar()

app = typer.Typer(
    name="martech",
    help="Connect customer data to the tools you market with: "
    "pull, segment, sync, personalize, audit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@dataclass
class State:
    """Global options, set by the root callback."""

    home: Path | None = None
    debug: bool = False
    #: ``martech.toml`` of the working directory, validated by the root callback.
    settings: Any = None

    @property
    def store_path(self) -> Path:
        from ..store import default_path

        return (self.home / "martech.duckdb") if self.home else default_path()


state = State()

#: The CLI commands each plugin added (plugin name -> command names), for ``martech plugins``.
plugin_commands: dict[str, list[str]] = {}
#: Why a plugin's commands were not added (plugin name -> message), for ``martech plugins``.
plugin_command_errors: dict[str, str] = {}


def _piped(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return not (callable(isatty) and isatty())


# Piped or redirected, a line stays one line (rich would break it at 80 columns, mid-sentence, in
# a log or for grep); in a terminal, text wraps to the window as usual. No emoji codes: user and
# vendor text such as an audience "a:b" or "x:smile:" prints as typed. Markup stays on, so every
# user or vendor value put in a markup string goes through rich.markup.escape.
console = Console(stderr=False, highlight=False, emoji=False, soft_wrap=_piped(sys.stdout))
err_console = Console(stderr=True, highlight=False, emoji=False, soft_wrap=_piped(sys.stderr))


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 request``, ``2 requests``, ``26,788 requests``: a count with its noun agreeing."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"


def open_store(*, read_only: bool = False, create: bool = False) -> Any:
    """The store at --home / MARTECH_HOME / ./.martech.

    Only commands that bring data in (``create``: generate, import) make a new one: any other
    command on a missing store, a mistyped ``--home`` say, is an error, never a fresh empty store
    whose segments, traits and decisions all read zero.
    """
    from ..errors import StoreError
    from ..store import Store

    path = state.store_path
    if not create and not read_only and not path.exists():
        raise StoreError(
            f"no store at {path}; run `martech generate` or `martech import` first, or check "
            "--home / MARTECH_HOME"
        )
    return Store(path, read_only=read_only)


def parse_as_of(value: str | None, option: str = "--as-of") -> datetime | None:
    """``--as-of`` for every command: an ISO date is midnight UTC; a datetime needs its time zone
    (Z or +02:00), since a moment without one names a different instant in each zone. None: now."""
    from datetime import UTC

    from ..errors import ConfigError

    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(
            f"{option}: expected an ISO date or datetime such as 2026-01-31 or "
            f"2026-01-31T08:00:00Z, got {value!r}"
        ) from None
    if moment.tzinfo is None:
        if "T" in value or " " in value.strip():
            raise ConfigError(
                f"{option}: a datetime needs a time zone (add Z or +00:00); a bare date means UTC"
            )
        moment = moment.replace(tzinfo=UTC)
    return moment


def interactive() -> bool:
    """Progress bars only on a terminal; quiet when piped."""
    return sys.stdout.isatty() and not os.environ.get("MARTECH_QUIET")


def print_table(table: Table, *, out: Console | None = None) -> None:
    """Print a table without hiding any of its text.

    Cells fold rather than end in an ellipsis (``martech_regist…`` names no hook), and when stdout
    is not a terminal the table gets the width it needs instead of the 80 columns rich assumes for
    a pipe, so each row stays on one line unless a cell holds a line break.
    """
    from rich.cells import cell_len
    from rich.measure import Measurement
    from rich.text import Text

    out = out or console
    if isinstance(table.title, str) and not table.width:
        # rich wraps a title to the table's width: "… in 0.67 s" over two lines under a narrow
        # table. Make the table at least as wide as its title (within the console).
        title = cell_len(Text.from_markup(table.title).plain)
        table.min_width = min(max(table.min_width or 0, title), out.width)
    for column in table.columns:
        if column.overflow == "ellipsis" and not column.no_wrap:  # rich's default
            column.overflow = "fold"
    if not out.is_terminal:
        natural = Measurement.get(out, out.options.update_width(1_000_000), table).maximum
        if natural > out.width:
            table.width = natural  # rich crops a printed line at the console width: crop=False
            out.print(table, crop=False)
            return
    out.print(table)


def print_json(data: Any) -> None:
    """One JSON document on stdout, nothing else."""
    sys.stdout.write(
        orjson.dumps(
            data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str
        ).decode()
        + "\n"
    )
