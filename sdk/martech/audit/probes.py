"""Probe design: controlled variations of real profiles, and masking of a person's own tokens.

Every probe is built from the probe population, so a tool only ever sees trait names and values,
event types and items it could recognise. The audit varies what it observed; it invents nothing.

The probes (after Hannak et al. 2013/2014, AdFisher and XRay; see ``docs`` in the report):

=====================  ==========================================================================
``repeat``             the identical profile, called again (control: the noise floor)
``id_only``            same traits and events, a different id and identities (hash bucketing)
``trait``              one trait changed to another value observed in the population
``no_history``         all events removed (does behaviour matter at all; the fallback output)
``item_swap``          same events, counts, times and values; each item replaced by another item
                       of the same category (item-level dependence)
``one_event``          the person plus one recent event for item X vs item Y of the same category
``category_swap``      each item replaced by an item of another category (category affinity)
``recency``            the same events, all moved 120 days earlier (recency)
``frequency``          every event twice (counts, totals)
=====================  ==========================================================================
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ..models import Event, Profile

#: Behaviour probe kinds, in report order, with what a change under each one means.
BEHAVIOUR_PROBES: dict[str, str] = {
    "no_history": "any behaviour (history removed)",
    "item_swap": "the specific items (swapped within their category)",
    "one_event": "one added event (item X vs item Y, same category)",
    "category_swap": "item categories",
    "recency": "recency (events moved 120 days earlier)",
    "frequency": "counts and totals (every event twice)",
}

#: Short names for the report ("depends on: country, recency").
BEHAVIOUR_LABELS: dict[str, str] = {
    "no_history": "having a history",
    "item_swap": "specific items",
    "one_event": "specific items (one event)",
    "category_swap": "item categories",
    "recency": "recency",
    "frequency": "counts/totals",
}

#: Traits whose values are personal data: the report names the trait, never the value.
PII_TRAITS: frozenset[str] = frozenset(
    {
        "first_name",
        "last_name",
        "name",
        "email",
        "phone",
        "city",
        "address",
        "zip",
        "postal_code",
        "birthday",
    }
)

#: Words that make a trait personal under any name: full_name, mobile_number, date_of_birth, …
PII_WORDS: frozenset[str] = frozenset(
    {
        "name", "email", "mail", "phone", "mobile", "tel", "telephone", "address", "street",
        "zip", "zipcode", "postcode", "postal", "birth", "birthday", "dob", "ssn", "passport",
        "iban", "ip",
    }
)  # fmt: skip


def is_personal(trait: str) -> bool:
    """True for a trait whose values are personal data (a listed name, or a word of one in it:
    ``full_name``, ``mobileNumber``, ``date_of_birth``, ``username``)."""
    if trait in PII_TRAITS:
        return True
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", trait).lower()
    words = [w for w in re.split(r"[^a-z0-9]+", spaced) if w]
    return any(w in PII_WORDS or w.endswith(("name", "email", "phone")) for w in words)


#: A trait must be present in this share of profiles, with two or more values, to be probed.
MIN_TRAIT_COVERAGE = 0.05

#: Shift applied by the ``recency`` probe.
RECENCY_SHIFT = timedelta(days=120)


@dataclass(frozen=True)
class Vocabulary:
    """What the probe population shows the tool: traits and their values, event types, items."""

    traits: dict[str, list[Any]]
    """trait -> observed values (repeated as often as observed, so sampling keeps frequencies)"""
    items: dict[str, str | None]
    """item_id -> category (None when no catalogue says)"""
    event_types: tuple[str, ...]
    by_category: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_profiles(
        cls, profiles: Sequence[Profile], categories: Mapping[str, str | None] | None = None
    ) -> Vocabulary:
        """Collect the vocabulary; ``categories`` (item_id -> category) comes from a catalogue."""
        traits: dict[str, list[Any]] = {}
        items: dict[str, str | None] = {}
        types: Counter[str] = Counter()
        for p in profiles:
            for name, value in p.traits.items():
                if value is None or isinstance(value, dict | list):
                    continue
                traits.setdefault(name, []).append(value)
            for e in p.events:
                types[e.type] += 1
                if e.item_id is not None:
                    items.setdefault(e.item_id, None)
        cats = dict(categories or {})
        for item_id in list(items):
            items[item_id] = cats.get(item_id)
        for item_id, cat in cats.items():
            items.setdefault(item_id, cat)
        usable = {
            name: values
            for name, values in sorted(traits.items())
            if len(values) >= MIN_TRAIT_COVERAGE * max(1, len(profiles))
            and len({_key(v) for v in values}) >= 2
        }
        by_category: dict[str, list[str]] = {}
        for item_id, cat in sorted(items.items()):
            if cat is not None:
                by_category.setdefault(cat, []).append(item_id)
        by_category = {c: ids for c, ids in by_category.items() if len(ids) >= 2}
        return cls(
            traits=usable,
            items=items,
            event_types=tuple(t for t, _ in types.most_common()),
            by_category=by_category,
        )

    @property
    def has_categories(self) -> bool:
        return len(self.by_category) >= 2


def _key(value: Any) -> str:
    return repr(value)


def has_item_history(profile: Profile) -> bool:
    return any(e.item_id is not None for e in profile.events)


# ----------------------------------------------------------------------------------- probes


@dataclass(frozen=True)
class Probe:
    """One call: the profile sent, and why."""

    kind: str
    factor: str
    profile: Profile
    base: int
    """index of the base profile it was derived from"""
    change: str = ""
    """what was changed, PII-free ("country: DE -> FR", "first_name changed")"""


def probe_id(seed: int, base: int, kind: str, n: int = 0) -> str:
    """A fresh, deterministic profile id for ``id_only`` probes."""
    digest = hashlib.sha256(f"{seed}:{base}:{kind}:{n}".encode()).hexdigest()[:12]
    return f"probe-{digest}"


def id_only(profile: Profile, *, seed: int, base: int) -> Probe:
    new_id = probe_id(seed, base, "id_only")
    identities = {k: _fresh_identity(k, new_id, v) for k, v in profile.identities.items()}
    clone = profile.model_copy(update={"id": new_id, "identities": identities})
    return Probe("id_only", "id", clone, base, "id and identities replaced")


#: The trailing digits of a phone number an id-only probe replaces (the rest is its country and
#: area code, which say where the person is, not who).
PHONE_SUBSCRIBER_DIGITS = 7


def _fresh_identity(kind: str, new_id: str, old: str = "") -> str:
    """Another person's identity of ``kind``, from the same email domain or calling code.

    Only who the person is changes: a tool that offers by email domain (a company's staff) or
    by calling code would otherwise change under the id-only probe and read as an A/B split.
    """
    if kind == "email":
        # The local part is not the id itself: masked, it reads «email» as a real one does.
        domain = old.rsplit("@", 1)[1] if "@" in old else "example.invalid"
        return f"{new_id.replace('-', '.')}@{domain}"
    if kind == "phone":
        digits = int(hashlib.sha256(new_id.encode()).hexdigest()[:8], 16) % 10_000_000
        prefix = old[:-PHONE_SUBSCRIBER_DIGITS] if len(old) > PHONE_SUBSCRIBER_DIGITS + 1 else ""
        return f"{prefix or '+1555'}{digits:07d}"
    return new_id


def trait_pair(
    profile: Profile, trait: str, vocab: Vocabulary, rng: random.Random, *, base: int
) -> Probe | None:
    """The profile with ``trait`` set to another value seen in the population (None if none)."""
    current = profile.traits.get(trait)
    if current is None:
        return None
    pool = vocab.traits[trait]
    for _ in range(20):  # bounded: values are drawn by frequency
        value = rng.choice(pool)
        if _key(value) != _key(current):
            break
    else:
        others = sorted({_key(v): v for v in pool if _key(v) != _key(current)}.items())
        if not others:
            return None
        value = rng.choice(others)[1]
    traits = dict(profile.traits)
    traits[trait] = value
    if is_personal(trait):
        change = f"{trait} changed"
    else:
        change = f"{trait}: {_short(current)} -> {_short(value)}"
    return Probe("trait", trait, profile.model_copy(update={"traits": traits}), base, change)


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 24 else text[:21] + "..."


def _with_events(profile: Profile, events: list[Event]) -> Profile:
    return profile.model_copy(update={"events": events})


def behaviour_probes(
    kind: str, profile: Profile, vocab: Vocabulary, rng: random.Random, *, base: int
) -> list[Probe]:
    """The probe(s) of ``kind`` for a profile with item history; [] when it cannot be built."""
    events = list(profile.events)
    if kind == "no_history":
        return [Probe(kind, kind, _with_events(profile, []), base, "history removed")]
    if kind == "recency":
        moved = [e.model_copy(update={"ts": e.ts - RECENCY_SHIFT}) for e in events]
        return [Probe(kind, kind, _with_events(profile, moved), base, "events 120 days earlier")]
    if kind == "frequency":
        doubled = sorted(events + events, key=lambda e: e.ts)
        return [Probe(kind, kind, _with_events(profile, doubled), base, "every event twice")]
    if kind == "item_swap":
        swapped = [_swap_item(e, vocab, rng, same_category=True) for e in events]
        if swapped == events:
            return []
        change = "items swapped within category" if vocab.has_categories else "items swapped"
        return [Probe(kind, kind, _with_events(profile, swapped), base, change)]
    if kind == "category_swap":
        if not vocab.has_categories:
            return []
        cats = sorted(vocab.by_category)
        shifted = cats[1:] + cats[:1]
        mapping = dict(zip(cats, shifted, strict=True))
        out = []
        for e in events:
            cat = vocab.items.get(e.item_id) if e.item_id else None
            if cat in mapping:
                out.append(
                    e.model_copy(update={"item_id": rng.choice(vocab.by_category[mapping[cat]])})
                )
            else:
                out.append(e)
        if out == events:
            return []
        return [
            Probe(kind, kind, _with_events(profile, out), base, "items moved to other categories")
        ]
    if kind == "one_event":
        pair = _one_event_pair(profile, vocab, rng)
        if pair is None:
            return []
        (x, ex), (y, ey) = pair
        return [
            Probe(kind, kind, _with_events(profile, [*events, ex]), base, f"+1 event on {x}"),
            Probe(kind, kind, _with_events(profile, [*events, ey]), base, f"+1 event on {y}"),
        ]
    raise ValueError(f"unknown behaviour probe {kind!r}")


def _swap_item(
    event: Event, vocab: Vocabulary, rng: random.Random, *, same_category: bool
) -> Event:
    if event.item_id is None:
        return event
    cat = vocab.items.get(event.item_id)
    if same_category and cat is not None and cat in vocab.by_category:
        pool = vocab.by_category[cat]
    elif not vocab.has_categories:
        pool = list(vocab.items)
    else:
        return event
    if len(pool) < 2:
        return event
    for _ in range(20):  # bounded
        other = rng.choice(pool)
        if other != event.item_id:
            return event.model_copy(update={"item_id": other})
    return event


def _one_event_pair(
    profile: Profile, vocab: Vocabulary, rng: random.Random
) -> tuple[tuple[str, Event], tuple[str, Event]] | None:
    item_events = [e for e in profile.events if e.item_id is not None]
    if not item_events:
        return None
    latest = max(e.ts for e in profile.events)
    kinds = Counter(e.type for e in item_events)
    event_type = "view" if "view" in kinds else kinds.most_common(1)[0][0]
    if vocab.has_categories:
        cats = Counter(vocab.items.get(e.item_id or "") for e in item_events)
        cat = next((c for c, _ in cats.most_common() if c in vocab.by_category), None)
        pool = vocab.by_category[cat] if cat else sorted(vocab.items)
    else:
        pool = sorted(vocab.items)
    if len(pool) < 2:
        return None
    x, y = rng.sample(pool, 2)
    ts = latest + timedelta(minutes=1)
    return (x, Event(type=event_type, item_id=x, ts=ts)), (
        y,
        Event(type=event_type, item_id=y, ts=ts),
    )


# ---------------------------------------------------------------------------------- masking

_WORD = r"(?<![\w@.-]){}(?![\w@-])"
_NUMBER = r"(?<![\w@.,$€£#-]){}(?![\w@.,%-])"
#: A part of a value (a name's word, an email's local part or one of its words): not next to
#: another letter or digit, so "berg" masks in "BERG" and "anna.berg" but not in "Bergamo".
_PART = r"(?<![^\W_]){}(?![^\W_])"

#: Traits whose values tools split and transform (``first_name.upper()``, ``name.split()[0]``).
NAME_TRAITS: frozenset[str] = frozenset({"first_name", "last_name", "name"})
#: A part of a value is masked from this length on (digits only: from MIN_DIGITS_PART).
MIN_PART = 3
MIN_DIGITS_PART = 4


#: A phone number is masked in any format from this many digits on: +49 151…, 49151…, (555) 12-…
MIN_PHONE_DIGITS = 7
_PHONE_SEPARATORS = r"[\s().-]*"


def _phone_pattern(value: str) -> str | None:
    """A pattern for the phone number ``value`` however it is written (digits, +, separators)."""
    digits = re.sub(r"\D", "", value)
    if len(digits) < MIN_PHONE_DIGITS:
        return None
    return r"(?<![\w+])\+?" + _PHONE_SEPARATORS.join(digits) + r"(?!\w)"


def _parts(value: str) -> list[str]:
    """The email local part and the words of a personal value, each long enough to be specific."""
    out: list[str] = []
    local = value.split("@", 1)[0] if "@" in value else ""
    if len(local) >= MIN_PART:
        out.append(local)
    words = re.findall(r"[^\W_]+", local or value)
    if len(words) > 1 or local:
        for word in words:
            if len(word) >= (MIN_DIGITS_PART if word.isdigit() else MIN_PART):
                out.append(word)
    return [w for w in out if w != value]


def mask(output: str, profile: Profile) -> str:
    """``output`` with the person's own trait values, identities and id replaced by «name».

    A merge token (first name, city) differs per person but carries no decision: after masking,
    "Hi Anna" and "Hi Bob" are both "Hi «first_name»". Values of 4+ characters match without
    regard to case (``{{ name | upcase }}``); shorter ones (country codes) only as written, so
    "IN" never masks the word "in"; a short personal value (a name, an identity) also matches
    upper-cased and title-cased ("BEN"), never lower-cased ("May" is not "may"). Tools also use
    parts of personal values: an email's local part and its words, and the words of a name
    (3+ characters, 4+ for digits) are masked too.
    """
    # (text, name, personal, is a part)
    replacements: list[tuple[str, str, bool, bool]] = [(profile.id, "id", True, False)]
    personal: list[tuple[str, str]] = [(v, k) for k, v in profile.identities.items() if v]
    for name, value in profile.traits.items():
        if isinstance(value, bool) or value is None or isinstance(value, dict | list):
            continue
        text = str(value)
        if len(text) < 2:
            continue
        if is_personal(name):
            personal.append((text, name))
        else:
            replacements.append((text, name, False, False))
    for value, name in personal:
        replacements.append((value, name, True, False))
        if (
            name in NAME_TRAITS
            or name.endswith("name")
            or "@" in value
            or name in profile.identities
        ):
            replacements += [(part, name, True, True) for part in _parts(value)]
    # Find every occurrence in the original text first, then replace in one pass: a value can
    # never match inside an earlier replacement (acquisition_channel "email" inside «email»).
    spans: list[tuple[int, int, str]] = []
    lowered = output.lower()
    # Phone numbers first, in whatever format the tool wrote them (Meta's digits without +,
    # grouped with spaces or dashes): the value as stored would only match as written.
    for value, name in personal:
        phone = _phone_pattern(value) if "phone" in name or "mobile" in name else None
        if phone is not None:
            spans += [(m.start(), m.end(), name) for m in re.finditer(phone, output)]
    # Longest first; a whole value before a part of another one that reads the same ("Clara"
    # is the first name, not a word of clara.weber@…).
    for value, name, personal_value, is_part in sorted(
        replacements, key=lambda r: (-len(r[0]), r[3])
    ):
        if len(value) >= 4:
            if value.lower() not in lowered:
                continue
            alternatives, flags = re.escape(value), re.IGNORECASE
        else:
            # Short values only as written; a short personal one also as BEN and Ben (never
            # lower-cased: the first name "May" must not mask the word "may").
            forms = {value, value.upper(), value.title()} if personal_value else {value}
            forms = {f for f in forms if f in output}
            if not forms:
                continue
            alternatives, flags = "|".join(re.escape(f) for f in sorted(forms)), re.NOFLAG
        if is_part:
            pattern = _PART
        else:
            pattern = _NUMBER if value.replace(".", "", 1).isdigit() else _WORD
        for m in re.finditer(pattern.format(f"(?:{alternatives})"), output, flags=flags):
            if not any(m.start() < end and start < m.end() for start, end, _ in spans):
                spans.append((m.start(), m.end(), name))
    if not spans:
        return output
    parts: list[str] = []
    cursor = 0
    for start, end, name in sorted(spans):
        parts.append(output[cursor:start])
        parts.append(f"«{name}»")
        cursor = end
    parts.append(output[cursor:])
    return "".join(parts)


def as_set(text: str) -> str:
    """An output as a bag of words: the same items in another order compare equal.

    Hannak et al. compare result *sets* (Jaccard) as well as order; the rubric uses this form
    when order alone is random (a recommender that shuffles its list on every call).
    """
    return " ".join(sorted(re.findall(r"[^\s,;|]+", text)))


def redact_output(output: str, profile: Profile, limit: int = 160) -> str:
    """A PII-free excerpt of an output for the report: masked, then shortened."""
    text = " ".join(mask(output, profile).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sample_bases(profiles: Sequence[Profile], n: int, rng: random.Random) -> list[Profile]:
    """``n`` profiles drawn without replacement (all of them when there are fewer)."""
    if n >= len(profiles):
        chosen = list(profiles)
        rng.shuffle(chosen)
        return chosen
    return rng.sample(list(profiles), n)


def distinct(values: Iterable[str]) -> int:
    return len(set(values))
