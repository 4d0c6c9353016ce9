"""Steps 4-7 of ``martech demo``: pull, sync, personalization and audit, against emulators.

Every vendor is its emulator on 127.0.0.1 (:meth:`DemoRun.emulator`); the connectors are the
real ones, configured with what the emulator says reaches it (its URL and fake credentials).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from .app import print_table

if TYPE_CHECKING:
    from ..connector import Connector
    from ..models import SyncPlan, SyncResult
    from ..sync import PreparedSync, SyncSpec
    from .demo import DemoRun

#: (segment, destination) pairs the sync step sends: an ESP, a CRM and an ad platform.
SYNCS = (("fishing_beginners", "mailchimp"), ("high_value", "hubspot"), ("non_purchasers", "meta"))
#: The audit's call budget in the demo (the CLI's default is 2,000; 800 already labels it).
AUDIT_BUDGET = 800
GARY = {
    "first_name": "Gary", "interest": "fishing", "skill_level": "beginner", "water_type": "lake",
    "preferred_tackle": "spinning", "budget_tier": "budget",
}  # fmt: skip


# ---------------------------------------------------------------------------- connectors


#: Demo settings on top of what each emulator says reaches it (``Emulator.connection``).
EXTRA_SETTINGS: dict[str, dict[str, Any]] = {
    # List members HubSpot does not have yet are created by email rather than rejected.
    "hubspot": {"create_missing": True},
}


def connector_for(run: DemoRun, name: str) -> Connector:
    """The installed connector ``name``, configured for its running emulator (fake secrets)."""
    from ..plugins import get_connector

    emulator, url = run.emulator(name)
    cls = get_connector(name)
    settings = {**emulator.connection(url), **EXTRA_SETTINGS.get(name, {})}
    return cls(config=cls.Config.model_validate(settings))  # type: ignore[no-any-return]


def held_at_vendor(run: DemoRun, name: str, audience: str) -> int:
    """How many people the emulator's audience named ``audience`` holds (read from its state)."""
    emulator, _ = run.emulator(name)
    if name == "mailchimp":
        segment = emulator.segment_by_name(audience)
        return len(segment.members) if segment else 0
    if name == "hubspot":
        ids = [i for i, lst in emulator.lists.items() if lst["name"] == audience]
        return len(emulator.list_members(ids[0])) if ids else 0
    ids = [a.id for a in emulator.audiences.values() if a.name == audience]
    return int(emulator.size(ids[0])) if ids else 0


# ---------------------------------------------------------------------------------- 4. pull


