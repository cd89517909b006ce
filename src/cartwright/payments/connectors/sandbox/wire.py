"""The HTTP client to a sandbox server: aiohttp, kept alive.

A checkout makes one call to the provider, so its client's cost is on every checkout's
path: httpx spent about 1.1 ms of CPU per call on this machine where aiohttp spends about
0.25 ms (bench/README.md). Failures are told apart as the connector needs them: never
sent (`NotSent`: the sandbox cannot have acted), sent and no answer in time
(`TimeoutError`: it may have), the connection lost on the way (`Lost`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

from cartwright.kit import telemetry


class NotSent(Exception):
    """The request never reached the sandbox (refused, or no connection in time)."""


class Lost(Exception):
    """The connection failed after the request left: the sandbox may or may not have it."""


@dataclass(frozen=True, slots=True)
class Reply:
    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")


class AiohttpWire:
    """`Wire` over one aiohttp session (made on first use, inside the running loop)."""

    def __init__(
        self, base_url: str, *, headers: Mapping[str, str], timeout_s: float, connect_s: float
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._headers = dict(headers)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=connect_s)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=200, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                headers=self._headers, timeout=self._timeout, connector=connector
            )
        return self._session

    async def request(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Reply:
        # The caller's trace continues at the provider (no instrumentation covers aiohttp).
        sent = telemetry.inject(dict(headers or {}))
        try:
            async with self._open().request(
                method, self._base_url + url, data=content, headers=sent, params=params
            ) as answer:
                return Reply(answer.status, await answer.read())
        except (aiohttp.ConnectionTimeoutError, aiohttp.ClientConnectorError) as exc:
            raise NotSent(repr(exc)) from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise TimeoutError(f"the sandbox did not answer in time: {exc!r}") from exc
        except aiohttp.ClientError as exc:
            raise Lost(repr(exc)) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
