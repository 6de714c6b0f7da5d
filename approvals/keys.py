"""Every Redis key the approval workflow uses, in one place.

Redis Cluster only runs a multi-key script or transaction when all its keys hash to one slot, so
keys that must change together share a hash tag (the part in braces):

    dlbot:req:{<id>}                            one request: hash {version, json}
    dlbot:user:{<requester>}:open:<list>:<kind> the id of the requester's open request for a list
    dlbot:user:{<requester>}:requests           sorted set of the requester's request ids
    dlbot:user:{<requester>}:seq                counter giving that set its order (newest last)
    dlbot:{open}:requests                       sorted set of open request ids by updated_at,
                                                less those the sweeper set aside
    dlbot:{open}:versions                       hash: open request id -> its version there
    dlbot:{all}:requests                        sorted set of every request id by created_at
    dlbot:{redraws}:owed                        sorted set of ids whose cards may owe a redraw,
                                                by when (approvals.redraws)
    dlbot:audit                                 the audit trail (a stream; only retention
                                                prunes it: docs/audit-retention.md)
    {dlbot:audit}:retention-plan                the prune in progress: ids, archive, token
    dlbot:grant:{<id>}                          one time-boxed membership: hash {version, json}
    dlbot:user:{<member>}:grant:<list>          the id of the member's latest grant on a list
    dlbot:user:{<member>}:grants                sorted set of the member's grant ids by start
    dlbot:{grants}:active                       sorted set of active grant ids by ends_at
    dlbot:review:{<id>}                         one owner access review: hash {version, json}
    dlbot:list:{<list>}:review                  the id of the list's latest review
    dlbot:list:{<list>}:added                   hash: member id -> the member the bot added
    dlbot:{reviews}:due                         sorted set of list ids by next review time
    dlbot:{reviews}:lists                       hash: list id -> the list (for that set)
    dlbot:{reviews}:active                      sorted set of unfinished review ids by start
                                                (open, or removals not yet asked for)

A request and its requester's keys live in different slots, so they are never changed in one
atomic step; the store orders its writes so that any crash in between is repaired later.

The open-request index (the two {open} keys, one slot of their own, changed together by scripts)
is how the sweeper finds requests whose next job was lost. On a single Redis it could change in
the request's own script, but on Cluster a script cannot reach two slots, so the store updates it
with a separate command after each change of a request, and only ever forward (a late update of
an older version is ignored). A crash in between leaves the index stale, never wrong for long:
whoever reads it checks each entry against the request itself, and drops entries for requests
that are gone, final, or never got their claim (a create that died half way). All open requests
share this one slot, so it lives on one Cluster node; it holds ids only, and only of open
requests, so it stays small.

The index of all requests ({all}, a slot of its own) is what `dlbot requests list` reads: every
request id, scored by its created_at, added by `create` before the claim and removed again by a
create that lost it. Adding is idempotent (ZADD of the same id and score), and a reader skips
(and drops) entries whose request is gone or never won its claim, so a crash in between leaves it
stale, never wrong. It grows by one id per request, as the requests themselves do.
"""

from __future__ import annotations

import re

PREFIX = "dlbot"
AUDIT_STREAM = f"{PREFIX}:audit"
OPEN_REQUESTS = f"{PREFIX}:{{open}}:requests"
OPEN_VERSIONS = f"{PREFIX}:{{open}}:versions"
ALL_REQUESTS = f"{PREFIX}:{{all}}:requests"
OWED_REDRAWS = f"{PREFIX}:{{redraws}}:owed"
ACTIVE_GRANTS = f"{PREFIX}:{{grants}}:active"
REVIEWS_DUE = f"{PREFIX}:{{reviews}}:due"
REVIEW_LISTS = f"{PREFIX}:{{reviews}}:lists"
ACTIVE_REVIEWS = f"{PREFIX}:{{reviews}}:active"

# What new_request_id() makes (token_urlsafe), with room for ids made another way later.
_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_request_id(value: str) -> bool:
    """Whether `value` can be a request id: ids arrive from card data and chat text."""
    return bool(_REQUEST_ID.fullmatch(value))


def _tag(value: str) -> str:
    # A brace inside the value would end the hash tag early and scatter one owner's keys.
    if not value or "{" in value or "}" in value:
        raise ValueError(f"not usable in a Redis key: {value!r}")
    return "{" + value + "}"


def request(request_id: str) -> str:
    if not is_request_id(request_id):
        raise ValueError(f"not a request id: {request_id!r}")
    return f"{PREFIX}:req:{_tag(request_id)}"


def open_request(requester_id: str, list_id: str, kind: str) -> str:
    return f"{PREFIX}:user:{_tag(requester_id)}:open:{list_id}:{kind}"


def requests_of(requester_id: str) -> str:
    return f"{PREFIX}:user:{_tag(requester_id)}:requests"


def requests_sequence(requester_id: str) -> str:
    return f"{PREFIX}:user:{_tag(requester_id)}:seq"


def grant(grant_id: str) -> str:
    if not is_request_id(grant_id):  # a grant's id is the id of the request that made it
        raise ValueError(f"not a grant id: {grant_id!r}")
    return f"{PREFIX}:grant:{_tag(grant_id)}"


def grant_of(member_id: str, list_id: str) -> str:
    return f"{PREFIX}:user:{_tag(member_id)}:grant:{list_id}"


def grants_of(member_id: str) -> str:
    return f"{PREFIX}:user:{_tag(member_id)}:grants"


def review(review_id: str) -> str:
    if not is_request_id(review_id):  # ids arrive from card data
        raise ValueError(f"not a review id: {review_id!r}")
    return f"{PREFIX}:review:{_tag(review_id)}"


def list_review(list_id: str) -> str:
    return f"{PREFIX}:list:{_tag(list_id)}:review"


def added_members(list_id: str) -> str:
    return f"{PREFIX}:list:{_tag(list_id)}:added"
