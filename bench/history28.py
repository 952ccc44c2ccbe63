"""Issue 28's part of the report's history: where a whole session's CPU went, what changed, and the A/B measured by
hand (rows measured side by side on this machine's kind, with the commits compared). ``cpu_per_session`` writes it."""

from __future__ import annotations

from collections.abc import Callable

from bench.history import compared

BEFORE, AFTER = "38c585d", "e7bb041"
FINDINGS = [
    "The two serving processes both rang for every moment and both ticked the request: the loser's read, its claim "
    "and its thread cost half the winner's work again. The processes of a machine now share the requests out by ID "
    "(`Scheduler(shard=…)`); a process also ticks what it armed itself in the last two sweep intervals (the other's "
    "alarm may not know it yet), and each sweep sets every alarm from the index, so no moment waits for a sweep.",
    "After a stop, the tick handed the Slack update to the pool (a thread handoff, then a read of the row again). It "
    "now does it itself, unless stops are waiting for a worker (`Scheduler.backlog()`): then the stops still go "
    "first, as 1,000 sessions ending together need.",
    "`http.client` read every answer's header block with the `email` package's feed parser, a tenth of a call to "
    "Slack: `bot.transport.response` reads it into the same `HTTPMessage` by the same policy, tested against the "
    "standard library's own reading of the same bytes (folding, duplicates, malformed lines, limits).",
    "Every Block Kit text with a line break went through a character-by-character loop to drop hidden characters; "
    "a check in C now answers for the usual text (it also closed a gap: a blank letter in otherwise printable text "
    "reached Slack).",
    "The Slack sync read whose App Homes to publish again in a transaction of its own, three times a session: it is "
    "now read with the sync's work. The Slack progress record copied every field (`dataclasses.asdict`) at each pass.",
    "Left: the rest is spread thin. Per whole session the bot now makes about 24,000 Python calls (28,700 before; "
    "waitress and Bolt about 3,100, httpx 2,100, slack-sdk 1,100, SQLAlchemy 1,400 (its pool, the row objects), "
    "the standard library 9,900: its HTTP, JSON and threading) and about 100 voluntary context switches "
    "(each outbound call waits for its answer; the click's work moves to a worker thread); `perf` puts two thirds of "
    "the CPU in the interpreter, a fifth in the kernel (a third of that switching threads) and a twentieth in SQLite. "
    "Eight Slack calls (the approval message, its two updates, two thread replies, the ready DM, its update and the "
    "ended DM) and four Descope calls are most of what is left that the bot could still do less of.",
]
ROWS = [  # measure, before, after
    ("bot CPU per whole session, SQLite, 4 at a time, 300 sessions (three runs each)", "17.8 ms", "15.0 ms"),
    ("bot CPU per stored request, commands one after another (four rounds of 300 each)", "3.04 ms", "2.60 ms"),
    ("transactions per whole session (counted in the bot)", "26", "22.4"),
    ("Python function calls per whole session (counted in the bot)", "28,700", "23,900"),
]

# Then: the calls themselves. e42624c (before) and 997f901 (after), alternately, three times each, on a fresh bot each
# (2026-12-07, 13:15-13:23 UTC): whole sessions (SQLite, 4 at a time, two rounds of 200 each run) and commands one
# after another (two rounds of 1,000 each run, each beside a bare Bolt app's round); the means of all rounds.
CALLS_BEFORE, CALLS_AFTER = "e42624c", "997f901"
CALLS_FINDINGS = [
    "A Slack call went through slack-sdk's whole urllib path (a `Request`, its opener's handler chain, the retry "
    "handlers' objects) though the connection was already kept: its first attempt now goes straight to the kept "
    "connection, and a 200 with a JSON object is answered as slack-sdk answers it; anything else is that attempt's "
    "outcome inside slack-sdk's own loop, so its retry handlers see it and nothing is sent twice "
    "(`bot.slack.client`). About 370 → 200 µs of CPU per call.",
    "A Descope call went through `httpx.Client`'s redirect, auth, cookie and event-hook layers (none used here), "
    "which cost as much as the exchange: the request the client would build is handed to the transport directly "
    "(`descope.exchange.Exchange`; with a proxy, through the client as before). About 295 → 240 µs per call.",
    "`http.client` wrote each request header in a call of its own and the body in a second write: "
    "`bot.transport.wire` writes the same bytes (tested byte for byte against it, and its refusals) in one.",
    "Every Slack request body was parsed twice (the guard's reading, then Bolt's; a click's payload is some kilobytes "
    "of percent-encoded JSON) and its shape checked twice: it is now read once and handed to Bolt as read "
    "(`slack.guard.read`, `ReadRequest`). This also fixed a bug: Bolt's reading took any form holding the word "
    "`payload` for a click's, so a command whose reason said it was refused 400.",
    "Three function middlewares, whose arguments Bolt builds from their signatures on every request, are one "
    "class-based middleware (`slack.app.Admission`).",
    "Left: a stored request is two inbound hops (waitress's, Bolt's), a Descope look-up on the pre-flight pool, one "
    "insert, a hand-off to the work pool, the approval post and its record: each of the rest is a few percent.",
]
CALLS_ROWS = [  # measure, before, after
    ("bot CPU per whole session, SQLite, 4 at a time (six rounds of 200 each)", "22.1 ms", "19.6 ms"),
    ("bot CPU per stored request, commands one after another (six rounds of 1,000 each)", "4.28 ms", "4.12 ms"),
    ("the same, in bare-Bolt acks measured beside it", "3.6", "3.3"),
]

