"""The one HTTP helper every forecast provider uses.

`HttpClient` wraps a `requests.Session` (injectable) with explicit connect/read timeouts,
retries with exponential backoff and jitter on connection errors, timeouts, 429 and 5xx,
honours `Retry-After` (seconds or an HTTP date, capped), and turns every failure into a
typed `ProviderError`. `sleep`, `clock` and the jitter source are injectable so tests
never wait for real.

Retry policy (attempt i = 0, 1, …, `max_attempts - 1`):
- retried: connection errors, timeouts, HTTP 429 and 5xx;
- not retried: 401/403 (`ProviderAuthError`), any other 4xx (`ProviderHTTPError`);
- delay before attempt i+1: `Retry-After` when the server sent one (capped at
  `retry_after_max_s`), else `min(backoff_max_s, backoff_base_s · 2**i)` scaled by a
  random factor in `[1 - jitter, 1]`.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from inputs.clock import utc_now

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
AUTH_STATUSES = frozenset({401, 403})


class ProviderError(Exception):
    """A forecast provider could not deliver; `reason` is a short, bounded label."""

    reason = "error"

    def __init__(self, provider: str, message: str, url: str = "") -> None:
        self.provider = provider
        self.url = url
        where = f" ({url})" if url else ""
        super().__init__(f"{provider}: {message}{where}")


class ProviderHTTPError(ProviderError):
    """The service answered with an HTTP error status (after retries where retryable)."""

    def __init__(self, provider: str, status: int, url: str = "", body: str = "") -> None:
        self.status = status
        snippet = f": {body[:200]}" if body else ""
        super().__init__(provider, f"HTTP {status}{snippet}", url)

    @property
    def reason(self) -> str:  # type: ignore[override]
        """`http_429`, `http_5xx` or `http_4xx` — bounded for metric labels."""
        if self.status == 429:
            return "http_429"
        return "http_5xx" if self.status >= 500 else "http_4xx"


class ProviderAuthError(ProviderHTTPError):
    """401/403: the token or credentials were rejected."""

    @property
    def reason(self) -> str:  # type: ignore[override]
        return "auth"


class ProviderTimeout(ProviderError):
    """The connect or read timeout expired on every attempt."""

    reason = "timeout"


class ProviderConnectionError(ProviderError):
    """The service could not be reached (DNS, refused, reset) on every attempt."""

    reason = "connection"


class ProviderDataError(ProviderError):
    """The body was unparseable or did not match the schema; `field` names where."""

    reason = "data"

    def __init__(self, provider: str, field: str, problem: str, url: str = "") -> None:
        self.field = field
        self.problem = problem
        super().__init__(provider, f"field {field!r}: {problem}", url)


@dataclass(frozen=True)
class HttpConfig:
    """Timeouts and retry policy of one provider's HTTP client."""

    connect_timeout_s: float = 3.05
    """Seconds to establish the TCP/TLS connection."""
    read_timeout_s: float = 20.0
    """Seconds to wait between bytes of the response."""
    max_attempts: int = 4
    """Total tries including the first (1 = no retry)."""
    backoff_base_s: float = 0.5
    """Delay before the second attempt; doubles each attempt."""
    backoff_max_s: float = 30.0
    """Upper bound of a computed backoff delay, seconds."""
    jitter: float = 0.5
    """Backoff is scaled by a uniform factor in [1 - jitter, 1]; 0 disables jitter."""
    retry_after_max_s: float = 120.0
    """Cap on a server's `Retry-After`, seconds."""
    user_agent: str = "wattbit/0.1 (+https://github.com/wattbit)"

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"HttpConfig.max_attempts={self.max_attempts}: must be ≥ 1")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"HttpConfig.jitter={self.jitter}: must be in [0, 1]")


def parse_retry_after(value: str | None, now: datetime, cap_s: float) -> float | None:
    """`Retry-After` header → seconds to wait (≥ 0, ≤ `cap_s`), or None if absent/garbled.

    Accepts delta-seconds (`"2"`) and an HTTP date (`"Wed, 21 Oct 2015 07:28:00 GMT"`).
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), cap_s)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - now).total_seconds(), 0.0), cap_s)


class HttpClient:
    """Requests with timeouts, backoff and typed errors, on behalf of one provider."""

    def __init__(
        self,
        provider: str,
        config: HttpConfig | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self.provider = provider
        self.config = config or HttpConfig()
        self.session = session or requests.Session()
        self.sleep = sleep
        self.clock = clock
        self.rng = rng or random.Random()

    def backoff_s(self, attempt: int) -> float:
        """Computed delay (seconds) after failed attempt number `attempt` (0-based)."""
        cfg = self.config
        base = min(cfg.backoff_max_s, cfg.backoff_base_s * 2.0**attempt)
        return base * (1.0 - cfg.jitter * self.rng.random())

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        auth: tuple[str, str] | None = None,
    ) -> requests.Response:
        """One HTTP call with the retry policy; returns a 2xx/3xx response or raises."""
        cfg = self.config
        hdrs = {"User-Agent": cfg.user_agent, **(headers or {})}
        last: ProviderError | None = None
        for attempt in range(cfg.max_attempts):
            retry_after: float | None = None
            try:
                resp = self.session.request(
                    method, url, params=params, headers=hdrs, json=json_body, auth=auth,
                    timeout=(cfg.connect_timeout_s, cfg.read_timeout_s),
                )
            except requests.Timeout as exc:
                last = ProviderTimeout(self.provider, f"timed out ({exc.__class__.__name__})",
                                       url)
            except requests.ConnectionError as exc:
                last = ProviderConnectionError(self.provider, f"cannot connect ({exc})", url)
            else:
                status = resp.status_code
                if status < 400:
                    return resp
                if status in AUTH_STATUSES:
                    raise ProviderAuthError(self.provider, status, url, resp.text)
                if status not in RETRY_STATUSES:
                    raise ProviderHTTPError(self.provider, status, url, resp.text)
                last = ProviderHTTPError(self.provider, status, url, resp.text)
                retry_after = parse_retry_after(resp.headers.get("Retry-After"), self.clock(),
                                                cfg.retry_after_max_s)
            if attempt + 1 < cfg.max_attempts:
                delay = retry_after if retry_after is not None else self.backoff_s(attempt)
                log.debug("%s: attempt %d failed (%s); retrying in %.2f s",
                          self.provider, attempt + 1, last.reason, delay)
                self.sleep(delay)
        assert last is not None  # the loop ran at least once and did not return
        raise last

    def get_json(self, url: str, **kwargs: Any) -> Any:
        """GET and decode JSON; an unparseable body raises `ProviderDataError`."""
        return self._json(self.request("GET", url, **kwargs), url)

    def post_json(self, url: str, body: Any, **kwargs: Any) -> Any:
        """POST a JSON body and decode the JSON answer."""
        return self._json(self.request("POST", url, json_body=body, **kwargs), url)

    def get_bytes(self, url: str, **kwargs: Any) -> bytes:
        """GET the raw body (e.g. a CSV file)."""
        return self.request("GET", url, **kwargs).content

    def _json(self, resp: requests.Response, url: str) -> Any:
        try:
            return resp.json()
        except requests.JSONDecodeError as exc:
            raise ProviderDataError(self.provider, "<body>",
                                    f"not valid JSON ({exc.msg} at char {exc.pos})",
                                    url) from None
