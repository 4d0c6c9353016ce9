"""
title: Audit a vendor before you buy
summary: Probe three "personalization" tools as black boxes and see what each really does.
level: audit
uses: [audit_target, AuditReport, "connector:smartcontent"]
run: python cookbook/20_audit_a_vendor_before_you_buy.py
---
Every vendor demo shows a first name in a subject line and calls it AI personalization.
``martech audit`` probes the tool with controlled variations of real-looking profiles from the
synthetic shop -- the same profile twice, the same person under another id, one trait changed,
items swapped for others of the same category, one extra event -- and labels what the output
actually follows, with a confidence and the probe pairs as evidence.

Three candidates: a merge-tag email tool, a vendor whose content matrix spans five attributes,
and the built-in ``smartcontent`` CMS connector, marketed as "AI-powered 1:1 personalization".
In CI the same check is one line: ``martech audit connector:smartcontent --claim
personalization --fail-on-overclaim`` exits non-zero when the claim is not met.
"""

from __future__ import annotations

import hashlib

from rich.console import Console

from martech import Level, Profile
from martech.audit import audit_target
from martech.audit.sources import synthetic


def merge_tag_email(profile: Profile) -> str:
    """Vendor A: "personalized emails" -- one newsletter with the first name filled in."""
    return f"Hi {profile.traits.get('first_name', 'there')}, our autumn catalogue is out!"


def content_matrix(profile: Profile) -> str:
    """Vendor B: "hyper-personalization" -- a content matrix over five attributes."""
    t = profile.traits
    cell = "|".join(
        str(t.get(k))
        for k in ("interest", "skill_level", "budget_tier", "water_type", "preferred_tackle")
    )
    return "hero-" + hashlib.sha256(cell.encode()).hexdigest()[:6]


def main() -> dict[str, str]:
    population = synthetic()  # 1,000 profiles of the synthetic shop: what the probes vary
    console = Console(width=100)
    candidates = {
        "vendor A (merge tags)": (merge_tag_email, Level.personalization),
        "vendor B (content matrix)": (content_matrix, Level.personalization),
        "smartcontent (built-in)": ("connector:smartcontent", None),  # claims it itself
    }
    found: dict[str, str] = {}
    for label, (target, claim) in candidates.items():
        report = audit_target(target, population=population, seed=7, claim=claim)
        console.rule(label)
        report.render_terminal(console)
        found[label] = report.level.value
        assert report.calls <= 2000
        assert report.overclaim, f"{label}: every candidate claims personalization"

    print("what each one really does (all three are sold as personalization):")
    for label, level in found.items():
        print(f"  {label:<26} {level}")
    assert found == {
        "vendor A (merge tags)": "token_only",
        "vendor B (content matrix)": "micro_segmentation",
        "smartcontent (built-in)": "segmentation",
    }
    return found


if __name__ == "__main__":
    main()
