"""The Emulator base: faults from a seed, limits, concurrency refusal, transport and serve."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from contextlib import redirect_stdout
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from martech.sandbox import (
    Burst,
    Emulator,
    Faults,
    FixedWindow,
    RollingWindow,
    available,
    emulator_class,
    json_response,
    serve,
)

pytestmark = pytest.mark.anyio


class Echo(Emulator):
    name = "echo"

    def routes(self) -> list[BaseRoute]:
        async def ok(request: Request) -> Response:
            await asyncio.sleep(float(request.query_params.get("hold", "0")))
            return json_response({"ok": True})

        return [Route("/ok", ok), Route("/other", ok)]


async def statuses(emulator: Emulator, n: int, path: str = "/ok") -> list[int]:
    async with httpx.AsyncClient(transport=emulator.transport(), base_url="http://e") as c:
        return [(await c.get(path)).status_code for _ in range(n)]


async def test_every_nth_429_burst_with_retry_after() -> None:
    emu = Echo(faults=Faults(too_many_requests=Burst(every=3, length=2), retry_after="4"))
    got = await statuses(emu, 9)
    assert got == [200, 200, 429, 429, 200, 429, 429, 200, 429]
    assert emu.injected["429"] == 5
    assert emu.total_requests == 9


async def test_first_n_5xx_then_healthy() -> None:
    emu = Echo(faults=Faults(server_errors=Burst(first=2), server_error_status=502))
    assert await statuses(emu, 4) == [502, 502, 200, 200]


async def test_rate_faults_are_reproducible_from_the_seed() -> None:
    faults = Faults(seed=7, too_many_requests=Burst(rate=0.3))
    first = await statuses(Echo(faults=faults), 40)
    second = await statuses(Echo(faults=faults), 40)
    assert first == second
    assert 429 in first
    assert 200 in first
    other = await statuses(Echo(faults=Faults(seed=8, too_many_requests=Burst(rate=0.3))), 40)
    assert other != first


async def test_faults_can_target_paths() -> None:
    emu = Echo(faults=Faults(paths=("/other",), server_errors=Burst(first=5)))
    assert await statuses(emu, 2, "/ok") == [200, 200]
    assert await statuses(emu, 2, "/other") == [503, 503]


async def test_requests_beyond_the_concurrency_limit_are_refused() -> None:
    emu = Echo(concurrency_limit=2)
    async with httpx.AsyncClient(transport=emu.transport(), base_url="http://e") as c:
        got = await asyncio.gather(*(c.get("/ok", params={"hold": "0.2"}) for _ in range(4)))
    codes = sorted(r.status_code for r in got)
    assert codes == [200, 200, 429, 429]
    assert emu.refused_concurrency == 2


def test_fixed_window_counts_and_resets() -> None:
    now = [0.0]
    window = FixedWindow(2, 10.0, clock=lambda: now[0])
    assert [window.hit()[0] for _ in range(3)] == [True, True, False]
    now[0] = 10.5
    allowed, remaining, reset = window.hit()
    assert allowed
    assert remaining == 1
    assert reset == pytest.approx(9.5)


def test_rolling_window_frees_slots_as_they_age() -> None:
    now = [0.0]
    window = RollingWindow(2, 10.0, clock=lambda: now[0])
    window.hit()
    now[0] = 5.0
    window.hit()
    assert window.hit()[0] is False
    now[0] = 10.0  # the first hit aged out, the second has not
    assert window.hit()[:2] == (True, 0)
    assert window.hit()[0] is False


def test_serve_runs_on_loopback_and_stops() -> None:
    emu = Echo()
    with emu.serve() as url:
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/ok").json() == {"ok": True}
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/ok", timeout=1)


def test_registry_finds_emulators_by_connector_name() -> None:
    assert "hubspot" in available()
    assert emulator_class("hubspot").name == "hubspot"


def test_cli_serve_prints_the_url_and_stops_after_for() -> None:
    from martech.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        code = main(
            ["sandbox", "serve", "hubspot", "--port", "0", "--records", "5", "--for", "0.2"]
        )
    assert code == 0
    assert out.getvalue().strip().startswith("http://127.0.0.1:")


async def _first_call(connector: Any) -> object:
    """One cheap authenticated call through the connector's first capability."""
    from martech.models import Profile, StaticVariant

    names = [c.name for c in connector.capabilities()]
    if "push_audience" in names:
        return await connector.ensure_audience("sandbox-check")
    if "push_content" in names:
        variant = StaticVariant(id="hello", channel="web", placement="home", content="Hello")
        return await connector.push_content(variant)
    assert "decide" in names, names
    return await connector.decide(Profile(id="p1"), "home")


