"""The Mailchimp emulator's answers before any handler runs: every route on a list checks the
API key (401) and finds the list (404), every route on a segment also finds the segment (404),
each as Mailchimp's problem+json."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest

from martech_connectors.mailchimp.emulator import (
    DEFAULT_API_KEY,
    DEFAULT_LIST_ID,
    MailchimpEmulator,
)

LIST_ROUTES = [
    ("POST", "/lists/{list}"),
    ("GET", "/lists/{list}/members"),
    ("GET", "/lists/{list}/members/0123456789abcdef0123456789abcdef"),
    ("PUT", "/lists/{list}/members/0123456789abcdef0123456789abcdef"),
    ("GET", "/lists/{list}/merge-fields"),
    ("POST", "/lists/{list}/merge-fields"),
    ("GET", "/lists/{list}/segments"),
    ("POST", "/lists/{list}/segments"),
]
SEGMENT_ROUTES = [
    ("GET", "/lists/{list}/segments/{segment}"),
    ("POST", "/lists/{list}/segments/{segment}"),
    ("GET", "/lists/{list}/segments/{segment}/members"),
]


def call(method: str, path: str, *, key: str = DEFAULT_API_KEY) -> httpx.Response:
    """One request to a fresh emulator, after its list gained one static segment ({segment}
    in ``path`` is its id)."""
    emulator = MailchimpEmulator()

    def auth(key: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"any:{key}".encode()).decode()}

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=emulator.transport(), base_url="http://mailchimp.test/3.0"
        ) as client:
            made = await client.post(
                f"/lists/{DEFAULT_LIST_ID}/segments",
                headers=auth(DEFAULT_API_KEY),
                json={"name": "s", "static_segment": []},
            )
            assert made.status_code == 200, made.text
            url = path.replace("{segment}", str(made.json()["id"]))
            return await client.request(method, url, headers=auth(key), json={})

    return asyncio.run(go())


def problem(response: httpx.Response) -> dict[str, object]:
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == response.status_code
    return body


@pytest.mark.parametrize(("method", "route"), LIST_ROUTES + SEGMENT_ROUTES)
def test_a_wrong_api_key_is_401_on_every_list_route(method: str, route: str) -> None:
    response = call(method, route.replace("{list}", DEFAULT_LIST_ID), key="0" * 32 + "-us21")
    assert response.status_code == 401
    assert problem(response)["title"] == "API Key Invalid"


@pytest.mark.parametrize(("method", "route"), LIST_ROUTES + SEGMENT_ROUTES)
def test_an_unknown_list_is_404_on_every_list_route(method: str, route: str) -> None:
    response = call(method, route.replace("{list}", "nosuchlist"))
    assert response.status_code == 404
    assert problem(response)["title"] == "Resource Not Found"


@pytest.mark.parametrize(("method", "route"), SEGMENT_ROUTES)
@pytest.mark.parametrize("segment", ["999", "not-a-number"])
def test_an_unknown_segment_is_404(method: str, route: str, segment: str) -> None:
    response = call(method, route.format(list=DEFAULT_LIST_ID, segment=segment))
    assert response.status_code == 404
    assert problem(response)["title"] == "Resource Not Found"


def test_a_known_segment_is_answered_by_its_handler() -> None:
    response = call("GET", f"/lists/{DEFAULT_LIST_ID}/segments/{{segment}}")
    assert response.status_code == 200
    assert response.json()["name"] == "s"
    assert response.json()["list_id"] == DEFAULT_LIST_ID
