"""What can be audited: a Python callable, an installed connector's capability, an HTTP endpoint.

Each target turns a :class:`~martech.Profile` into one output string; everything else (probes,
statistics, the label) is the same for all three. Targets are async; sync callables are called
directly. Connector targets run against the connector's emulator in-process unless ``live``.
HTTP targets go through :class:`martech.http.HttpClient`, bounded in rate and count, and refuse
any host their spec does not name.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, Field, ValidationError

from ..errors import ConfigError
from ..models import (
    ContentVariant,
    Decision,
    Level,
    Profile,
    RecommendationVariant,
    StaticVariant,
    TemplateVariant,
)

#: Connector capabilities a probe can exercise per person.
PROBED_CAPABILITIES = ("decide",)
#: Capabilities that take no per-person input: labelled by construction, not probed.
STRUCTURAL_CAPABILITIES: dict[str, tuple[Level, str]] = {
    "push_audience": (
        Level.segmentation,
        "an audience push sends the same list membership to the vendor for every member: "
        "at most segmentation (plus merge tokens), whatever the vendor claims",
    ),
    "push_content": (
        Level.token_only,
        "a pushed variant is one piece of content for everyone it is sent to: at most merge "
        "tokens filled per person",
    ),
}

_TOKEN = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")


def normalize(value: Any, profile: Profile) -> str:
    """One comparable string for whatever the tool returned."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Decision):
        return value.content or value.variant_id
    if isinstance(value, StaticVariant):
        return value.content
    if isinstance(value, TemplateVariant):
        return render_tokens(value.template, profile, value.defaults)
    if isinstance(value, RecommendationVariant):
        return f"{value.id}:{value.strategy}"
    if isinstance(value, ContentVariant):
        return value.id
    if isinstance(value, bool | int | float):
        return str(value)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str).decode()


