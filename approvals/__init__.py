"""The approval workflow: models, state machine, service, stores, jobs, audit.

Never imports botbuilder or aiohttp.

    models.py, ports.py     what a request is; what the workflow needs from outside (Protocols)
    errors.py               the error tree
    state.py                the pure state machine (request + facts + now -> next request)
    service.py              ApprovalService: submit, decide, cancel, card delivery and redraws,
                            and resume_stalled (queues again a job lost to a crash)
    execution.py            Executor: an approved JOIN, LEAVE or CREATE carried out once
    lifecycle.py            reminder, escalation and expiry of pending requests (timers that
                            follow the current hours)
    redraws.py              the requests whose cards still owe a redraw (the sweep's list)
    creation.py             who approves a new list (IT approvers or the requester's manager)
    grants.py, grant_store.py, grant_service.py
                            time-boxed membership: prompts, renewal, the end
    reviews.py, review_store.py, review_service.py, review_exchange.py
                            owner access reviews
    store.py, redis_store.py, keys.py, redis_calls.py
                            RequestStore: in memory and on Redis (compare-and-set, cluster-safe)
    audit.py                AuditLog: in memory and on one Redis stream, pruned only by retention
                            (archived first, the prune itself audited)
    approvers.py            OwnerApprovers: owners (and owner groups) as approvers, fallback
    exchange_adapters.py    the directory and writer ports over the Exchange client
    testing.py              in-memory fakes of the other ports, for tests anywhere

Known limits: a process that dies between storing a change and queueing its job leaves the
request waiting until resume_stalled (run by every worker each minute) queues its cards, its
execution or its timers again, and redraws cards a decision left stale (redraws.py); the audit
event or notice the dead process had not written yet is not written later.
"""
