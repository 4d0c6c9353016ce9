"""``martech profiles``: look at what is in the store."""

from __future__ import annotations

import typer
from rich.markup import escape

from ..errors import ConfigError
from .app import console, open_store, print_json

profiles_app = typer.Typer(help="Look at profiles in the store.", no_args_is_help=True)


@profiles_app.command("count")
def count(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Count profiles, identities, events and items in the store."""
    with open_store(read_only=True) as store:
        summary = store.summary()
    if as_json:
        print_json(summary)
        return
    for table, n in summary.items():
        console.print(f"{table:>11}  {n:>12,}")


@profiles_app.command("show")
def show(
    profile_id: str = typer.Argument(..., help="Profile id, or kind=value (email=…, phone=…)."),
    events: int = typer.Option(20, "--events", min=0, help="How many recent events to show."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one profile with its identities, traits, consent and latest events."""
    from ..http.redact import redact

    with open_store(read_only=True) as store:
        pid = profile_id
        if "=" in profile_id:
            kind, _, value = profile_id.partition("=")
            resolved = store.resolve(kind, value)
            if resolved is None:
                # The value is an email or a phone: never echoed, nor a kind mistyped as one.
                raise ConfigError(
                    f"no profile has {redact(kind)} identity matching the given value"
                )
            pid = resolved
        profile = store.get_profile(pid, events=events)
        held = store.all_identities(profile.id) if profile is not None else []
    if profile is None:
        shown = redact(pid)  # an email or phone given as an id is not echoed
        hint = (
            " (to look one up by email or phone, give email=… or phone=…)" if shown != pid else ""
        )
        raise ConfigError(f"profile {shown!r} not found in the store{hint}")
    if as_json:
        print_json(profile.model_dump(mode="json"))
        return
    # Everything below is the store's data, printed as text, never read as rich markup.
    merged = f" ({pid} was merged into this profile)" if pid != profile.id else ""
    console.print(f"[bold]{escape(profile.id)}[/]{escape(merged)}")
    identities = ", ".join(f"{k}={v}" for k, v in held)
    console.print("identities: " + identities, markup=False)
    # One order for everyone: the same four channels first, whichever source set them first.
    order = {"email": 0, "sms": 1, "push": 2, "ad": 3}
    channels = sorted(profile.consent.items(), key=lambda kv: (order.get(kv[0], 4), kv[0]))
    consent = ", ".join(f"{k}={v}" for k, v in channels)
    console.print("consent:    " + consent, markup=False)
    for key, value in sorted(profile.traits.items()):
        console.print(f"  {key:<22} {value}", markup=False)
    for e in profile.events:
        item = f" {e.item_id}" if e.item_id else ""
        value = f" {e.value:.2f}" if e.value is not None else ""
        console.print(f"  {e.ts:%Y-%m-%d %H:%M}  {e.type}{item}{value}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(profiles_app, name="profiles")