def render_tokens(template: str, profile: Profile, defaults: dict[str, str] | None = None) -> str:
    """Fill ``{{first_name}}``-style tokens from traits (then identities, then defaults)."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1).split(".")[-1]
        value = profile.traits.get(name)
        if value is None:
            value = (defaults or {}).get(name, "")
        return str(value)

    return _TOKEN.sub(one, template)


class CallCapReached(ConfigError):
    """The requests allowed (``--budget``, a spec's ``max_calls``) are spent, retries included:
    the audit stops, it cannot go on."""


class Target:
    """Base: ``await target.call(profile)`` -> output string."""

    name: str = "target"
    kind: str = "callable"
    claimed: Level | None = None
    #: Hard cap on calls the target itself allows (the HTTP spec's ``max_calls``).
    max_calls: int | None = None

    async def call(self, profile: Profile) -> str:
        raise NotImplementedError

    def limit_requests(self, cap: int) -> None:
        """Bound the requests the tool receives to ``cap``, retries included (a callable has no
        requests of its own: nothing to bound)."""

    async def aclose(self) -> None:
        return None


def _requests_left(http: Any, cap: int, calls: int, what: str) -> Any:
    """The retry policy for the next call so ``http`` sends at most ``cap`` requests in all."""
    left = cap - http.requests
    if left <= 0:
        raise CallCapReached(
            f"{what} reached after {calls} calls ({http.requests - calls} of the requests were "
            "retries after a 429 or 5xx); raise it or audit when the vendor is less busy"
        )
    return replace(http.retry, max_attempts=min(http.retry.max_attempts, left))


class CallableTarget(Target):
    """A Python function taking a Profile and returning an id, content, variant or Decision."""

    kind = "callable"

    def __init__(self, fn: Callable[[Profile], Any], *, name: str | None = None) -> None:
        if not callable(fn):
            raise ConfigError(f"audit target {name or fn!r} is not callable")
        self.fn = fn
        self.name = name or f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', fn)}"
        self._async = inspect.iscoroutinefunction(fn)

    async def call(self, profile: Profile) -> str:
        out = self.fn(profile)
        if self._async or inspect.isawaitable(out):
            out = await out
        return normalize(out, profile)


def load_callable(spec: str) -> CallableTarget:
    """``package.module:function`` -> a target (the module is imported, cwd on sys.path)."""
    import sys

    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"audit target {spec!r}: expected module:function")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"audit target {spec!r}: cannot import {module_name!r} ({exc})") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"audit target {spec!r}: {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return CallableTarget(obj, name=spec)


# ------------------------------------------------------------------------------- connectors


class ConnectorTarget(Target):
    """An installed connector's ``decide`` capability, against its emulator or a live account."""

    kind = "connector"

    def __init__(
        self, connector: Any, *, name: str, placement: str = "home", emulator: Any = None
    ) -> None:
        self.connector = connector
        self.name = name
        self.placement = placement
        self.emulator = emulator
        caps = {c.name: c for c in connector.capabilities()}
        self.claimed = caps["decide"].claimed_level if "decide" in caps else None
        self.calls = 0
        self._request_cap: int | None = None
        self._retry: Any = None

    def limit_requests(self, cap: int) -> None:
        self._request_cap = cap
        http = getattr(self.connector, "http", None)
        self._retry = getattr(http, "retry", None)

    async def call(self, profile: Profile) -> str:
        from ..http import HttpClient

        http = getattr(self.connector, "http", None)
        if self._request_cap is not None and isinstance(http, HttpClient) and self._retry:
            # The connector sends through its own client: its retries after a 429 are requests
            # the vendor receives, bounded by the audit's budget like the calls themselves.
            http.retry = self._retry
            http.retry = _requests_left(
                http, self._request_cap, self.calls, f"audit budget of {self._request_cap}"
            )
        self.calls += 1
        return normalize(await self.connector.decide(profile, self.placement), profile)

    async def aclose(self) -> None:
        await self.connector.aclose()


def connector_class(name: str) -> Any:
    from ..plugins import registry

    reg = registry()
    if name not in reg.connectors:
        known = ", ".join(sorted(reg.connectors)) or "none installed"
        raise ConfigError(f"connector {name!r} is not installed (installed: {known})")
    return reg.connectors[name]


def emulator_for(cls: Any) -> Any:
    """Instantiate the connector's declared emulator (``module:Class``)."""
    path = getattr(cls, "emulator", None)
    if not path:
        raise ConfigError(
            f"connector {cls.name!r} has no emulator; audit it live (--live, credentials)"
        )
    module_name, _, attr = path.partition(":")
    emulator_cls = getattr(importlib.import_module(module_name), attr)
    return emulator_cls()


def _placeholder_config(cls: Any, base_url: str) -> Any:
    """Config for an emulator: base_url plus a placeholder for every other required field.

    Emulators accept any credential. A field with a format (an account id pattern) that the
    placeholder does not fit is filled without validation: the emulator never checks it.
    """
    from pydantic import SecretStr

    values: dict[str, Any] = {"base_url": base_url}
    for field_name, info in cls.Config.model_fields.items():
        if field_name not in values and info.is_required():
            secret = info.annotation is SecretStr
            values[field_name] = SecretStr("emulator") if secret else "emulator"
    try:
        return cls.Config.model_validate(values)
    except ValidationError:
        return cls.Config.model_construct(**values)


def capabilities_of(cls: Any) -> list[Any]:
    """A connector class's declared capabilities (needs no credentials)."""
    return list(cls(config=_placeholder_config(cls, "http://x.invalid")).capabilities())


def connector_target(
    name: str, capability: str = "decide", *, live: bool = False, placement: str = "home"
) -> ConnectorTarget:
    """Build the target for ``connector:NAME[:capability]``."""
    cls = connector_class(name)
    caps = {c.name for c in capabilities_of(cls)}
    if capability not in caps:
        raise ConfigError(
            f"connector {name!r} does not offer {capability!r} (offers: {', '.join(sorted(caps))})"
        )
    if capability not in PROBED_CAPABILITIES:
        raise ConfigError(
            f"capability {capability!r} takes no per-person input; it is labelled structurally "
            "(see martech audit --all-connectors)"
        )
    from ..http import HttpClient

    if live:
        from ..config import connector_settings

        # martech.toml [connectors.NAME] overlaid by MARTECH_NAME_* (secrets live in the env).
        config = cls.Config.load(name, connector_settings(name), None)
        return ConnectorTarget(
            cls(config=config), name=f"connector:{name}:{capability}", placement=placement
        )
    emulator = emulator_for(cls)
    base_url = f"http://{name}.emulator.local"
    config = _placeholder_config(cls, base_url)
    http = HttpClient(base_url=base_url, transport=emulator.transport(), vendor=name)
    return ConnectorTarget(
        cls(config=config, http=http),
        name=f"connector:{name}:{capability}",
        placement=placement,
        emulator=emulator,
    )


# ------------------------------------------------------------------------------------ HTTP


class HttpSpec(BaseModel, frozen=True, extra="forbid"):
    """An HTTP endpoint to audit, as a small YAML file."""

    name: str = Field(default="http endpoint", description="Shown in the report.")
    url: str = Field(description="Full URL of the decision endpoint.")
    method: str = Field(default="POST", pattern="^(GET|POST|PUT)$")
    allowed_hosts: list[str] = Field(min_length=1, description="The only hosts the audit may call.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Sent with every call; ${ENV_VAR} is expanded."
    )
    request: Any = Field(
        default=None,
        description="JSON body (query params for GET); '{{ traits.country }}', '{{ id }}', "
        "'{{ events }}' are filled from the profile.",
    )
    response: str = Field(default="$", description="JSONPath to the content in the response.")
    rate_per_second: float = Field(default=10.0, gt=0, le=1000)
    max_calls: int = Field(default=2000, ge=1, le=100_000)
    claim: Level | None = None


def load_http_spec(path: str | Path) -> HttpSpec:
    from .. import errors
    from ..segments.rules import parse_config_text

    p = Path(path)
    if not p.exists():
        raise ConfigError(f"--spec {p}: file not found")
    try:  # one line for a syntax error or a key given twice, as for segments and placements
        data = parse_config_text(p.read_text(), f"--spec {p}", errors.ValidationError)
    except errors.ValidationError as exc:
        raise ConfigError(str(exc)) from None
    try:
        spec = HttpSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "(top level)"
        raise ConfigError(f"--spec {p}: {where}: {err['msg']}") from None
    import httpx

    host = httpx.URL(spec.url).host
    if host not in spec.allowed_hosts:
        raise ConfigError(
            f"--spec {p}: url host {host!r} is not in allowed_hosts "
            f"({', '.join(spec.allowed_hosts)}); the audit only calls hosts the spec names"
        )
    return spec


def fill(template: Any, profile: Profile) -> Any:
    """Fill a request template from the profile: whole-string tokens keep their JSON type."""
    data = profile.model_dump(mode="json")
    if isinstance(template, dict):
        return {k: fill(v, profile) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, profile) for v in template]
    if isinstance(template, str):
        whole = _TOKEN.fullmatch(template.strip())
        if whole:
            return _lookup(data, whole.group(1))
        return _TOKEN.sub(lambda m: _as_text(_lookup(data, m.group(1))), template)
    return template


