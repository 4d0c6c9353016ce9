"""The conformance kit, run by pytest as an author would run it, against deliberately broken
reference connectors: each check fails (or skips) with a message that names the problem."""

from __future__ import annotations

import textwrap

# pytester runs the kit in this process and forgets the modules each run imported; native
# extensions (DuckDB, NumPy, Arrow: the store's) cannot load twice, so they are imported here, once.
import duckdb  # noqa: F401
import numpy  # noqa: F401
import pyarrow  # noqa: F401
import pytest

pytest_plugins = ["pytester"]

SECRET = "sk_live_never_print_me_0123456789"

HEADER = f"""
import logging

from martech.connector import Connector
from martech.testing.conformance import ConnectorConformance
from martech.testing.reference import ReferenceConfig, ReferenceConnector

log = logging.getLogger("acme")
SECRET = {SECRET!r}
"""

FOOTER = """
class TestKit(ConnectorConformance):
    connector = Broken

    def config(self, base_url):
        return ReferenceConfig(base_url=base_url, api_key=SECRET)
"""


def run_kit(pytester: pytest.Pytester, broken: str, check: str) -> pytest.RunResult:
    """Run the kit's ``check`` on ``class Broken(ReferenceConnector)`` defined by ``broken``."""
    source = HEADER + textwrap.dedent(broken) + FOOTER
    pytester.makepyfile(test_kit=source)
    return pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", "-rs", "-k", check)


def output(result: pytest.RunResult) -> str:
    return result.stdout.str() + result.stderr.str()


# ------------------------------------------------------------------------ secrets and raw PII


def test_the_kit_names_remove_members_when_it_logs_the_secret_and_emails(
    pytester: pytest.Pytester,
) -> None:
    result = run_kit(
        pytester,
        """
        class Broken(ReferenceConnector):
            async def remove_members(self, audience_id, members):
                emails = [m.identities["email"] for m in members]
                key = self.config.api_key.get_secret_value()
                log.warning("removing %s with key %s", emails, key)
                return await super().remove_members(audience_id, members)
        """,
        "secret",
    )
    result.assert_outcomes(failed=1)
    text = output(result)
    assert "remove_members: a log record at WARNING from 'acme' holds the secret 'api_key'" in text
    assert "and a raw email" in text
    assert "starting 'sk_'" in text
    assert SECRET not in text  # neither in the failure message nor in the captured logs
    assert "Conformance.Person500@Example.com" not in text
    assert "conformance.person500@example.com" not in text


def test_the_kit_names_read_members_when_it_logs_the_page(pytester: pytest.Pytester) -> None:
    result = run_kit(
        pytester,
        """
        class Broken(ReferenceConnector):
            async def read_members(self, audience_id):
                from martech.http import CursorPaginator, paginate

                pages = paginate(
                    self.http, "GET", f"/v1/audiences/{audience_id}/members",
                    paginator=CursorPaginator(cursor_path=("next",), param="cursor"),
                    items_path=("members",), params={"limit": self.page_size},
                )
                async for page in pages:
                    log.info("read page %s", page.items)
                    for email in page.items:
                        yield email
        """,
        "secret",
    )
    result.assert_outcomes(failed=1)
    text = output(result)
    assert "read_members: a log record at INFO from 'acme' holds a raw email" in text
    assert "read_members over looping pages: a log record at INFO from 'acme'" in text
    assert "the secret" not in text
    assert "conformance.person500@example.com" not in text


def test_the_kit_checks_error_messages_and_refusal_reasons(pytester: pytest.Pytester) -> None:
    result = run_kit(
        pytester,
        """
        from martech.connector import BatchOutcome
        from martech.errors import FatalVendorError

        class Broken(ReferenceConnector):
            async def ensure_audience(self, audience):
                try:
                    return await super().ensure_audience(audience)
                except Exception as exc:
                    key = self.config.api_key.get_secret_value()
                    raise FatalVendorError(f"audience lookup failed with key {key}") from exc

            async def add_members(self, audience_id, members):
                outcome = await super().add_members(audience_id, members)
                by_key = {m.key: m.identities["email"] for m in members}
                rejected = {k: f"{by_key[k]}: {why}" for k, why in outcome.rejected.items()}
                return BatchOutcome(accepted=outcome.accepted, rejected=rejected)
        """,
        "secret",
    )
    result.assert_outcomes(failed=1)
    text = output(result)
    assert (
        "ensure_audience/add_members under persistent 5xx: the FatalVendorError raised holds "
        "the secret 'api_key'"
    ) in text
    assert "add_members with refusals: a per-item refusal reason holds a raw email" in text
    assert SECRET not in text


def test_the_kit_names_a_leaked_phone(pytester: pytest.Pytester) -> None:
    result = run_kit(
        pytester,
        """
        class Broken(ReferenceConnector):
            async def ensure_audience(self, audience):
                log.debug("caller on call: +14155550500")
                return await super().ensure_audience(audience)
        """,
        "secret",
    )
    result.assert_outcomes(failed=1)
    text = output(result)
    assert "ensure_audience: a log record at DEBUG from 'acme' holds a raw phone" in text
    assert "+14155550500" not in text


