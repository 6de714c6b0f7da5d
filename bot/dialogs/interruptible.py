"""A component dialog that answers "help" and "cancel" at every step, in one place."""

from __future__ import annotations

from botbuilder.core import MessageFactory
from botbuilder.dialogs import ComponentDialog, DialogContext, DialogTurnResult, DialogTurnStatus
from botbuilder.schema import ActivityTypes

from bot import texts
from bot.dialogs.intent import IntentKind, understand


class InterruptibleDialog(ComponentDialog):  # type: ignore[misc]  # botbuilder is untyped
    async def on_continue_dialog(self, inner_dc: DialogContext) -> DialogTurnResult:
        interrupted = await self._interrupt(inner_dc)
        if interrupted is not None:
            return interrupted
        return await super().on_continue_dialog(inner_dc)

    async def _interrupt(self, inner_dc: DialogContext) -> DialogTurnResult | None:
        activity = inner_dc.context.activity
        if activity.type != ActivityTypes.message or not activity.text:
            return None
        kind = understand(activity.text).kind
        if kind is IntentKind.CANCEL:
            await inner_dc.context.send_activity(MessageFactory.text(texts.CANCELLED))
            return await inner_dc.cancel_all_dialogs()
        if kind is IntentKind.HELP:
            await inner_dc.context.send_activity(MessageFactory.text(texts.HELP))
            # Ask the pending question again, so the person knows where they are.
            await inner_dc.reprompt_dialog()
            return DialogTurnResult(DialogTurnStatus.Waiting)
        return None