@pytest.mark.parametrize("name", sorted(available()))
def test_connection_settings_reach_the_emulator(name: str) -> None:
    """What `sandbox serve` prints is enough to use the connector; a wrong secret is refused."""
    from pydantic import SecretStr

    from martech.errors import AuthError
    from martech.plugins import get_connector

    cls = get_connector(name)
    secret_fields = [k for k, f in cls.Config.model_fields.items() if f.annotation is SecretStr]

    async def run(settings: dict[str, str]) -> object:
        connector = cls(config=cls.Config.model_validate(settings))
        try:
            return await _first_call(connector)
        finally:
            await connector.aclose()

    with serve(name) as (emulator, url):
        settings = emulator.connection(url)
        assert settings["base_url"].startswith(url)
        assert set(settings) <= set(cls.Config.model_fields)
        assert asyncio.run(run(settings))
        # the HubSpot and SmartContent emulators, unless given a token, take any bearer token
        if name not in {"hubspot", "smartcontent"}:
            wrong = {**settings, secret_fields[0]: "wrong-" + settings[secret_fields[0]]}
            with pytest.raises(AuthError):
                asyncio.run(run(wrong))


def test_cli_serve_prints_the_connector_settings() -> None:
    from martech.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        main(["sandbox", "serve", "mailchimp", "--for", "0.2", "--records", "0"])
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("http://127.0.0.1:")
    assert "[connectors.mailchimp]" in lines
    assert f'base_url = "{lines[0]}/3.0"' in lines
    assert any(line.startswith("export MARTECH_MAILCHIMP_API_KEY=") for line in lines)
    assert not any(line.startswith("api_key") for line in lines)


def test_a_taken_port_is_a_clear_error_and_the_only_one(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    import socket

    from martech.sandbox import SandboxError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with (
            pytest.raises(SandboxError, match=rf"cannot listen on 127.0.0.1:{port}: .*in use"),
            serve("mailchimp", port=port),
        ):
            pass
    # uvicorn never tried: its own "[Errno 98] error while attempting to bind" line is not shown
    assert "Errno" not in capsys.readouterr().err
    assert not [r for r in caplog.records if r.name.startswith("uvicorn")]


def test_cli_serve_latency_reaches_the_emulators_faults(monkeypatch: pytest.MonkeyPatch) -> None:
    import contextlib

    import martech.sandbox as sandbox
    from martech.cli import main

    seen: dict[str, Any] = {}

    @contextlib.contextmanager
    def fake_serve(name: str, **kw: Any) -> Iterator[tuple[Any, str]]:
        seen.update(kw, name=name)
        raise KeyboardInterrupt  # stop right there: the settings are what this test reads
        yield  # pragma: no cover

    monkeypatch.setattr(sandbox, "serve", fake_serve)
    main(["sandbox", "serve", "mailchimp", "--latency", "0.25", "--records", "0"])
    assert seen["name"] == "mailchimp"
    assert seen["faults"].latency == 0.25
    assert main(["sandbox", "serve", "mailchimp", "--latency", "-1"]) == 2


async def test_a_client_gone_mid_request_ends_quietly_and_frees_its_slot() -> None:
    """A sync killed while sending (bench/sync_faults.py) leaves a request whose body never
    arrives: the handler's read sees the disconnect; the emulator raises nothing (uvicorn printed
    a traceback per cut request) and counts the request out of flight."""

    class Reader(Emulator):
        name = "reader"

        def routes(self) -> list[BaseRoute]:
            async def post(request: Request) -> Response:
                return json_response({"got": await self.read_json(request)})

            return [Route("/in", post, methods=["POST"])]

    emu = Reader()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/in", "raw_path": b"/in",
             "query_string": b"", "headers": [], "http_version": "1.1", "scheme": "http",
             "server": ("e", 80), "root_path": ""}  # fmt: skip
    await emu(scope, receive, send)  # raised ClientDisconnect before
    assert emu.in_flight == 0
