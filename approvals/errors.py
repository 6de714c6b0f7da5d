"""What can go wrong in the approval workflow, as a small tree of errors that carry meaning.

    ApprovalError                      base of every approvals failure
    ├── RequestNotFound                no request has this id (request_id)
    ├── NotAnApprover                  the actor may not decide this request now (actor)
    ├── SelfApproval                   the requester tried to decide their own request
    ├── NotTheRequester                only the requester may cancel a request (actor)
    ├── InvalidTransition              the request's status does not allow this step (request)
    │   ├── AlreadyDecided             someone decided (or it ended) first: carries the request
    │   └── NotCancellable             only a pending request can be cancelled
    ├── ConcurrentUpdate               a compare-and-set lost: the stored version moved on
    └── WriteError                     raised by a MembershipWriter (message, exchange_request_id)
        ├── TransientWriteError        Exchange unavailable or throttled: try again later
        └── PermanentWriteError        retrying cannot help; the message says what a person must do
            └── ListNameTaken          a new list's name or address was taken after approval

The bot turns each of these into words in one place; the errors themselves only carry facts.
"""

from __future__ import annotations

from approvals.models import ApprovalRequest, Person


class ApprovalError(Exception):
    """Base of every failure of the approval workflow."""


class RequestNotFound(ApprovalError):
    def __init__(self, request_id: str) -> None:
        super().__init__(f"no approval request {request_id!r}")
        self.request_id = request_id


class NotAnApprover(ApprovalError):
    """The actor is not among the list's approvers as they are now (never judged by card data)."""

    def __init__(self, actor: Person) -> None:
        super().__init__(f"{actor.display_name} ({actor.object_id}) may not decide this request")
        self.actor = actor


class SelfApproval(ApprovalError):
    """Nobody decides their own request, even when they own the list."""

    def __init__(self, request_id: str = "") -> None:
        super().__init__("the requester cannot decide their own request")
        self.request_id = request_id


class NotTheRequester(ApprovalError):
    def __init__(self, actor: Person) -> None:
        super().__init__(f"only the requester can do this, not {actor.display_name}")
        self.actor = actor


class InvalidTransition(ApprovalError):
    """The request is in a status that does not allow `action`; `request` is as it is now."""

    def __init__(self, request: ApprovalRequest, action: str) -> None:
        super().__init__(f"cannot {action} request {request.id}: it is {request.status.value}")
        self.request = request
        self.action = action


class AlreadyDecided(InvalidTransition):
    """The request is no longer pending; `request.decision` says who decided what, and when."""

    def __init__(self, request: ApprovalRequest) -> None:
        super().__init__(request, "decide")


class NotCancellable(InvalidTransition):
    def __init__(self, request: ApprovalRequest) -> None:
        super().__init__(request, "cancel")


class ConcurrentUpdate(ApprovalError):
    """Another process changed the request since it was read (compare-and-set lost)."""

    def __init__(self, request_id: str, expected_version: int) -> None:
        super().__init__(f"request {request_id} is no longer at version {expected_version}")
        self.request_id = request_id
        self.expected_version = expected_version


class WriteError(ApprovalError):
    """The change could not be made in Exchange; `exchange_request_id` is for the audit."""

    def __init__(self, message: str, exchange_request_id: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.exchange_request_id = exchange_request_id


class TransientWriteError(WriteError):
    """Worth trying again later: the job queue retries with backoff."""


class PermanentWriteError(WriteError):
    """Retrying cannot help; `message` tells a person what to do about it."""


class ListNameTaken(PermanentWriteError):
    """New-DistributionGroup found the name or address taken by another recipient after the
    request was approved: retrying cannot help, another name can (the requester is offered
    free ones)."""
