"""Keep-alive HTTP for the bot's two clients, on the standard library's ``http.client``: one kept connection per
thread and host (``pool``), checked before reuse, under the Descope client's ``httpx.Client`` (``httpx_kept``:
``KeptConnections``, an ``httpx.BaseTransport``) and under slack-sdk's ``WebClient`` (``urllib_kept``: ``KeepAlive``,
with ``urlopen``'s contract).

Issue 13's profile found a new connection per call (slack-sdk) and httpx's own transport (httpcore, h11) costing a
fifth and a twelfth of the bot's CPU per session; the clients keep their APIs, retries and errors on top.
"""
