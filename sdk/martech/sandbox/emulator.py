"""The emulator base: a Starlette app with in-memory state, vendor limits, faults and counters.

A vendor emulator subclasses :class:`Emulator`, returns its routes from :meth:`Emulator.routes`
and overrides the few vendor-shaped answers (:meth:`rate_limited`, :meth:`error`). The base is a
plain ASGI app that wraps the routes with what every vendor needs:

* request counting (``requests`` by "METHOD /path", ``total_requests``);
* a concurrency limiter that refuses requests beyond ``concurrency_limit`` in flight, as
  Mailchimp does with its 10 connections;
* rate-limit helpers (:class:`FixedWindow`, :class:`RollingWindow`) a route calls;
* :class:`~martech.sandbox.faults.Faults`: injected 429/5xx bursts, latency, hangs.

It runs in-process (``emulator.transport()``, an ``httpx.ASGITransport``) for tests and on
loopback (``with emulator.serve() as url``) for the demo, the CLI and benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import orjson

from ..errors import MartechError
from .faults import Faults, FaultState

if TYPE_CHECKING:
    import httpx
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute
    from starlette.types import Receive, Scope, Send

    from ..connector import Connector, ConnectorConfig
    from ..http import HttpClient

Clock = Callable[[], float]
#: A connector class, for :meth:`Emulator.bind`.
C = TypeVar("C", bound="Connector")


class SandboxError(MartechError):
    """An emulator could not start or was asked for something it does not emulate."""


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON answer serialized with orjson (bytes pass through: pre-serialized pages)."""
    from starlette.responses import Response

    body = data if isinstance(data, bytes) else orjson.dumps(data)
    return Response(body, status_code=status, headers=headers, media_type="application/json")


class FixedWindow:
    """``limit`` requests per ``interval`` seconds, counted in fixed windows."""

    def __init__(self, limit: int, interval: float, clock: Clock = time.monotonic) -> None:
        self.limit, self.interval, self.clock = limit, interval, clock
        self._start = clock()
        self._count = 0
        self._lock = threading.Lock()

    def hit(self) -> tuple[bool, int, float]:
        """Count one request: (allowed, remaining, seconds until the window resets)."""
        with self._lock:
            now = self.clock()
            if now - self._start >= self.interval:
                self._start, self._count = now - (now - self._start) % self.interval, 0
            reset = self.interval - (now - self._start)
            if self._count >= self.limit:
                return False, 0, reset
            self._count += 1
            return True, self.limit - self._count, reset


class RollingWindow:
    """``limit`` requests in any ``interval`` seconds (HubSpot's ``TEN_SECONDLY_ROLLING``)."""

    def __init__(self, limit: int, interval: float, clock: Clock = time.monotonic) -> None:
        self.limit, self.interval, self.clock = limit, interval, clock
        self._hits: deque[float] = deque()
        self._lock = threading.Lock()

    def hit(self) -> tuple[bool, int, float]:
        """Count one request: (allowed, remaining, seconds until a slot frees up)."""
        with self._lock:
            now = self.clock()
            while self._hits and now - self._hits[0] >= self.interval:
                self._hits.popleft()
            if len(self._hits) >= self.limit:
                return False, 0, self.interval - (now - self._hits[0])
            self._hits.append(now)
            reset = self.interval - (now - self._hits[0])
            return True, self.limit - len(self._hits), reset


