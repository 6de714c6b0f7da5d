"""Invoke responses to Adaptive Card actions (Action.Execute), shaped so CloudAdapter sends them.

botbuilder-python 4.17.1's CloudAdapter serialises an InvokeResponse body with msrest, which
crashes on a plain dict (`'dict' object has no attribute 'is_xml_model'`), and the SDK's own
ActivityHandler.on_adaptive_card_invoke path hands it exactly that (it serialises twice). So a
card action is answered from on_invoke_activity with one of these, whose body is the schema's
AdaptiveCardInvokeResponse model. tests/bot/test_invoke.py pins the SDK behaviour.

Universal Actions answer with HTTP 200 even for errors: the outcome is the body's statusCode.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.schema import Activity, ActivityTypes, AdaptiveCardInvokeResponse

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
ERROR_TYPE = "application/vnd.microsoft.error"


def card_invoke_response(card: dict[str, Any]) -> InvokeResponse:
    """Replace the clicked card with `card` (on every screen that shows it, in Teams)."""
    return InvokeResponse(
        status=HTTPStatus.OK,
        body=AdaptiveCardInvokeResponse(status_code=HTTPStatus.OK, type=CARD_TYPE, value=card),
    )


def error_invoke_response(
    status_code: int, message: str, code: str | None = None
) -> InvokeResponse:
    """Tell the client the action failed; Teams shows `message` under the card.

    `code` defaults to the status's name (400 -> "BadRequest").
    """
    if code is None:
        code = HTTPStatus(status_code).phrase.replace(" ", "")
    return InvokeResponse(
        status=HTTPStatus.OK,
        body=AdaptiveCardInvokeResponse(
            status_code=status_code, type=ERROR_TYPE, value={"code": code, "message": message}
        ),
    )


async def send_invoke_response(turn_context: TurnContext, response: InvokeResponse) -> None:
    """Answer the current invoke from outside on_invoke_activity (on_turn_error does this)."""
    await turn_context.send_activity(Activity(type=ActivityTypes.invoke_response, value=response))
