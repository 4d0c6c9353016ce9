"""``HttpClient``: the one way martech talks to a vendor.

An ``httpx.AsyncClient`` inside, plus what every connector needs and none should re-implement:
bounded retries (tenacity) on connect errors, timeouts, 5xx and 429 that honour ``Retry-After``
and vendor reset headers, a per-host-and-credential budget, a deadline that turns a long wait
into :class:`~martech.errors.DeadlineExceededError`, typed errors, one orjson parse per response,
and redaction of everything it logs or raises.

Tests and the demo inject an emulator's transport (``HttpClient(base_url=…,
transport=emulator.transport())``); nothing monkeypatches internals.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import orjson

from ..errors import (
    AuthError,
    ConfigError,
    DeadlineExceededError,
    FatalVendorError,
    RateLimitedError,
    RetriableVendorError,
    VendorError,
)
from .budget import Budget, budget_for
from .redact import redact
from .retry import (
    CLASSIFY_HOOKS,
    RetryPolicy,
    bounded_hint,
    classify_status,
    parse_retry_after,
    wait_hint,
)

if TYPE_CHECKING:
    import tenacity

    from ..connector import Limits

logger = logging.getLogger("martech.http")
T = TypeVar("T")

#: Headers that carry a credential: learned as secrets to redact, and part of the budget key.
_KEY_HEADERS = ("x-api-key", "api-key", "apikey")
_CREDENTIAL_HEADERS = ("authorization", *_KEY_HEADERS)


class Response:
    """A finished response: status, headers, raw bytes and the body parsed once with orjson."""

    __slots__ = ("content", "data", "headers", "status", "url")

    def __init__(self, status: int, headers: httpx.Headers, content: bytes, data: Any, url: str):
        self.status = status
        self.headers = headers
        self.content = content
        #: The JSON body parsed once (orjson), or None for an empty or non-JSON body.
        self.data = data
        self.url = url

    def __repr__(self) -> str:
        return f"<Response {self.status} {len(self.content)} bytes>"


def parse_body(content: bytes, content_type: str | None) -> Any:
    """orjson-parse a body that looks like JSON; None for empty or non-JSON bodies."""
    if not content:
        return None
    if content_type and "json" not in content_type and content[:1] not in (b"{", b"["):
        return None
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return None


def vendor_message(data: Any, fallback: str = "") -> str:
    """The human message inside a vendor error body, for the common shapes, with its details.

    HubSpot ``{"message", "errors"}``, Mailchimp problem+json ``{"title", "detail", "errors"}``,
    Meta ``{"error": {"message", "error_user_msg", "code", "error_subcode"}}``, Contentful
    ``{"message", "details": {"errors"}}``, WordPress ``{"code", "message", "data": {"params"}}``.
    The headline comes first; field-level details follow, a few of them, each cut short.
    """
    headline = _headline(data)
    if not headline:
        return fallback
    details = [d for d in _details(data) if d and d not in headline]
    if not details:
        return headline
    shown = [d if len(d) <= _DETAIL_CHARS else d[: _DETAIL_CHARS - 1] + "…" for d in details]
    more = len(shown) - _DETAILS_SHOWN
    text = "; ".join(shown[:_DETAILS_SHOWN]) + (f"; and {more} more" if more > 0 else "")
    return f"{headline} ({text})"


_DETAILS_SHOWN = 5
_DETAIL_CHARS = 160


def _headline(data: Any) -> str:
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])
        if isinstance(err, str) and isinstance(data.get("error_description"), str):
            return f"{err}: {data['error_description']}"
        detail, title, message = data.get("detail"), data.get("title"), data.get("message")
        if isinstance(message, str) and message:
            return message
        if isinstance(detail, str) and detail:
            return f"{title}: {detail}" if isinstance(title, str) and title else detail
        if isinstance(title, str):
            return title
        errors = data.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message") or errors[0].get("detail") or "")
    return ""


def _details(data: Any) -> list[str]:
    """Field-level reasons in a vendor error body, as ``where: why`` strings."""
    if not isinstance(data, dict):
        return []
    out: list[str] = []
    err = data.get("error")
    if isinstance(err, dict):  # Meta's Graph envelope
        user = err.get("error_user_msg")
        if isinstance(user, str) and user:
            out.append(user)
        code, sub = err.get("code"), err.get("error_subcode")
        if isinstance(code, int):
            out.append(f"code {code}" + (f", subcode {sub}" if isinstance(sub, int) else ""))
    lists = [data.get("errors")]
    details = data.get("details")
    if isinstance(details, dict):  # Contentful
        lists.append(details.get("errors"))
    for items in lists:
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            where = item.get("field") or item.get("in") or item.get("path") or item.get("name")
            if isinstance(where, list):
                where = ".".join(str(p) for p in where)
            why = item.get("message") or item.get("details") or item.get("detail") or ""
            if why:
                out.append(f"{where}: {why}" if where else str(why))
    extra = data.get("data")
    params = extra.get("params") if isinstance(extra, dict) else None
    if isinstance(params, dict):  # WordPress rest_invalid_param
        out.extend(str(v) if str(k) in str(v) else f"{k}: {v}" for k, v in params.items())
    return out


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine to completion from synchronous code (scripts, the CLI).

    Inside a running event loop (an async app, a notebook cell) it cannot block: that is a
    ConfigError saying to await the async form, and the coroutine is closed, not leaked.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    name = getattr(coro, "__qualname__", "the coroutine")
    coro.close()
    raise ConfigError(
        f"a blocking martech call was made inside a running event loop; await its async form "
        f"instead ({name}, e.g. martech.sync.apply_async, martech.pulling.pull)"
    )


class HttpClient:
    """An async HTTP client for one vendor API root. Keyword-only, transport injectable.

    :param base_url: The vendor API root (or an emulator's URL).
    :param timeout: Seconds per attempt, enforced around the whole exchange (also in-process).
    :param limits: The connector's declared :class:`~martech.connector.Limits`; with it, requests
        share a budget per ``budget_key`` across every client in the process.
    :param transport: An httpx transport, e.g. ``emulator.transport()``.
    :param headers: Sent with every request (credentials go here; they are redacted).
    :param vendor: Names the vendor in errors and selects the reset-header hook.
    :param budget_key: Budget identity; default: host plus a hash of the Authorization header.
    :param retry: Attempts, total time and per-wait caps.
    :param deadline: If a wait would pass it, raise ``DeadlineExceededError`` instead.
    :param sleep: The coroutine used to wait between attempts (tests record instead of sleeping).
    """

    def __init__(
        self,
        *,
        base_url: str,
        timeout: float = 30.0,
        limits: Limits | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        vendor: str = "vendor",
        budget_key: str | None = None,
        retry: RetryPolicy | None = None,
        deadline: datetime | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.headers = dict(headers or {})
        base_url, password = _userinfo_to_header(base_url, self.headers)
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.limits = limits
        self.vendor = vendor
        self.retry = retry or RetryPolicy()
        self.deadline = deadline
        self.requests = 0  # attempts sent, retries included
        self.waits: list[float] = []  # every retry wait, in order (for reports and tests)
        self._sleep = sleep or asyncio.sleep
        self._transport = transport
        self._secrets: set[str] = set()
        self._learn_secrets(self.headers)
        if password:
            self._secrets.add(password)
        self._rng = random.Random()
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._budget_key = budget_key
        self._budgets: dict[str, Budget] = {}
        #: The budget of the client's own credential (None without ``limits``).
        self.budget: Budget | None = self.budget_for(None)

    # ------------------------------------------------------------------------------ plumbing

    def _learn_secrets(self, headers: Mapping[str, str]) -> None:
        for name, value in headers.items():
            if name.lower() in _CREDENTIAL_HEADERS:
                self._secrets.add(value)
                _, _, credential = value.partition(" ")
                if credential:
                    self._secrets.add(credential)

    def budget_for(self, headers: Mapping[str, str] | None) -> Budget | None:
        """The shared budget a request with these extra ``headers`` draws from.

        Keyed by host and a hash of the credential the request carries: the client's own
        headers, overridden by the request's (connectors that send Authorization per request
        still get one budget per token). An explicit ``budget_key`` is one budget for all.
        """
        if self.limits is None:
            return None
        if self._budget_key is not None:
            material = ""
        else:
            merged = {name.lower(): value for name, value in self.headers.items()}
            if headers:
                merged.update((name.lower(), value) for name, value in headers.items())
            # Authorization alone hashes as before; other credential headers are appended.
            material = merged.get("authorization", "") + "".join(
                f"\n{name}:{merged[name]}" for name in _KEY_HEADERS if merged.get(name)
            )
        budget = self._budgets.get(material)
        if budget is None:
            key = self._budget_key
            if key is None:
                digest = hashlib.sha256(material.encode()).hexdigest()[:16]
                key = f"{httpx.URL(self.base_url).host}#{digest}"
            budget = self._budgets[material] = budget_for(key, self.limits)
        return budget

    def redact(self, text: str) -> str:
        """``redact(text)`` plus this client's own credentials."""
        return redact(text, self._secrets)

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            # An httpx pool belongs to one event loop; run_sync() makes a fresh loop each time.
            concurrency = self.limits.concurrency if self.limits else 10
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                transport=self._transport,
                timeout=self.timeout,
                headers=self.headers,
                limits=httpx.Limits(
                    max_connections=max(concurrency, 10),
                    max_keepalive_connections=max(concurrency, 10),
                ),
            )
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.aclose()
        self._client = None

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------------------ requests

    async def get(self, path: str, **kw: Any) -> Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> Response:
        return await self.request("POST", path, **kw)

    async def put(self, path: str, **kw: Any) -> Response:
        return await self.request("PUT", path, **kw)

    async def delete(self, path: str, **kw: Any) -> Response:
        return await self.request("DELETE", path, **kw)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        deadline: datetime | None = None,
        retry: RetryPolicy | None = None,
        idempotent: bool = True,
    ) -> Response:
        """Send one request, retrying transient failures within the policy's bounds.

        ``json`` is serialized with orjson (bare arrays are fine). ``idempotent=False`` (a
        create: a WordPress post, a Mailchimp segment, a Meta audience) retries only what the
        vendor certainly did not apply, a 429 or a connection never made; after a 5xx or a
        timeout it raises at once, since sending again could create a second one. Raises
        :class:`RateLimitedError` / :class:`RetriableVendorError` when retries run out,
        :class:`AuthError` on 401/403, :class:`FatalVendorError` on other 4xx and
        :class:`DeadlineExceededError` when a wait would pass ``deadline``.
        """
        import tenacity

        policy = retry or self.retry
        deadline = deadline or self.deadline
        body = content
        send_headers = dict(headers) if headers else {}
        if json is not None:
            body = orjson.dumps(json)
            send_headers.setdefault("Content-Type", "application/json")
        if headers:
            self._learn_secrets(headers)
        started = time.monotonic()
        first_wait = len(self.waits)

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            hint = exc.retry_after if isinstance(exc, RetriableVendorError) else None
            pause = hint if hint is not None else policy.backoff(state.attempt_number, self._rng)
            pause = min(pause, policy.max_wait)
            now = datetime.now(UTC)
            if deadline is not None and now + timedelta(seconds=pause) > deadline:
                resume = now + timedelta(seconds=hint if hint is not None else pause)
                raise DeadlineExceededError(
                    f"{self.vendor}: {method} {self._show(path)}: waiting {pause:.1f}s as asked "
                    f"would pass the deadline; resume after {resume.isoformat(timespec='seconds')}",
                    resume_after=resume,
                    vendor=self.vendor,
                    status=exc.status if isinstance(exc, VendorError) else None,
                ) from exc
            if (
                hint is not None
                and hint > policy.max_wait
                and isinstance(exc, RetriableVendorError)
            ):
                # Retrying sooner than the vendor asked is not honouring it (and may prolong a
                # throttle, Meta's): stop, and let the caller resume after the vendor's time.
                raise type(exc)(
                    f"{exc} (not retried: the vendor asks for {hint:g}s, longer than the "
                    f"{policy.max_wait:g}s this client waits)",
                    retry_after=hint,
                    vendor=exc.vendor,
                    status=exc.status,
                    response=exc.response,
                ) from None
            # Waited time counts even when ``sleep`` is injected and returns at once.
            elapsed = max(time.monotonic() - started, sum(self.waits[first_wait:]))
            if elapsed + pause > policy.max_elapsed:
                assert exc is not None
                raise exc
            if logger.isEnabledFor(logging.INFO):
                where = self.redact(f"{self.vendor}: {method} {self._show(path)}")
                text = self.redact(str(exc))
                said = text if text.startswith(where) else f"{where}: {text}"  # ours name it
                logger.info(f"{said}; retry {state.attempt_number} in {pause:.2f}s")
            self.waits.append(pause)
            return pause

        # The first attempt outside tenacity: most requests succeed at once, and building the
        # retry machinery costs more than the request's own Python work. A failure enters the
        # loop below as its first attempt, so waits and counts are as if tenacity ran it.
        attempts = 1
        try:
            return await self._once(method, path, params, body, send_headers)
        except RetriableVendorError as exc:
            if not (idempotent or _unapplied(exc)):
                raise type(exc)(
                    f"{exc} (not retried: the {method} may have been applied, and sending it "
                    "again could apply it twice)",
                    retry_after=exc.retry_after,
                    vendor=exc.vendor,
                    status=exc.status,
                    response=exc.response,
                ) from None
            first: RetriableVendorError | None = exc

        def retriable(exc: BaseException) -> bool:
            return isinstance(exc, RetriableVendorError) and (idempotent or _unapplied(exc))

        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(policy.max_attempts),
            retry=tenacity.retry_if_exception(retriable),
            wait=wait,
            reraise=True,
            sleep=self._sleep,
        )
        result: Response | None = None
        try:
            async for attempt in retrying:
                with attempt:
                    if first is not None:
                        failed, first = first, None
                        raise failed
                    attempts += 1
                    result = await self._once(method, path, params, body, send_headers)
        except RetriableVendorError as exc:
            if attempts > 1:
                raise type(exc)(
                    f"{exc} (gave up after {attempts} attempts)",
                    retry_after=exc.retry_after,
                    vendor=exc.vendor,
                    status=exc.status,
                    response=exc.response,
                ) from None
            raise
        assert result is not None
        return result

    def _show(self, path: str) -> str:
        """The path without its query string, for messages (queries may carry tokens)."""
        return path.split("?", 1)[0]

    async def _once(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: bytes | None,
        headers: dict[str, str],
    ) -> Response:
        budget = self.budget
        if headers and any(name.lower() in _CREDENTIAL_HEADERS for name in headers):
            budget = self.budget_for(headers)
        slot: AbstractAsyncContextManager[None] = (
            budget.slot() if budget is not None else nullcontext()
        )
        where = f"{self.vendor}: {method} {self._show(path)}"
        async with slot:
            self.requests += 1
            try:
                async with asyncio.timeout(self.timeout):
                    r = await _send(
                        self._http(), method, path, params=params, content=body, headers=headers
                    )
            except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
                raise ConfigError(
                    self.redact(f"{where}: {exc} (check the {self.vendor} base URL)")
                ) from None
            except httpx.LocalProtocolError as exc:
                # h11 refused to write the request (a header with a newline): ours, not the
                # vendor's, and the same on every retry.
                raise ConfigError(
                    self.redact(
                        f"{where}: the request could not be written ({exc}); check the "
                        f"{self.vendor} credentials and headers for stray characters"
                    )
                ) from None
            except UnicodeEncodeError:
                raise ConfigError(
                    f"{where}: a request header is not ASCII; check the {self.vendor} "
                    "credentials for a stray character (a pasted quote or no-break space)"
                ) from None
            except (TimeoutError, httpx.TimeoutException) as exc:
                unsent = isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
                raise (_NotSentError if unsent else RetriableVendorError)(
                    f"{where}: no answer within {self.timeout:g}s", vendor=self.vendor
                ) from None
            except httpx.TransportError as exc:
                # No connection, so nothing was sent: safe to retry even a create.
                kind = (
                    _NotSentError if isinstance(exc, httpx.ConnectError) else RetriableVendorError
                )
                raise kind(
                    self.redact(f"{where}: {type(exc).__name__}: {exc}"), vendor=self.vendor
                ) from None
        status = r.status_code
        data = parse_body(r.content, r.headers.get("content-type"))
        hook = CLASSIFY_HOOKS.get(self.vendor)
        outcome = (hook(status, data) if hook is not None else None) or classify_status(status)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(self.redact(f"{where} -> {status} ({len(r.content)} bytes)"))
        if outcome == "ok":
            return Response(status, r.headers, r.content, data, str(r.url))
        text = r.text[:200] if data is None else ""
        message = self.redact(f"{where}: {status} {vendor_message(data, text)}".rstrip())
        if outcome == "rate_limited":
            raise RateLimitedError(
                message,
                retry_after=wait_hint(self.vendor, r.headers, data),
                vendor=self.vendor,
                status=status,
                response=r,
            )
        if outcome == "retriable":
            raise RetriableVendorError(
                message,
                retry_after=bounded_hint(parse_retry_after(r.headers.get("Retry-After"))),
                vendor=self.vendor,
                status=status,
                response=r,
            )
        if outcome == "auth":
            raise AuthError(
                f"{message} (check the {self.vendor} credentials and scopes)",
                vendor=self.vendor,
                status=status,
                response=r,
            )
        raise FatalVendorError(message, vendor=self.vendor, status=status, response=r)


