"""Keep-alive HTTP under the Descope client's ``httpx.Client``: ``KeptConnections``, an ``httpx.BaseTransport`` on the
standard library's ``http.client``, kept connections shared by the threads, per host (``pool``).

httpx's default transport (httpcore and h11, in pure Python) cost about 0.7 ms of CPU per call more than
``http.client`` on the same connection (issue 13's measurement: four Descope calls a session, some 8 % of the bot's CPU
per session). The client keeps httpx's API, its timeouts, its retries (``DescopeClient._call``) and its errors; only
the bytes on the wire move through ``http.client``. With a proxy in the environment (``HTTPS_PROXY`` and the
like) the client does not use this transport at all: httpx's own reads the proxy settings (``DescopeClient``).

Errors are httpx's, with httpcore's meanings, which decide whether ``DescopeClient`` may send a call again:

    httpx.ConnectError / ConnectTimeout   nothing was sent (any call may be retried)
    httpx.WriteError / WriteTimeout       the request may have been partly sent
    httpx.ReadTimeout                     sent; no answer in time (Descope may have done it)
    httpx.RemoteProtocolError             sent; the connection closed without a whole answer, or an answer
                                          ``http.client`` refuses (too many headers, a bad status line)
    httpx.LocalProtocolError              a request ``http.client`` refuses to write (a bad header)

A kept connection is checked before reuse, as httpcore does (``pool``), so a request is never sent on a connection
already known to be dead, and never sent twice.
"""

from __future__ import annotations

import http.client
import ssl

import httpx

from bot.transport import wire
from bot.transport.pool import Pool, key_of


class KeptConnections(httpx.BaseTransport):
    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        # certifi's roots, as httpx's own transport, unless given
        self._pool = Pool(lambda: context or httpx.create_ssl_context())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        key = key_of(url.scheme, url.host, url.port)
        timeout: dict[str, float | None] = request.extensions.get("timeout", {})
        conn, _ = self._pool.take(key, timeout.get("connect"))
        try:
            self._send(conn, request, timeout.get("write"))
            assert conn.sock is not None
            conn.sock.settimeout(timeout.get("read"))
            try:
                resp = wire.read(conn, request.method)
                data = resp.read()
            except TimeoutError as exc:
                raise httpx.ReadTimeout(str(exc) or "timed out", request=request) from exc
            except (http.client.HTTPException, OSError) as exc:  # closed early, or an answer http.client refuses
                raise httpx.RemoteProtocolError(f"no usable answer ({exc!r})", request=request) from exc
        except BaseException:
            self._pool.drop(conn)
            raise
        self._pool.give_back(key, conn, resp)
        return httpx.Response(resp.status, headers=resp.getheaders(), stream=httpx.ByteStream(data), request=request,
                              extensions={"http_version": b"HTTP/1.1", "reason_phrase": resp.reason.encode()})

    def close(self) -> None:
        self._pool.close()

    # -- machinery

    def _send(self, conn: http.client.HTTPConnection, request: httpx.Request, write_timeout: float | None) -> None:
        if conn.sock is None:
            try:
                conn.connect()
            except TimeoutError as exc:
                raise httpx.ConnectTimeout(str(exc) or "timed out", request=request) from exc
            except OSError as exc:
                raise httpx.ConnectError(str(exc), request=request) from exc
        assert conn.sock is not None
        conn.sock.settimeout(write_timeout)
        try:
            wire.write(conn, request.method, request.url.raw_path.decode("ascii"),
                       [(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw],
                       request.read() or None, defaults=False)
        except TimeoutError as exc:
            raise httpx.WriteTimeout(str(exc) or "timed out", request=request) from exc
        except OSError as exc:
            raise httpx.WriteError(str(exc), request=request) from exc
        except (http.client.HTTPException, ValueError) as exc:  # a header http.client will not send
            raise httpx.LocalProtocolError(str(exc), request=request) from exc