class Emulator:
    """Base for vendor emulators. Subclass: set ``name``, implement ``routes()``."""

    #: The connector name this emulator stands in for (``martech sandbox serve NAME``).
    name: ClassVar[str] = "emulator"

    def __init__(
        self, *, faults: Faults | None = None, concurrency_limit: int | None = None
    ) -> None:
        from starlette.applications import Starlette

        self.lock = threading.Lock()  # state is touched by the server thread and the test
        self.requests: Counter[str] = Counter()
        self.total_requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.refused_concurrency = 0
        self.concurrency_limit = concurrency_limit
        self.set_faults(faults or Faults())
        self.app = Starlette(routes=self.routes())

    # ------------------------------------------------------------------------ for subclasses

    def routes(self) -> list[BaseRoute]:
        """The vendor's endpoints. Override."""
        return []

    def seed_data(self, records: int, seed: int = 0) -> None:
        """Fill the emulator with ``records`` synthetic records (the CLI's ``--records``)."""

    def connection(self, base_url: str) -> dict[str, str]:
        """Connector settings that reach this emulator at ``base_url``.

        Printed by ``martech sandbox serve`` so a user can point a connector at it. Secrets here
        are the emulator's own fake credentials, never a real vendor's. Override to add the
        fields the connector needs (tokens, account or list ids).
        """
        return {"base_url": base_url}

    def disable_limits(self) -> None:
        """Stop enforcing vendor limits (benchmarks measure us, not the vendor's quota)."""
        self.concurrency_limit = None

    def rate_limited(self, retry_after: str | None = None) -> Response:
        """The vendor's 429 answer. Override with the vendor's body and headers."""
        headers = {"Retry-After": retry_after} if retry_after is not None else None
        return json_response({"message": "Too many requests"}, 429, headers)

    def error(self, status: int, message: str) -> Response:
        """The vendor's error answer for ``status``. Override with the vendor's body shape."""
        return json_response({"message": message}, status)

    def too_many_in_flight(self) -> Response:
        """Answer for a request beyond ``concurrency_limit``; a 429 unless overridden."""
        return self.rate_limited(None)

    # ----------------------------------------------------------------------------- controls

    def set_faults(self, faults: Faults) -> None:
        """Replace the fault knobs (and restart their seeded dice)."""
        self.faults = faults
        self.fault_state = FaultState(faults)

    @property
    def injected(self) -> dict[str, int]:
        """How many of each fault were injected so far."""
        return self.fault_state.injected

    def reset_counters(self) -> None:
        with self.lock:
            self.requests.clear()
            self.total_requests = 0
            self.max_in_flight = 0
            self.refused_concurrency = 0

    # ---------------------------------------------------------------------------------- ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette.requests import ClientDisconnect  # loaded with the app already

        path: str = scope["path"]
        with self.lock:
            self.requests[f"{scope['method']} {path}"] += 1
            self.total_requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            over = self.concurrency_limit is not None and self.in_flight > self.concurrency_limit
            if over:
                self.refused_concurrency += 1
        try:
            faults = self.faults
            if faults.latency:
                await asyncio.sleep(faults.latency)
            if over:
                await self.too_many_in_flight()(scope, receive, send)
                return
            fault = self.fault_state.roll(path)
            if fault == "timeout":
                await asyncio.sleep(faults.hang_seconds)
                await self.error(504, "Gateway Timeout")(scope, receive, send)
            elif fault == "429":
                await self.rate_limited(faults.retry_after)(scope, receive, send)
            elif fault == "5xx":
                status = faults.server_error_status
                await self.error(status, "Service Unavailable")(scope, receive, send)
            else:
                await self.app(scope, receive, send)
        except ClientDisconnect:
            pass  # the client went away mid-request (a killed sync): nobody to answer
        finally:
            with self.lock:
                self.in_flight -= 1

    async def read_json(self, request: Request) -> Any:
        """The request body parsed with orjson; None if empty or not JSON."""
        body = await request.body()
        if not body:
            return None
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            return None

    # ------------------------------------------------------------------------------- running

    def transport(self) -> httpx.ASGITransport:
        """An in-process httpx transport to this emulator (no sockets)."""
        import httpx

        return httpx.ASGITransport(app=self)

    def bound_config(self, connector: type[C], **settings: Any) -> ConnectorConfig:
        """``connector``'s Config from :meth:`connection` on ``http://<name>.test``, a host only
        this emulator's in-process transport answers; ``settings`` override any of its values."""
        values = {**self.connection(f"http://{self.name}.test"), **settings}
        return connector.Config(**values)

    def bind(
        self,
        connector: type[C],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        client: Mapping[str, Any] | None = None,
        **settings: Any,
    ) -> C:
        """``connector`` talking to this emulator in process, for tests and scripts: its config
        from :meth:`bound_config` (``settings`` override), its HTTP through ``transport``
        (default :meth:`transport`; a wrapper injects faults) with ``client``'s further
        :class:`~martech.http.HttpClient` arguments (``retry``, ``sleep``)."""
        from ..http import HttpClient

        config = self.bound_config(connector, **settings)
        through = transport or self.transport()

        def make(base_url: str) -> HttpClient:
            return HttpClient(
                base_url=base_url, transport=through, vendor=connector.name, **(client or {})
            )

        return connector(config=config, **self.clients(config, make))

    def clients(
        self, config: ConnectorConfig, make: Callable[[str], HttpClient]
    ) -> dict[str, HttpClient]:
        """The HTTP clients :meth:`bind` hands the connector, by constructor argument: ``http``
        at the config's ``base_url``. Override when the connector takes more."""
        return {"http": make(config.base_url)}

    def _check_port(self, port: int) -> None:
        """A taken port is our one-line error, before uvicorn logs its own about it."""
        import socket

        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            try:
                probe.bind(("127.0.0.1", port))
            except OSError as exc:
                raise SandboxError(
                    f"{self.name} emulator cannot listen on 127.0.0.1:{port}: "
                    f"{exc.strerror or exc} (--port 0 picks a free one)"
                ) from None

    @contextmanager
    def serve(self, port: int = 0, *, startup_timeout: float = 10.0) -> Iterator[str]:
        """Run on 127.0.0.1 in a background thread; yield the base URL; stop on exit."""
        import uvicorn

        if port:
            self._check_port(port)
        config = uvicorn.Config(
            self,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            loop="asyncio",
            timeout_keep_alive=30,
        )
        server = uvicorn.Server(config)

        def run() -> None:
            with contextlib.suppress(SystemExit):  # uvicorn exits when it cannot bind: see below
                server.run()

        thread = threading.Thread(target=run, name=f"{self.name}-emulator", daemon=True)
        thread.start()
        give_up = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > give_up:
                server.should_exit = True
                thread.join(timeout=startup_timeout)
                why = (
                    "the server stopped (is the port taken? --port 0 picks a free one)"
                    if not thread.is_alive()
                    else f"no answer within {startup_timeout:g}s"
                )
                raise SandboxError(f"{self.name} emulator did not start on 127.0.0.1:{port}: {why}")
            time.sleep(0.01)
        bound = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{bound}"
        finally:
            server.should_exit = True
            thread.join(timeout=startup_timeout)


__all__ = [
    "Emulator",
    "FixedWindow",
    "RollingWindow",
    "SandboxError",
    "json_response",
]
