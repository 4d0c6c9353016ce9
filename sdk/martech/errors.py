"""Every error martech raises on purpose, in one place.

Named for what the caller should do about it::

    MartechError
    ├── ConfigError                 fix martech.toml, an env var or a CLI argument
    ├── ValidationError             fix the input record or definition (names the field)
    │   ├── SegmentDefinitionError  fix segments.yml (names the path inside the file)
    │   └── MappingError            fix the column mapping of an import
    ├── PluginError                 a plugin failed to load or registered something invalid
    │   ├── PluginLoadError         one entry point failed to import or register
    │   └── DuplicateRegistrationError  two plugins registered the same name
    ├── StoreError                  the embedded store cannot be used as asked
    │   ├── StoreLockedError        another process is writing; retry later
    │   └── SchemaVersionError      the store file was written by a newer martech
    └── VendorError                 a vendor API said no
        ├── RetriableVendorError    429 / 5xx / timeout: try again later (.retry_after)
        │   └── RateLimitedError    429 specifically
        ├── FatalVendorError        other 4xx: retrying will not help
        │   ├── AuthError           401 / 403: fix the credentials
        │   └── RejectedError       the vendor refused the records (.items)
        └── DeadlineExceededError   a wait would pass --deadline; resume after .resume_after

Messages never contain secrets or raw PII: callers pass redacted values.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx


class MartechError(Exception):
    """Base for every error martech raises on purpose; the CLI prints it as one line."""

    exit_code: int = 1


class ConfigError(MartechError):
    """A setting is missing or malformed: martech.toml, an environment variable, a CLI argument."""

    exit_code = 2


class ValidationError(MartechError):
    """An input record or definition does not fit the model; ``field`` names where."""

    exit_code = 2

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class SegmentDefinitionError(ValidationError):
    """A segment definition is invalid; the message carries the path inside the file."""


class MappingError(ValidationError):
    """An import's column mapping names a column the file does not have, or a bad target."""


class PluginError(MartechError):
    """A plugin failed to load or registered something the host refuses."""


class PluginLoadError(PluginError):
    """One entry point failed to import or register; it was skipped (fatal in strict mode)."""

    def __init__(self, plugin: str, cause: BaseException) -> None:
        super().__init__(f"plugin {plugin!r} failed to load: {type(cause).__name__}: {cause}")
        self.plugin = plugin
        self.cause = cause


class DuplicateRegistrationError(PluginError):
    """Two plugins registered the same name for the same kind of thing."""

    def __init__(self, kind: str, name: str, first: str, second: str) -> None:
        super().__init__(
            f"{kind} {name!r} is registered by both {first!r} and {second!r}; "
            f"disable one with MARTECH_DISABLE_PLUGINS"
        )
        self.kind, self.name, self.first, self.second = kind, name, first, second


class StoreError(MartechError):
    """The embedded store cannot be used as asked."""


class StoreLockedError(StoreError):
    """Another process holds the store for writing. Readers are fine; a second writer is not."""


class SchemaVersionError(StoreError):
    """The store file was written by a newer martech than this one."""


class VendorError(MartechError):
    """A vendor API answered with an error. ``response`` is kept for inspection, never printed."""

    def __init__(
        self,
        message: str,
        *,
        vendor: str | None = None,
        status: int | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message)
        self.vendor = vendor
        self.status = status
        self.response = response


class RetriableVendorError(VendorError):
    """A transient failure (5xx, timeout, connection reset, 429); ``retry_after`` in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class RateLimitedError(RetriableVendorError):
    """The vendor said 429 Too Many Requests."""


class FatalVendorError(VendorError):
    """A 4xx other than 429: the request itself is wrong, retrying will not help."""


class AuthError(FatalVendorError):
    """401/403: the credentials are missing, wrong or lack a scope."""


class RejectedError(FatalVendorError):
    """The vendor refused some records; ``items`` maps record key -> vendor's reason."""

    def __init__(self, message: str, *, items: dict[str, str] | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.items = items or {}


class DeadlineExceededError(VendorError):
    """Waiting as the vendor asks would pass the deadline; the work stopped cleanly."""

    def __init__(self, message: str, *, resume_after: datetime, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.resume_after = resume_after