def _userinfo_to_header(base_url: str, headers: dict[str, str]) -> tuple[str, str | None]:
    """``https://user:pass@host`` -> (``https://host``, ``pass``), adding a Basic Authorization
    header to ``headers`` unless one is there.

    A URL carrying the password shows it wherever the URL is printed (httpx logs each request's
    URL at INFO); the header is redacted like any credential.
    """
    if "@" not in base_url:
        return base_url, None
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL:
        return base_url, None  # the first request says what is wrong with it
    if not url.userinfo:
        return base_url, None
    if not any(name.lower() == "authorization" for name in headers):
        pair = f"{url.username}:{url.password}".encode()
        headers["Authorization"] = f"Basic {base64.b64encode(pair).decode()}"
    return str(url.copy_with(username=None, password=None)), url.password or None


class _NotSentError(RetriableVendorError):
    """No connection was made (refused, connect timeout): the request never left."""


def _unapplied(exc: RetriableVendorError) -> bool:
    """The vendor certainly did not apply the request: it said 429, or it was never sent."""
    return isinstance(exc, RateLimitedError | _NotSentError)


async def _send(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    params: Mapping[str, Any] | None,
    content: bytes | None,
    headers: dict[str, str],
) -> httpx.Response:
    """One exchange, read to the end: the request httpx builds (base URL, default headers,
    cookies, timeouts), sent through the transport httpx would pick for its URL (proxies and
    mounts honoured), without AsyncClient.send's auth-flow and redirect layers.

    martech sends credentials as explicit headers and never follows a vendor API's redirects,
    so those layers did nothing here but cost ~0.5 ms of CPU per request, about a third of a
    plain page loop's. Cookies a vendor sets (load-balancer stickiness, bot management) are
    still kept and sent back, as AsyncClient does. A base URL's credentials became a Basic
    header in HttpClient; a request URL with its own (``https://user:pass@host``) takes
    AsyncClient.send.
    """
    request = client.build_request(
        method, path, params=params, content=content, headers=headers or None
    )
    pick = getattr(client, "_transport_for_url", None)  # httpx >= 0.18; else the public path
    if pick is None or request.url.userinfo:
        return await client.send(request)
    start = time.perf_counter()
    response: httpx.Response = await pick(request.url).handle_async_request(request)
    response.request = request
    if "set-cookie" in response.headers:
        client.cookies.extract_cookies(response)
    try:
        await response.aread()  # decodes gzip/deflate as httpx does
    finally:
        await response.aclose()
        # As AsyncClient.send's stream wrapper does: errors keep the response for inspection.
        response.elapsed = timedelta(seconds=time.perf_counter() - start)
    return response


__all__ = ["HttpClient", "Response", "parse_body", "run_sync", "vendor_message"]