def _lookup(data: Any, path: str) -> Any:
    cur = data
    for part in path.split("."):
        if isinstance(cur, dict):
            cur = cur.get(part)
        else:
            return None
    return cur


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


class ResponsePathError(ConfigError):
    """The spec's ``response`` path matched nothing in a response the endpoint did send.

    An error, not an empty output: a typo in the path (or a 200 carrying an error body) must
    not read as "the same output for everyone". ``status`` is the response's HTTP status, so
    the engine counts the call as answered; its error share rule stops the audit when the path
    misses in (nearly) every response, and counts the misses as errors when it misses in some.
    """

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


#: At most this many top-level keys are named when a response path matches nothing.
SHAPE_MAX_KEYS = 12


def describe_shape(data: Any) -> str:
    """What a response body looks like, by structure only: keys, never values."""
    if isinstance(data, dict):
        if not data:
            return "body is an empty JSON object"
        keys = [_short_key(k) for k in list(data)[:SHAPE_MAX_KEYS]]
        more = f" (+{len(data) - SHAPE_MAX_KEYS} more)" if len(data) > SHAPE_MAX_KEYS else ""
        return "top-level keys: " + ", ".join(keys) + more
    if isinstance(data, list):
        return f"body is a JSON list of {len(data)} item{'s' if len(data) != 1 else ''}"
    if data is None:
        return "body is empty or not JSON"
    return f"body is a JSON {type(data).__name__}, not an object"


_DOTTED = re.compile(r"^\$((?:\.[\w-]+)+)$")