# ------------------------------------------------------------------------------ pagination loop


def test_a_read_that_returns_while_pages_loop_fails(pytester: pytest.Pytester) -> None:
    result = run_kit(
        pytester,
        """
        class Broken(ReferenceConnector):
            async def read_members(self, audience_id):
                cursor = None
                for _ in range(50):  # a cap instead of loop detection
                    params = {"limit": self.page_size}
                    if cursor:
                        params["cursor"] = cursor
                    r = await self.http.get(f"/v1/audiences/{audience_id}/members", params=params)
                    for email in r.data["members"]:
                        yield email
                    cursor = r.data.get("next")
                    if not cursor:
                        return
        """,
        "pagination_loop",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*read_members returned while the vendor's pages looped; raise PaginationLoopError "
            "(martech.http.paginate does). It yielded 5000 keys, 200 distinct.*"
        ]
    )


def test_the_loop_check_skips_naming_what_is_missing(pytester: pytest.Pytester) -> None:
    result = run_kit(
        pytester,
        """
        class Broken(ReferenceConnector):
            read_members = Connector.read_members
        """,
        "pagination_loop",
    )
    result.assert_outcomes(skipped=1)
    text = output(result)
    assert (
        "reference reads nothing page by page: it does not claim pull_profiles, and it claims "
        "push_audience without implementing read_members"
    ) in " ".join(text.split())


def test_the_loop_check_passes_on_the_reference(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, "class Broken(ReferenceConnector): pass\n", "pagination_loop")
    result.assert_outcomes(passed=1)


# ------------------------------------------------------------------------ ensure_audience twice


def test_an_ensure_audience_that_creates_every_time_fails(pytester: pytest.Pytester) -> None:
    result = run_kit(
        pytester,
        """
        class Broken(ReferenceConnector):
            async def ensure_audience(self, audience):
                created = await self.http.post("/v1/audiences", json={"name": audience})
                return str(created.data["id"])
        """,
        "idempotent",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*ensure_audience('martech-conformance') returned '1', then '2': called again with "
            "the same name it must return the existing audience, not create another*"
        ]
    )


# ------------------------------------------------------------------- read_members not implemented


def test_without_read_members_the_read_back_checks_skip_naming_it(
    pytester: pytest.Pytester,
) -> None:
    result = run_kit(
        pytester,
        """
        class Broken(ReferenceConnector):
            read_members = Connector.read_members
        """,
        "idempotent or killed",
    )
    result.assert_outcomes(skipped=2)
    text = " ".join(output(result).split())
    assert "added twice" not in text
    assert (
        "reference does not implement read_members, so the kit cannot read the audience back "
        "to check that adding the same members twice holds each once"
    ) in text
    assert "to check that the resumed sync added nobody twice and lost nobody" in text
    assert "martech.sync then re-sends the batches a crash left uncertain" in text


def test_the_changed_checks_pass_on_the_reference(pytester: pytest.Pytester) -> None:
    result = run_kit(
        pytester, "class Broken(ReferenceConnector): pass\n", "idempotent or killed or secret"
    )
    result.assert_outcomes(passed=3)


# ------------------------------------------- no read_members, but an emulator that counts people

COUNTING = """
from martech.testing.reference import ReferenceEmulator


class Broken(ReferenceConnector):
    read_members = Connector.read_members


class Counting(ReferenceEmulator):
    keeps_duplicates = False

    def size(self, audience_id):
        held = len(self.audiences[audience_id]["members"])
        return held + (self.duplicate_adds if self.keeps_duplicates else 0)


class TestKit(ConnectorConformance):
    connector = Broken
    emulator = Counting

    def config(self, base_url):
        return ReferenceConfig(base_url=base_url, api_key=SECRET)
"""


def run_counting(pytester: pytest.Pytester, extra: str, check: str) -> pytest.RunResult:
    pytester.makepyfile(test_kit=HEADER + COUNTING + textwrap.dedent(extra))
    return pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", "-rs", "-k", check)


def test_without_read_members_the_kit_counts_the_emulators_people(
    pytester: pytest.Pytester,
) -> None:
    result = run_counting(pytester, "", "idempotent or killed")
    result.assert_outcomes(passed=2)


def test_without_read_members_a_vendor_holding_someone_twice_fails(
    pytester: pytest.Pytester,
) -> None:
    result = run_counting(pytester, "Counting.keeps_duplicates = True\n", "idempotent")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*the emulator holds 10 people after the same 5 members were added twice*"]
    )


def test_without_read_members_a_resume_may_resend_only_the_batches_in_flight(
    pytester: pytest.Pytester,
) -> None:
    # A connector that adds every member twice re-sends far more than the two batches (of 5)
    # that can be in flight at the kill.
    extra = """
    async def _twice(self, audience_id, members):
        await ReferenceConnector.add_members(self, audience_id, members)
        return await ReferenceConnector.add_members(self, audience_id, members)

    Broken.add_members = _twice
    """
    result = run_counting(pytester, extra, "killed")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*members were sent again after the resume; without read_members only the batches*"]
    )
