"""The approval workflow: models, state machine, service, stores, jobs, audit.

Never imports botbuilder or aiohttp.

    models.py, ports.py     what a request is; what the workflow needs from outside (Protocols)
    errors.py               the error tree
    state.py                the pure state machine (request + facts + now -> next request)
    service.py              ApprovalService: submit, decide, cancel, the job bodies, and
                            resume_stalled (queues again a job lost to a crash)
    store.py, redis_store.py, keys.py, redis_calls.py
                            RequestStore: in memory and on Redis (compare-and-set, cluster-safe)
    audit.py                AuditLog: in memory and on one Redis stream, pruned only by retention
                            (archived first, the prune itself audited)
    approvers.py            OwnerApprovers: owners (and owner groups) as approvers, fallback
    exchange_adapters.py    the directory and writer ports over the Exchange client
    testing.py              in-memory fakes of the other ports, for tests anywhere

Known limits: only JOIN requests are carried out (LEAVE and CREATE fail with a clear reason
until the writer port grows remove_member / create_group). A process that dies between storing
a change and queueing its job leaves the request waiting until resume_stalled (run by every
worker each minute) queues its cards or its execution again; only those two are resumed, so a
lost card redraw stays lost and the audit event or notice the dead process had not written yet
is not written later.
"""
