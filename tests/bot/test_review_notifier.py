"""The access reviews' Teams notifier: a review closed unanswered is told to each fallback
approver and admin once, in one plain message naming the list; the closed card is redrawn
without buttons."""

from __future__ import annotations

from datetime import UTC, datetime

from botbuilder.schema import Activity

from approvals import reviews
from approvals.models import Approver, CardRef, ListRef, Person
from approvals.reviews import Choice
from bot.review_notifier import TeamsReviewNotifier

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
MEGAN = Approver(object_id="megan", display_name="Megan Bowen", address="meganb@contoso.com")
ADELE = Approver(
    object_id="adele", display_name="Adele Vance", address="adelev@contoso.com", via="fallback"
)
ALEX = Person(object_id="alex", display_name="Alex Wilber", address="alexw@contoso.com")
GRADY = Person(object_id="grady", display_name="Grady Archie", address="gradya@contoso.com")
FINANCE = ListRef(object_id="g", address="finance-emea@contoso.com", display_name="Finance EMEA")


class Messenger:
    def __init__(self, unreachable: frozenset[str] = frozenset()) -> None:
        self.sent: list[tuple[str, Activity]] = []
        self.updated: list[Activity] = []
        self.unreachable = unreachable

    async def send(self, object_id: str, activity: Activity) -> tuple[str, str] | None:
        self.sent.append((object_id, activity))
        return None if object_id in self.unreachable else ("conversation", "activity")

    async def update(self, conversation_id: str, activity_id: str, activity: Activity) -> bool:
        self.updated.append(activity)
        return True


def a_closed_review(*, remove_grady: bool = False) -> reviews.Review:
    review = reviews.new_review(
        review_id="rev1234567", group=FINANCE, reviewers=(MEGAN,), members=(ALEX, GRADY), now=NOW
    )
    if remove_grady:
        review = reviews.decide(review, actor=MEGAN, choices={1: Choice.REMOVE}, now=NOW)
    return reviews.close_unanswered(review, now=NOW)


async def test_each_fallback_approver_and_admin_is_told_once_in_plain_words() -> None:
    messenger = Messenger(unreachable=frozenset({"diego"}))
    notifier = TeamsReviewNotifier(messenger, admin_object_ids=("adele", "diego"))

    await notifier.review_closed(a_closed_review(), (ADELE,))

    assert [who for who, _ in messenger.sent] == ["adele", "diego"]  # Adele is both: once
    for _, activity in messenger.sent:
        assert activity.type == "message" and not activity.attachments
        assert activity.text.startswith(
            "The access review of Finance EMEA (finance-emea@contoso.com) closed unanswered"
        )
        assert "Nobody was removed: everyone stays on the list." in activity.text


async def test_the_message_of_a_partly_decided_review_says_only_those_removals_happen() -> None:
    messenger = Messenger()
    notifier = TeamsReviewNotifier(messenger)

    await notifier.review_closed(a_closed_review(remove_grady=True), (ADELE,))

    [(who, activity)] = messenger.sent
    assert who == "adele"
    assert "Only the 1 removal chosen before then will be carried out" in activity.text


async def test_the_message_names_the_reminder_and_escalation_only_when_they_happened() -> None:
    messenger = Messenger()
    notifier = TeamsReviewNotifier(messenger)
    started = reviews.new_review(
        review_id="rev1234567", group=FINANCE, reviewers=(MEGAN,), members=(ALEX,), now=NOW
    )
    asked = reviews.escalate(reviews.remind(started, now=NOW), fallback=(ADELE,), now=NOW)

    for review in (started, asked):
        await notifier.review_closed(reviews.close_unanswered(review, now=NOW), (ADELE,))

    quiet, escalated = (activity.text for _, activity in messenger.sent)
    assert "nobody finished it in time." in quiet and "escalation" not in quiet
    assert "nobody finished it after the reminder and the escalation." in escalated


async def test_a_closed_reviews_card_is_redrawn_with_its_close_and_no_buttons() -> None:
    messenger = Messenger()
    notifier = TeamsReviewNotifier(messenger)
    card = CardRef(approver_id="megan", conversation_id="c", activity_id="a")

    await notifier.update_review(card, a_closed_review())

    [activity] = messenger.updated
    content = activity.attachments[0].content
    assert "actions" not in content
    assert "This review closed on Tue 24 Nov 2026 without an answer" in str(content)
