"""The access review card: pages a list of thousands within Teams' card size limit, passes the
Adaptive Cards parser at 1.5, and reads a click's choices without trusting them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from approvals import reviews
from approvals.models import Approver, ListRef, Person
from approvals.reviews import Choice, Review
from bot.cards.actions import Verb, parse_card_action
from bot.cards.review import PAGE_SIZE, pages, review_card, review_choices
from tests.cards.validator import validate_cards

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
MEGAN = Approver(object_id="megan", display_name="Megan Bowen", address="meganb@contoso.com")
# Teams' limit for a card in a message is about 28 KB; the whole activity must fit.
TEAMS_CARD_LIMIT = 28 * 1024


def a_review(members: int) -> Review:
    people = tuple(
        Person(
            object_id=f"{i:08x}-0000-4000-8000-000000000000",
            # Long names in many scripts: the worst a page can hold.
            display_name=f"Zoë “AJ” Ångström-Müller Ñandú 🎉 {i}",
            address=f"zoe.angstrom-mueller.{i}@emea.contoso.com",
        )
        for i in range(members)
    )
    return reviews.new_review(
        review_id="rev1234567",
        group=ListRef(object_id="g", address="zurich@contoso.com", display_name="Zürich § 🎉"),
        reviewers=(MEGAN,),
        members=people,
        now=NOW,
    )


def inputs(card: dict[str, Any]) -> list[str]:
    return [e["id"] for e in card["body"] if e["type"] == "Input.ChoiceSet"]


def verbs(card: dict[str, Any]) -> list[str]:
    return [a["verb"] for a in card.get("actions", [])]


def test_every_page_of_a_5000_member_review_stays_within_teams_card_size() -> None:
    review = a_review(5000)

    sizes = [
        len(json.dumps(review_card(review, page=page)).encode()) for page in range(pages(review))
    ]

    assert pages(review) == 5000 // PAGE_SIZE
    assert max(sizes) < TEAMS_CARD_LIMIT


def test_pages_hold_their_own_members_and_offer_previous_and_next_where_they_exist() -> None:
    review = a_review(45)

    first, middle, last = (review_card(review, page=p) for p in (0, 1, 2))

    assert inputs(first) == [f"m{i}" for i in range(20)]
    assert inputs(last) == ["m40", "m41", "m42", "m43", "m44"]
    assert verbs(first) == ["review_page", "review_finish", "review_keep_all"]
    assert verbs(middle) == ["review_page", "review_page", "review_finish", "review_keep_all"]
    assert [a["data"]["page"] for a in middle["actions"][:2]] == [0, 2]
    assert inputs(review_card(review, page=99)) == inputs(last)  # out of range: the last page


def test_a_page_shows_the_choices_made_so_far() -> None:
    review = reviews.decide(a_review(3), actor=MEGAN, choices={1: Choice.REMOVE}, now=NOW)

    values = [e["value"] for e in review_card(review)["body"] if e["type"] == "Input.ChoiceSet"]

    assert values == ["keep", "remove", "keep"]


def test_every_review_card_variant_is_valid_adaptive_card_1_5() -> None:
    review = a_review(45)
    done = reviews.decide(review, actor=MEGAN, choices={0: Choice.REMOVE}, now=NOW)
    cards = [
        review_card(review),
        review_card(review, page=1, reminder=True),
        review_card(review, page=2),
        review_card(a_review(1)),
        review_card(reviews.finish(done, actor=MEGAN, now=NOW)),
        review_card(reviews.keep_all(review, actor=MEGAN, now=NOW)),
        review_card(reviews.close_unanswered(review, now=NOW)),
        review_card(reviews.close_unanswered(done, now=NOW), page=2),
    ]

    assert validate_cards(cards) == []


def test_a_finished_review_card_shows_the_outcome_and_offers_nothing() -> None:
    done = reviews.finish(
        reviews.decide(a_review(3), actor=MEGAN, choices={2: Choice.REMOVE}, now=NOW),
        actor=MEGAN,
        now=NOW,
    )

    card = review_card(done)

    assert "actions" not in card
    assert "2 stay, 1 person being removed" in json.dumps(card, ensure_ascii=False)


def test_a_review_closed_unanswered_shows_when_and_what_changes_and_offers_nothing() -> None:
    untouched = reviews.close_unanswered(a_review(3), now=NOW)
    partly = reviews.close_unanswered(
        reviews.decide(a_review(3), actor=MEGAN, choices={2: Choice.REMOVE}, now=NOW), now=NOW
    )

    quiet, decided = (json.dumps(review_card(r), ensure_ascii=False) for r in (untouched, partly))

    assert "actions" not in review_card(untouched) and "actions" not in review_card(partly)
    assert "closed on Tue 24 Nov 2026 without an answer" in quiet
    assert "everyone stays" in quiet
    assert "the 1 person marked Remove before then is being removed" in decided
    assert "Input.ChoiceSet" not in decided


def test_a_click_carries_the_review_page_and_only_well_formed_choices() -> None:
    value = {
        "action": {
            "type": "Action.Execute",
            "verb": "review_page",
            "data": {
                "requestId": "rev1234567",
                "page": 3,
                "m4": "remove",
                "m5": "keep",
                "m6": "explode",
                "x7": "remove",
                "m-1": "remove",
            },
        }
    }

    action = parse_card_action(value)

    assert (action.verb, action.request_id, action.page) == (Verb.REVIEW_PAGE, "rev1234567", 3)
    assert review_choices(value["action"]["data"]) == {4: Choice.REMOVE, 5: Choice.KEEP}
    assert review_choices("not a dict") == {}


def test_a_click_with_more_choices_than_a_page_holds_is_cut_short() -> None:
    data = {f"m{i}": "remove" for i in range(500)}

    assert review_choices(data) == {i: Choice.REMOVE for i in range(PAGE_SIZE)}