def _deepest_match(data: Any, path: str) -> str:
    """For a plain dotted path, where it stops matching and the keys there ("" otherwise)."""
    dotted = _DOTTED.match(path.strip())
    if not dotted:
        return ""
    parts = dotted.group(1)[1:].split(".")
    cur, depth = data, 0
    for part in parts:
        if not isinstance(cur, dict) or part not in cur:
            break
        cur, depth = cur[part], depth + 1
    if depth == 0 or depth == len(parts):
        return ""
    where = "$." + ".".join(parts[:depth])
    if isinstance(cur, dict):
        return f"; {where} has keys: " + describe_shape(cur).removeprefix("top-level keys: ")
    kinds = {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return f"; {where} is {kinds.get(type(cur), 'null')}, not an object"


def _short_key(key: Any) -> str:
    text = str(key)
    return text if len(text) <= 40 else text[:37] + "..."


class HttpTarget(Target):
    """An HTTP endpoint described by an :class:`HttpSpec`."""

    kind = "http"

    def __init__(self, spec: HttpSpec, *, transport: Any = None) -> None:
        import httpx
        from jsonpath_ng.ext import parse as jsonpath  # type: ignore[attr-defined]

        from ..connector import Limits
        from ..http import HttpClient

        self.spec = spec
        self.name = spec.name
        self.claimed = spec.claim
        self.max_calls = spec.max_calls
        url = httpx.URL(spec.url)
        if url.host not in spec.allowed_hosts:
            raise ConfigError(f"http target: host {url.host!r} is not in allowed_hosts")
        self._path = url.raw_path.decode() or "/"
        base = str(url.copy_with(path="/", query=None, fragment=None)).rstrip("/")
        headers = {k: os.path.expandvars(v) for k, v in spec.headers.items()}
        # The rate bound is the client's own budget: at most rate_per_second, never a burst more.
        per_second = max(1, round(spec.rate_per_second))
        self.client = HttpClient(
            base_url=base,
            transport=transport,
            headers=headers,
            vendor=spec.name,
            limits=Limits(requests_per_interval=per_second, interval_seconds=1.0, concurrency=1),
            budget_key=f"audit:{url.host}:{id(self)}",
        )
        try:
            self._path_expr = jsonpath(spec.response)
        except Exception as exc:
            raise ConfigError(
                f"http spec response: bad JSONPath {spec.response!r} ({exc})"
            ) from None
        self.calls = 0
        self._request_cap: int | None = None
        self.responses = 0
        self.misses = 0
        self._first_miss_shape = ""

    async def call(self, profile: Profile) -> str:
        # max_calls bounds what the vendor receives: a retry after a 429 or 5xx is a request too,
        # so a call may only retry as often as the requests left allow.
        cap = self.spec.max_calls
        what = f"http target: max_calls {cap}"
        if self._request_cap is not None and self._request_cap < cap:
            cap, what = self._request_cap, f"audit budget of {self._request_cap}"
        retry = _requests_left(self.client, cap, self.calls, what)
        self.calls += 1
        body = fill(self.spec.request, profile) if self.spec.request is not None else None
        if self.spec.method == "GET":
            params = {k: _as_text(v) for k, v in (body or {}).items()}
            response = await self.client.request("GET", self._path, params=params, retry=retry)
        else:
            response = await self.client.request(
                self.spec.method, self._path, json=body, retry=retry
            )
        self.responses += 1
        found = [m.value for m in self._path_expr.find(response.data)]
        if not found:
            self.misses += 1
            if self.misses == 1:
                self._first_miss_shape = describe_shape(response.data) + _deepest_match(
                    response.data, self.spec.response
                )
            which = "first" if self.misses == self.responses else "first unmatched"
            raise ResponsePathError(
                f"response path {self.spec.response} matched nothing in {self.misses} of "
                f"{self.responses} responses; {which} response's {self._first_miss_shape}",
                status=response.status,
            )
        return normalize(found[0] if len(found) == 1 else found, profile)

    def limit_requests(self, cap: int) -> None:
        self._request_cap = cap

    async def aclose(self) -> None:
        await self.client.aclose()


def parse_target(spec: str, *, live: bool = False, placement: str = "home") -> Target:
    """``module:function`` or ``connector:NAME[:capability]``."""
    if spec.startswith("connector:"):
        parts = spec.split(":")
        if len(parts) not in (2, 3) or not parts[1]:
            raise ConfigError(f"audit target {spec!r}: expected connector:NAME[:capability]")
        capability = parts[2] if len(parts) == 3 else "decide"
        return connector_target(parts[1], capability, live=live, placement=placement)
    return load_callable(spec)


Caller = Callable[[Profile], Awaitable[str]]