# Then the transactions: 2a0e682 (before) and 3966c4d (after), alternately on a fresh bot each (2026-12-07, 15:24-15:47
# UTC): whole sessions (SQLite, 4 at a time, 200 each run; eight runs each) and commands one after another (three
# rounds of 600 each run; four runs each); transactions counted in the bot over one whole session.
TX_BEFORE, TX_AFTER = "2a0e682", "3966c4d"
TX_FINDINGS = [
    "Where a session's CPU goes, from each call's own thread CPU time (store, Slack, Descope, workflows): the store "
    "about two fifths (a transaction costs 130 to 470 µs of CPU in the running bot, three to four times what it costs "
    "alone), the eight Slack calls a sixth, the four Descope calls a ninth, the two requests from Slack (waitress and "
    "Bolt) a seventh.",
    "A change that takes the Slack lease with it (a new request's insert, the activation, and now a session's end) "
    "left the sync to read the row, its audit rows not yet in the thread and who opened the Home in a transaction of "
    "its own: that change's transaction reads them (`SlackHeld`), and the sync starts from them.",
    "After a stop the tick read the row again, then claimed the Slack lease in a write of its own: the end "
    "(`Store.end_session`) takes the lease with it when it is free, as the activation does.",
    "Each ring of the alarm read what came due and the next moment in two transactions: one now "
    "(`Store.due_and_next`).",
    "Left: the Slack progress record between two messages (a crash repeats at most one message), the work lease "
    "taken before each call to Descope, and the rings of the second serving process (both alarms follow the whole "
    "index; a share of it read by each would halve them).",
]
TX_ROWS = [  # measure, before, after
    ("transactions per stored request", "3", "2"),
    ("transactions per whole session, one ring of the alarm included", "19", "14"),
    ("bot CPU per stored request, commands one after another (four runs of three rounds of 600)", "2.08 ms", "1.89 ms"),
    ("bot CPU per whole session, SQLite, 4 at a time (eight runs of 200)", "12.0 ms", "11.2 ms"),
]

# Then the turns at Descope: 46e6dab (before) and 72ecdda (after), the mass expiry alone (``bench.limits.mass_expiry``:
# 1,000 sessions, 100 stops and 100 logouts a second allowed, two serving processes), two runs each (2026-12-07,
# 17:20-17:27 UTC).
GATE_BEFORE, GATE_AFTER = "46e6dab", "72ecdda"
GATE_FINDINGS = [
    "The revocations over time showed each serving process pacing itself at half the limit (each had seen only its own "
    "calls pass), holding only itself after a 429 while the other went on into the limit, and the last process alone "
    "finishing at half the rate. Descope counts per source IP: the serving processes now share their turns "
    "(`gate.Board.shared`, a page the parent maps before it forks them, locked with `lockf`), so a 429 holds the path "
    "in all of them and the rate is learnt from all their calls.",
    "Paced calls narrowed their spacing by a thousandth per call passed, without end: a second after each 429 the "
    "bot met the limit again and lost a whole `Retry-After`. The spacing now narrows no closer than the rate that "
    "passed before the 429 (`CLOSEST`: 2 % under it).",
]
GATE_ROWS = [  # measure, before, after
    ("the last revocation, after the first window's end", "13.35 s, 13.31 s", "10.39 s, 10.39 s"),
    ("429s on stop", "8, 8", "1, 2"),
    ("429s on logout", "1, 0", "0, 0"),
]


def cpu_per_session(w: Callable[[str], None]) -> None:
    """Issue 28's CPU work: what changed, and the A/B."""
    w("## Issue 28: CPU per request and per whole session")
    w("")
    w("`py-spy record --gil`, `perf record` and counts of calls and transactions over whole sessions (SQLite, two"
      " serving processes, 4 at a time), and over commands one after another. What changed:")
    w("")
    compared(w, FINDINGS, BEFORE, AFTER, ROWS, (
        f"Before ({BEFORE}) and after ({AFTER}), run alternately on a fresh bot each (the counts do not drift with the"
        " machine; the CPU rows do, by a fifth between runs of the same code: compare within a row):"))
    w("Then the calls themselves:")
    w("")
    compared(w, CALLS_FINDINGS, CALLS_BEFORE, CALLS_AFTER, CALLS_ROWS, (
        f"Before ({CALLS_BEFORE}) and after ({CALLS_AFTER}), alternately on a fresh bot each (this hour's machine ran"
        " a fifth slower than the hour of the table above: compare within a table):"))
    w("Then the transactions:")
    w("")
    compared(w, TX_FINDINGS, TX_BEFORE, TX_AFTER, TX_ROWS, (
        f"Before ({TX_BEFORE}) and after ({TX_AFTER}), alternately on a fresh bot each; the CPU per request was lower"
        " after in every pair, the CPU per session varied by a quarter between runs of the same code (the transaction"
        " counts do not vary):"))
    w("## Issue 28: one limit for the serving processes")
    w("")
    compared(w, GATE_FINDINGS, GATE_BEFORE, GATE_AFTER, GATE_ROWS, (
        f"Before ({GATE_BEFORE}) and after ({GATE_AFTER}), the mass expiry alone, two runs each in the same half"
        " hour:"))
