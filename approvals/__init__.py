"""The approval workflow: models, state machine, service, stores, jobs, audit.

Never imports botbuilder or aiohttp.

    models.py, ports.py     what a request is; what the workflow needs from outside (Protocols)
    errors.py               the error tree
    state.py                the pure state machine (request + facts + now -> next request)
    service.py              ApprovalService: submit, decide, cancel and the job bodies
    store.py, redis_store.py, keys.py, redis_calls.py
                            RequestStore: in memory and on Redis (compare-and-set, cluster-safe)
    audit.py                AuditLog: in memory and on one untrimmed Redis stream
    approvers.py            OwnerApprovers: owners (and owner groups) as approvers, fallback
    exchange_adapters.py    the directory and writer ports over the Exchange client
    testing.py              in-memory fakes of the other ports, for tests anywhere

Known limits: only JOIN requests are carried out (LEAVE and CREATE fail with a clear reason
until the writer port grows remove_member / create_group); a process that dies between storing
a change and queueing its job leaves the request waiting until something re-queues it (a
periodic sweep of open requests is the planned remedy).
"""
