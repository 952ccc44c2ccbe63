"""The running bot: wiring and processes.

    runtime    builds every part from ``Settings`` and serves HTTP or Socket Mode; shuts down in order
    workers    ``WEB_CONCURRENCY``: the parent that binds ``PORT`` and forks the serving processes
    web        the WSGI app: ``POST /slack/events``, ``GET /healthz``, ``GET /metrics``
    scheduler  APScheduler: one alarm per request, the sweep, the lease keeper
    clock      the database's clock, as this replica reads it
    metrics    Prometheus counters and gauges, fed by hooks
    logs       logging set-up and the filter that redacts secrets
"""