def _seed_vendors(run: DemoRun) -> dict[str, dict[str, int]]:
    """Put a slice of the shop in HubSpot and Mailchimp (overlapping), plus people only they know.

    HubSpot gets the first 10% of the shop as contacts (by email, no martech id, so the pull
    must resolve them) and 2% new leads; Mailchimp 12.5% of the shop from the 5% mark (half the
    HubSpot slice again) and 4% sandbox members of its own (its ``seed_data``). HubSpot's own
    ``seed_data`` is not used: its contacts carry the martech ids of another synthetic shop
    (``p0000001``…), which would merge into the wrong people here.
    """
    from ..population import generate

    n = run.profiles
    flat = run.population.flat
    hub_known = flat.slice(0, n // 10).to_pylist()
    leads = generate(max(1, n // 50), run.seed + 1, as_of=run.as_of).flat.to_pylist()
    mc_known = flat.slice(n // 20, n // 8).to_pylist()
    mc_new = max(1, n // 25)

    hubspot, _ = run.emulator("hubspot")
    contact = ("email", "phone", "country", "city", "interest", "consent_email")
    hubspot.add_contacts(
        {"firstname": r["first_name"], "lastname": r["last_name"], **{k: r[k] for k in contact}}
        for r in hub_known
    )
    hubspot.add_contacts(
        {
            "email": r["email"].replace("@example.com", "@leads.example.com"),
            "firstname": r["first_name"],
            "lastname": r["last_name"],
            "interest": r["interest"],
            "consent_email": r["consent_email"],
        }
        for r in leads
    )
    mailchimp, _ = run.emulator("mailchimp", records=mc_new)
    for r in mc_known:
        mailchimp.add_member(
            r["email"],
            status="subscribed" if r["consent_email"] else "unsubscribed",
            merge_fields={"FNAME": r["first_name"], "LNAME": r["last_name"]},
        )
    return {
        "hubspot": {"known": len(hub_known), "new": len(leads)},
        "mailchimp": {"known": len(mc_known), "new": mc_new},
    }


async def _pull_one(run: DemoRun, name: str) -> dict[str, Any]:
    from ..pulling import pull

    emulator, url = run.emulator(name)
    emulator.reset_counters()
    before = run.store.count("profiles")
    async with connector_for(run, name) as connector:
        result = await pull(connector, run.store, full=True)
    new = run.store.count("profiles") - before
    return {
        "records": result.records,
        "pages": result.pages,
        "new_profiles": new,
        "merged": result.records - new,
        "requests": emulator.total_requests,
        "seconds": round(result.seconds, 2),
        "url": url,
    }


def step_pull(run: DemoRun) -> None:
    """HubSpot and Mailchimp emulators on loopback; pull both; identities merge by email."""
    from ..http import run_sync

    seeded = _seed_vendors(run)
    table = Table(
        "source", "seeded", "pulled", "pages", "new", "merged", "requests", "seconds",
        box=None, pad_edge=False,
    )  # fmt: skip
    pulled: dict[str, Any] = {}
    for name in ("hubspot", "mailchimp"):
        data = run_sync(_pull_one(run, name))
        data["seeded"] = seeded[name]
        pulled[name] = data
        s = seeded[name]
        table.add_row(
            name,
            f"{s['known']:,} + {s['new']:,} new",
            f"{data['records']:,}",
            str(data["pages"]),
            f"{data['new_profiles']:,}",
            f"{data['merged']:,}",
            str(data["requests"]),
            f"{data['seconds']:.2f}",
        )
    run.out.print(
        "emulators on loopback: "
        + ", ".join(f"{name} {url}" for name, (_, url) in run.emulators.items())
    )
    print_table(table, out=run.out)
    both = run.store.con.execute(
        "SELECT count(DISTINCT a.profile_id) FROM profile_aliases a JOIN identities i "
        "ON i.profile_id = a.profile_id AND i.kind = 'hubspot' "
        "WHERE a.alias LIKE 'mailchimp:%' AND a.profile_id LIKE 'p%'"
    ).fetchone()
    in_all = int(both[0]) if both else 0
    run.out.print(
        "merged: matched to a shop profile by email (the vendors hold no martech id); "
        f"{in_all:,} customers are now one profile across the shop, HubSpot and Mailchimp"
    )
    pulled["in_all_three"] = in_all
    run.summary["pull"] = pulled


# ---------------------------------------------------------------------------------- 5. sync


def _plan_row(key: str, prepared: PreparedSync) -> dict[str, Any]:
    p: SyncPlan = prepared.plan
    return {
        "segment": key,
        "destination": p.destination,
        "members": len(prepared.spec.members),
        "sendable": prepared.desired,
        "not_sendable": len(prepared.invalid),
        "adds": len(p.adds),
        "removes": len(p.removes),
        "requests": p.requests,
    }


async def _apply_one(run: DemoRun, name: str, spec: SyncSpec) -> SyncResult:
    from ..sync import apply_async

    async with connector_for(run, name) as connector:
        return await apply_async(run.store, connector, spec)


def _sync_round(run: DemoRun, specs: dict[tuple[str, str], SyncSpec]) -> list[dict[str, Any]]:
    """Plan, apply and count what each destination then holds."""
    from ..http import run_sync
    from ..plugins import get_connector
    from ..sync import prepare

    rows = []
    for (key, name), spec in specs.items():
        row = _plan_row(key, prepare(run.store, get_connector(name), spec))
        result = run_sync(_apply_one(run, name, spec))
        row.update(
            sent=result.sent,
            rejected=len(result.rejected),
            sent_requests=result.requests,
            complete=result.complete,
            at_vendor=held_at_vendor(run, name, spec.audience),
        )
        rows.append(row)
    return rows


def _specs(run: DemoRun, pairs: tuple[tuple[str, str], ...]) -> dict[tuple[str, str], SyncSpec]:
    from ..segments import evaluate
    from ..sync import SyncSpec

    keys = sorted({key for key, _ in pairs})
    members = evaluate(run.store, list(run.segments.values()), as_of=run.as_of, only=keys)
    return {
        (key, name): SyncSpec(audience=key, members=members[key], segment_key=key)
        for key, name in pairs
    }


def _change_membership(
    run: DemoRun, sent: set[str], n_out: int = 3, n_in: int = 2
) -> tuple[int, int]:
    """A few synced fishing beginners turn intermediate, a few intermediates beginner: (out, in)."""
    from ..models import Profile

    leaving = sorted(sent)[:n_out]
    joining = [
        str(r[0])
        for r in run.store.con.execute(
            "SELECT id FROM profiles WHERE traits->>'interest' = 'fishing' "
            "AND traits->>'skill_level' = 'intermediate' AND consent->>'email' = 'true' "
            "ORDER BY id LIMIT ?",
            [n_in],
        ).fetchall()
    ]
    run.store.upsert_profiles(
        [Profile(id=i, traits={"skill_level": "intermediate"}) for i in leaving]
        + [Profile(id=i, traits={"skill_level": "beginner"}) for i in joining]
    )
    return len(leaving), len(joining)


def _replan(run: DemoRun, specs: dict[tuple[str, str], SyncSpec]) -> list[dict[str, Any]]:
    from ..plugins import get_connector
    from ..sync import prepare

    return [
        _plan_row(key, prepare(run.store, get_connector(name), spec))
        for (key, name), spec in specs.items()
    ]


def _sync_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(box=None, pad_edge=False)
    table.add_column("segment", no_wrap=True)
    for header in ("to", "members", "sendable", "plan", "sent", "req", "held"):
        table.add_column(header)
    for row in rows:
        table.add_row(
            row["segment"],
            row["destination"],
            f"{row['members']:,}",
            f"{row['sendable']:,}",
            f"+{row['adds']:,} -{row['removes']:,}",
            f"{row['sent']:,}",
            f"{row['requests']} / {row['sent_requests']}",
            f"{row['at_vendor']:,}",
        )
    return table


def step_sync(run: DemoRun) -> None:
    """Three segments to an ESP, a CRM and an ad platform; re-plan (nothing to do); a small diff."""
    from ..sync import last_sent

    specs = _specs(run, SYNCS)
    rows = _sync_round(run, specs)
    pulled = run.summary.get("pull", {})
    new = sum(v["new_profiles"] for v in pulled.values() if isinstance(v, dict))
    run.out.print(f"segments evaluated again: the pull added {new:,} people, all non-purchasers")
    print_table(_sync_table(rows), out=run.out)
    run.out.print(
        "sendable: Mailchimp needs email consent, Meta ad consent, a CRM list none (missing "
        "HubSpot contacts are created by email); req: planned / sent (both with finding and "
        "creating the audience and HubSpot's contact resolution); held: counted in the emulator "
        "afterwards"
    )
    again = _replan(run, specs)
    changes = sum(r["adds"] + r["removes"] for r in again)
    requests = sum(r["requests"] for r in again)
    run.out.print(
        f"re-plan, nothing changed: {changes} changes, {requests} requests "
        "(the ledger knows what each destination holds)"
    )
    key, name = SYNCS[0]
    left, joined = _change_membership(run, set(last_sent(run.store.con, name, key)))
    d = _sync_round(run, _specs(run, SYNCS[:1]))[0]
    d.update(left=left, joined=joined)
    run.out.print(
        f"then {left} fishing beginners turn intermediate, {joined} intermediates beginner: "
        f"{key} → {name} plans +{d['adds']} -{d['removes']} in {d['requests']} requests; applied, "
        f"{name} holds {d['at_vendor']:,} (sendable members: {d['sendable']:,})"
    )
    run.summary["sync"] = {"runs": rows, "replan": again, "after_change": d}


# ----------------------------------------------------------------------- 6. personalization


def _garys(run: DemoRun) -> dict[str, tuple[Any, Any]]:
    """Gary with less and less data: (profile, decision time) per situation."""
    from ..models import Event, Profile

    morning = run.as_of + timedelta(hours=8)
    reels = run.store.con.execute(
        "SELECT item_id FROM items WHERE category = 'reels' ORDER BY price, item_id LIMIT 2"
    ).fetchall()
    views = [
        Event(type="view", item_id=str(item), ts=morning - timedelta(hours=10, minutes=5 * i))
        for i, (item,) in enumerate(reels)
    ]

    def gary(traits: dict[str, Any], events: list[Any]) -> Any:
        return Profile(id="gary-lake", traits=traits, consent={"email": True}, events=events)

    return {
        "Gary, the morning after viewing two reels": (gary(GARY, views), morning),
        "Gary, a week later (views too old)": (gary(GARY, views), morning + timedelta(days=7)),
        "Gary, only 'fishing' known": (
            gary({"first_name": "Gary", "interest": "fishing"}, []),
            morning,
        ),
        "Gary, nothing known": (gary({"first_name": "Gary"}, []), morning),
    }


def step_personalize(run: DemoRun) -> None:
    """The cookbook's Gary in the email_hero placement, from individual to default."""
    from ..personalize.decide import DecideContext, decide
    from ..personalize.neighbours import refresh_neighbours
    from ..personalize.placements import example_placements

    refresh_neighbours(run.store)
    placements = example_placements()
    contexts: dict[Any, DecideContext] = {}
    decisions: list[dict[str, Any]] = []
    for who, (profile, now) in _garys(run).items():
        if now not in contexts:
            contexts[now] = DecideContext.from_store(run.store, placements, now=now)
        d = decide(profile, "email_hero", context=contexts[now])
        reasons = [r for r in d.reasons if not r.startswith("bucket ")]
        run.out.print(
            f"[bold]{escape(who)}[/] → [bold]{d.level.value}[/] ({d.variant_id}): "
            f"{escape(d.content)!r}"
        )
        for reason in reasons:
            run.out.print(f"    {escape(reason)}")
        decisions.append(
            {
                "who": who,
                "level": d.level.value,
                "variant": d.variant_id,
                "content": d.content,
                "holdout": d.holdout,
                "bucket": d.bucket,
                "reasons": list(d.reasons),
            }
        )
    share = placements["email_hero"].holdout
    held = "inside" if any(d["holdout"] for d in decisions) else "outside"
    run.out.print(
        f"placement email_hero (personalize/examples.yml, as in cookbook/10); Gary's bucket "
        f"{decisions[0]['bucket']} is {held} its {share:.0%} holdout"
    )
    run.summary["personalize"] = decisions


# --------------------------------------------------------------------------------- 7. audit


def step_audit(run: DemoRun) -> None:
    """Probe the built-in smartcontent connector, sold as AI personalization, via its emulator."""
    from ..audit import audit_target
    from ..audit.sources import resolve

    probes = resolve(run.population, seed=run.seed)
    report = audit_target(
        "connector:smartcontent", population=probes, budget=AUDIT_BUDGET, seed=run.seed
    )
    claimed = report.claimed.value if report.claimed else "nothing"
    colour = "red" if report.overclaim else "green" if report.confirmed else "yellow"
    run.out.print(
        f"{report.target} against its emulator (in-process): claimed [bold]{claimed}[/], "
        f"measured [bold]{report.level.value}[/] "
        f"(confidence {report.confidence:.3f}) in {report.calls:,} calls "
        f"(budget {AUDIT_BUDGET:,} for the demo; the CLI default is 2,000) "
        f"over {len(probes.profiles):,} shop profiles, {report.seconds:.1f}s"
    )
    run.out.print(f"[bold {colour}]{escape(report.verdict)}[/]: {escape(report.reason)}")
    changed = [e for e in report.evidence if e.get("output_changed")]
    evidence = changed[0] if changed else (report.evidence[0] if report.evidence else None)
    if evidence:
        run.out.print(
            f"evidence: {escape(str(evidence['change']))}: "
            f"{escape(str(evidence['a']))!r} → {escape(str(evidence['b']))!r}"
        )
    run.summary["audit"] = {
        "target": report.target,
        "claimed": report.claimed.value if report.claimed else None,
        "level": report.level.value,
        "confidence": report.confidence,
        "overclaim": report.overclaim,
        "confirmed": report.confirmed,
        "calls": report.calls,
        "budget": AUDIT_BUDGET,
        "reason": report.reason,
        "evidence": evidence,
    }
