"""Push a placement's content out: variants to a CMS, per-person recommendations to an ESP.

To an ESP go the stored decisions (``martech decide --all``), the same rows the web reads: each
person's own row, written to the vendor's per-contact fields; who is sent is :mod:`.recipients`'
rule (email identity, email consent, not in the holdout).

Never a half-published placement: every variant is validated by the connector (``validate_content``)
before the first write, so a bad variant stops the push with nothing sent. A vendor error at
variant k (a 401, a version conflict, 5xx past the retries) is raised with the variants already
live and those not published named in its message. Re-publishing content
the CMS already holds writes nothing: each variant comes back ``created``, ``updated`` or
``unchanged`` (:class:`~martech.connector.PublishedContent`).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from ..errors import AuthError, ConfigError, MartechError, VendorError

if TYPE_CHECKING:
    from ..connector import Connector, PublishedContent
    from ..store import Store
    from .placements import Placement


def connector_for(name: str, values: dict[str, Any] | None = None) -> Connector:
    """The installed connector ``name`` configured from martech.toml + MARTECH_<NAME>_* env vars."""
    from ..config import connector_settings
    from ..plugins import get_connector

    cls = get_connector(name)
    merged = {**connector_settings(name), **(values or {})}
    return cls(config=cls.Config.load(name, merged))  # type: ignore[no-any-return]


async def push_variants(connector: Connector, placement: Placement) -> dict[str, PublishedContent]:
    """Validate every variant, then publish each; returns variant id -> what publishing did."""
    from ..connector import PublishedContent

    if not connector.supports("push_content"):
        raise ConfigError(f"connector {connector.name!r} does not offer push_content")
    validate = getattr(connector, "validate_content", None)
    if validate is not None:
        validate(placement.variants)
    out: dict[str, PublishedContent] = {}
    for variant in placement.variants:
        try:
            done = await connector.push_content(variant)
        except MartechError as exc:
            _say_what_is_live(exc, placement, variant.id, out)
            raise
        out[variant.id] = (
            done if isinstance(done, PublishedContent) else PublishedContent(vendor_id=done)
        )
    return out


def _say_what_is_live(
    exc: MartechError, placement: Placement, failed: str, done: dict[str, PublishedContent]
) -> None:
    """Add to ``exc``'s message which variant failed and which are already live, so a push that
    stops at variant k is not mistaken for all or nothing. The error keeps its class (and exit
    code); its message stays the vendor's answer, redacted as before."""
    ids = [v.id for v in placement.variants]
    rest = ", ".join(ids[ids.index(failed) :])
    if done:
        live = ", ".join(f"{v} ({p.action})" for v, p in done.items())
        where = (
            f"{len(done)} of {len(ids)} published before it: {live}; not published: {rest}; "
            "re-run the push once fixed (what is live comes back unchanged)"
        )
    else:
        where = "nothing published"
    exc.args = (f"{exc}; variant {failed!r} of {placement.key} failed; {where}",)


def push_placement(
    store: Store,
    placement: Placement,
    to: str,
    *,
    full: bool = False,
    unpublish_missing: bool = False,
) -> dict[str, Any]:
    """``martech personalize push``: variants to a CMS, or stored decisions to an ESP.

    To an ESP, people whose recommendations are unchanged since the last accepted push to the
    same fields are skipped (the ledger is ``sync_ledger``, audience ``personalize:<scope>@<list>``
    where the scope is the connector's ``recommendation_scope``, the per-contact fields every
    placement's push writes, e.g. Mailchimp's ``REC*``: pushing another placement overwrites them,
    so it must invalidate the ledger; a connector without one keeps a ledger per placement);
    ``full`` sends everyone again (say, after someone deleted the fields).

    To a CMS that can list a placement's published variants (``published_variants``), the result's
    ``not_in_yaml`` names those the placement no longer defines: removing a variant from the YAML
    does not take it off the site. ``unpublish_missing`` unpublishes them (``unpublished``) where
    the connector can (``unpublish``), else it is a ConfigError before anything is written.
    """
    from ..http import run_sync

    connector = connector_for(to)
    if connector.kind == "esp":
        push_recs = getattr(connector, "push_recommendations", None)
        if push_recs is None:
            raise ConfigError(f"connector {to!r} cannot take per-person recommendations")
        from .recipients import recipient_counts, recommendation_members, record_sent

        target = getattr(connector.config, "list_id", None) or "default"
        scope = getattr(connector, "recommendation_scope", None) or placement.key
        ledger = (connector.name, f"personalize:{scope}@{target}")
        counts = recipient_counts(store, placement.key)
        members = recommendation_members(store, placement.key, ledger=ledger, resend=full)
        cleared = sum(m.cleared for m in members)

        async def send() -> dict[str, Any]:
            async with connector:
                return dict(await push_recs(members))

        run_id = uuid.uuid4().hex
        try:
            sent = run_sync(send())
        except VendorError as exc:
            if isinstance(exc, AuthError):  # refused at the first request: nothing written
                raise
            exc.args = (
                f"{exc}; the push of {placement.key} to {to} stopped part-way: some of the "
                f"{len(members)} people may already hold their new values, none is recorded as "
                "sent; re-run the push (it writes the same values again)",
            )
            raise
        refused = {e.get("profile_id") for e in sent.get("errors") or [] if isinstance(e, dict)}
        record_sent(store, *ledger, [m for m in members if m.profile_id not in refused], run_id)
        return {
            "placement": placement.key,
            **counts,
            "unchanged": counts["recipients"] - (len(members) - cleared),
            "cleared": cleared,
            **sent,
        }

    listed = getattr(connector, "published_variants", None)
    unpublish = getattr(connector, "unpublish", None)
    if unpublish_missing and (listed is None or unpublish is None):
        raise ConfigError(f"connector {to!r} cannot unpublish variants; remove them there")
    stale: dict[str, str] = {}
    unpublished: list[str] = []

    async def go() -> dict[str, PublishedContent]:
        async with connector:
            done = await push_variants(connector, placement)
            try:
                if listed is not None:
                    live = await listed(placement.key)
                    stale.update({v: live[v] for v in sorted(live) if v not in done})
                    if unpublish_missing and stale and unpublish is not None:
                        # only what the CMS says it took down: a listing can be stale (a
                        # CDN), and what it skipped as already unpublished is not live
                        took = set(await unpublish(list(stale.values())))
                        unpublished.extend(v for v, i in stale.items() if i in took)
                        for v in [v for v, i in stale.items() if i not in took]:
                            del stale[v]
            except MartechError as exc:
                exc.args = (
                    f"{exc}; all {len(done)} variants of {placement.key} are published, "
                    "but listing or unpublishing the ones the YAML no longer has failed",
                )
                raise
            return done

    published = run_sync(go())
    actions = [p.action for p in published.values()]
    return {
        "placement": placement.key,
        "connector": to,
        "variants": [
            {"variant": v, "vendor_id": p.vendor_id, "action": p.action}
            for v, p in published.items()
        ],
        **{a: actions.count(a) for a in ("created", "updated", "unchanged", "published")},
        "not_in_yaml": [{"variant": v, "vendor_id": i} for v, i in stale.items()],
        "unpublished": unpublished,
        "can_unpublish": listed is not None and unpublish is not None,
    }
