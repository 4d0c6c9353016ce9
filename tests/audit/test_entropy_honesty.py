"""One output class has 0.0 bits of entropy, printed as 0.0, never -0.0."""

from __future__ import annotations

from io import StringIO

from rich.console import Console

from martech.audit import audit_target
from martech.audit.stats import conditional_entropy, entropy
from martech.audit.targets import CallableTarget


def test_one_class_has_zero_bits_not_negative_zero():
    assert str(entropy(["same"] * 7)) == "0.0"
    assert str(conditional_entropy(["a", "a", "b"], [1, 1, 2])) == "0.0"
    assert entropy(["a", "b"]) == 1.0


def test_a_broadcast_report_prints_zero_bits(probe_population):
    report = audit_target(
        CallableTarget(lambda p: "same for all", name="b"), population=probe_population, budget=300
    )
    console = Console(file=StringIO(), width=200)
    report.render_terminal(console)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "H(out)=0.0 bits" in text
    assert "-0.0" not in text
