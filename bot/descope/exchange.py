"""``Exchange``: one HTTP exchange with Descope, the request ``httpx.Client`` would build, handed to its transport.

The client's own layers around a request (redirects, auth, cookies, event hooks: none used here) cost as much CPU as
the exchange itself on a kept connection (issue 28's profile), so ``send`` builds the request the client would build
(its headers, a call's own over them by name; the JSON body as httpx encodes it; its timeouts, or the call's) and
hands it to the transport, reads the answer to its end, and says httpx's own request line (logger ``httpx``, INFO:
``bot.server.logs`` turns it on only at DEBUG). Without a transport of ours (a proxy: httpx's own transport reads
it), through the client as before. Retries, the rate-limit gate and errors are ``DescopeClient``'s.
"""

from __future__ import annotations

import http.cookiejar
import logging
from typing import Any

import httpx

_httpx_log = logging.getLogger("httpx")


class _NoCookies(http.cookiejar.CookieJar):
    """The management API sets no cookies and must not be sent any: nothing is kept (httpx would otherwise parse
    every answer's headers for them)."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None


class Exchange:
    def __init__(self, base_url: str, headers: dict[str, str], timeout: float,
                 transport: httpx.BaseTransport | None) -> None:
        """``transport``: where requests go straight to; ``None``: through the client (httpx's own transport)."""
        self.base_url = base_url
        self._transport = transport
        self._timeout = httpx.Timeout(timeout).as_dict()
        self._urls: dict[str, httpx.URL] = {}
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=httpx.Timeout(timeout),
                                  transport=transport, cookies=_NoCookies(), follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def send(self, method: str, path: str, params: dict[str, str] | None, json: dict[str, Any] | None,
             headers: dict[str, str] | None, timeout: float | None) -> httpx.Response:
        """One HTTP exchange, read to its end. Raises httpx's errors."""
        if self._http.is_closed:  # as the client says it
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        url = self._url(path, params)
        if self._transport is None:
            extra: dict[str, Any] = {} if timeout is None else {"timeout": httpx.Timeout(timeout)}
            return self._http.request(method, url, json=json, headers=headers, **extra)
        merged = self._http.headers
        if headers is not None:  # as the client merges them: by name, whatever its case
            merged = httpx.Headers(merged)
            merged.update(headers)
        request = httpx.Request(method, url, json=json, headers=merged, extensions={
            "timeout": self._timeout if timeout is None else httpx.Timeout(timeout).as_dict()})
        response = self._transport.handle_request(request)
        response.request = request
        try:
            response.read()
        finally:
            response.close()
        if _httpx_log.isEnabledFor(logging.INFO):  # httpx's own line, word for word
            _httpx_log.info('HTTP Request: %s %s "%s %d %s"', method, url, response.http_version,
                            response.status_code, response.reason_phrase)
        return response

    def _url(self, path: str, params: dict[str, str] | None) -> httpx.URL:
        """The call's whole URL, built once per path (httpx parses a URL given as text, and joins it to the base URL,
        at every call: a third of its CPU per call here)."""
        if params:
            return httpx.URL(self.base_url + path, params=params)
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = httpx.URL(self.base_url + path)
        return url
