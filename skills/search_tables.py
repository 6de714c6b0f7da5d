"""The search index proper: word postings, a sorted vocabulary and typo neighbourhoods.

skills.find_dl wraps it (ListIndex); this module holds the data structures and the ranking.
Lists live in integer slots; each word maps to the set of slots holding it, so a search is a
few set operations in C over the slots of the words typed, never a loop over all lists.
"""

from __future__ import annotations

import bisect
import heapq
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from itertools import islice
from typing import Final

from skills.ports import DirectoryList
from skills.text import deletions, within_one_edit, words

# Words people add around a list's name. They may also be part of a name ("Leadership Team"),
# so they are never required, only rewarded, and a query of filler words alone uses them all.
FILLER_WORDS: Final = frozenset(
    {
        "a", "an", "the", "my", "our", "to", "me", "please", "pls", "add", "join",
        "list", "lists", "dl", "dls", "distribution", "distro", "mailing", "email", "mail",
        "group", "groups", "team", "teams",
    }
)  # fmt: skip

MIN_PREFIX = 2  # "f" would match half the directory
MIN_TYPO = 4  # one edit in a three-letter word is a different word
MAX_PREFIX_WORDS = 64  # vocabulary words one typed prefix may stand for
_SLOT_BITS: Final = 24  # up to 16 million lists
_ADDRESS: Final = re.compile(r"[^\s<>\"'(),;]+@[^\s<>\"'(),;]+")


class MatchReason(StrEnum):
    ADDRESS = "address"  # the exact address
    NAME = "name"  # the whole name, display name, alias or address local part
    WORDS = "words"  # every word typed, as whole words
    PREFIX = "prefix"  # every word typed, some only as the start of a word
    TYPO = "typo"  # every word typed, some with a small typo
    SOME_WORDS = "some_words"  # all words typed but one


@dataclass(frozen=True)
class ListMatch:
    list: DirectoryList
    score: float  # 0..1, higher is better; comparable within one search only
    why: MatchReason
    words: tuple[str, ...] = ()  # the list's words that matched (folded), to highlight


class _Tier(IntEnum):
    """How one typed word matched a list word; the value is the points it scores."""

    TYPO = 2
    PREFIX = 3
    EXACT = 4


_FILLER_POINTS: Final = 1
_WORST_REASON: Final = {
    _Tier.EXACT: MatchReason.WORDS,
    _Tier.PREFIX: MatchReason.PREFIX,
    _Tier.TYPO: MatchReason.TYPO,
}


@dataclass(frozen=True)
class _Expansion:
    """The list words one typed word stands for, best tier first, with the postings of each
    word of a tier (not yet unioned: see SearchTables._all_words)."""

    tiers: tuple[tuple[_Tier, tuple[set[int], ...]], ...]
    words: frozenset[str]
    size: int  # how many slots the postings hold, counting a slot once per word

    def postings(self) -> tuple[set[int], ...]:
        return tuple(posting for _, postings in self.tiers for posting in postings)


def _union(postings: tuple[set[int], ...]) -> set[int]:
    # One posting is returned as it is: it belongs to the index and is only ever read.
    return postings[0] if len(postings) == 1 else set().union(*postings)


def _within(candidates: set[int], postings: tuple[set[int], ...]) -> set[int]:
    """The candidates in any of the postings: each `&` walks the smaller set, so a short list
    of candidates costs little however large the postings are."""
    if len(postings) == 1:
        return candidates & postings[0]
    found: set[int] = set()
    for posting in postings:
        found |= candidates & posting
    return found


def _typo_matched(word: str) -> bool:
    # Only words of letters: "emea1" is not a typo of "emea", and numbers are exact or nothing.
    return len(word) >= MIN_TYPO and word.isalpha()


def _merge(
    groups: dict[tuple[int, _Tier], set[int]], key: tuple[int, _Tier], members: set[int]
) -> None:
    # A new set when two groups meet: `members` may be a posting of the index itself.
    existing = groups.get(key)
    groups[key] = members if existing is None else existing | members


def _group_order(group: tuple[tuple[int, _Tier], set[int]]) -> tuple[int, _Tier]:
    return group[0]


def searchable(item: DirectoryList) -> tuple[set[str], set[str]]:
    """The words a list is found by, and its whole-name keys ("finance emea", "financeemea")."""
    fields = [item.display_name, item.name, item.alias]
    fields += [a.partition("@")[0] for a in (item.address, *item.other_addresses) if a]
    found: set[str] = set()
    names: set[str] = set()
    for field in dict.fromkeys(fields):  # name, alias and local part are often one text
        field_words = words(field)
        found.update(field_words)
        if field_words:
            names.add(" ".join(field_words))
            names.add("".join(field_words))  # "bookclub" is "Book Club"
    return found, names


def _shortness_and_name(item: DirectoryList) -> tuple[int, str, str]:
    """Fewer words first, then a shorter display name; the name and object id only make the
    order total, so the same directory always answers the same."""
    shortness = min(len(words(item.display_name)), 63) << 10 | min(len(item.display_name), 1023)
    return shortness, item.display_name.casefold(), item.object_id


def address_key(address: str) -> str:
    key = address.strip().strip("<>").casefold()
    for scheme in ("mailto:", "smtp:"):
        key = key.removeprefix(scheme)
    # Most addresses are stored in lower case already: keep one string object, not two.
    return address if key == address else key


class SearchTables:
    """The index proper. Slots are small ints naming lists inside the posting sets.

    A bulk build hands out slots in rank order (short names first), so the best-ranked lists of
    any set are simply its smallest slots. Lists added or renamed afterwards take new slots
    out of that order; they are remembered in `_misplaced` until the next rebuild.
    """

    def __init__(self, lists: Iterable[DirectoryList]) -> None:
        self.lists: list[DirectoryList | None] = []
        self.slot_of: dict[str, int] = {}
        self.addresses: dict[str, int] = {}
        self._rank: list[int] = []  # per slot; smaller is better when scores tie
        self._misplaced: set[int] = set()
        # word -> its slots: a plain int while one list holds the word (most words: a list's
        # number, a project name), a set from the second; a set costs 200 bytes, an int 28.
        self._postings: dict[str, set[int] | int] = {}
        # whole-name key -> slots; tuples, as nearly every name has one list (sets cost 200 B)
        self._by_name: dict[str, tuple[int, ...]] = {}
        self._vocabulary: list[str] = []  # sorted words, for prefixes
        self._neighbours: dict[str, set[str]] = {}  # word minus one letter -> words
        latest = {item.object_id: item for item in lists}
        ranked = sorted(latest.values(), key=_shortness_and_name)
        # Sorting the vocabulary once is far cheaper than 100,000 sorted insertions.
        self._bulk = True
        for item in ranked:
            self.upsert(item)
        self._vocabulary = sorted(self._postings)
        self._bulk = False
        self._misplaced.clear()

    # Changes ----------------------------------------------------------------------------------

    def upsert(self, item: DirectoryList) -> None:
        slot = self.slot_of.get(item.object_id)
        if slot is not None:
            self._unindex(slot)
        else:
            slot = len(self.lists)
            self.lists.append(None)
            self._rank.append(0)
        self.lists[slot] = item
        self.slot_of[item.object_id] = slot
        rank = _shortness_and_name(item)[0] << _SLOT_BITS | slot
        if rank != self._rank[slot]:
            self._misplaced.add(slot)
            self._rank[slot] = rank
        for address in (item.address, *item.other_addresses):
            if address:
                self.addresses[address_key(address)] = slot
        if item.hidden:
            return  # found by exact address only
        found, names = searchable(item)
        for word in found:
            self._add_word(word, slot)
        for name in names:
            self._by_name[name] = (*self._by_name.get(name, ()), slot)

    def remove(self, object_id: str) -> None:
        # The slot stays empty until the next rebuild: reusing it would break the rank order.
        slot = self.slot_of.pop(object_id, None)
        if slot is None:
            return
        self._unindex(slot)
        self.lists[slot] = None
        self._misplaced.discard(slot)

    def _unindex(self, slot: int) -> None:
        item = self.lists[slot]
        assert item is not None
        for address in (item.address, *item.other_addresses):
            if self.addresses.get(address_key(address)) == slot:
                del self.addresses[address_key(address)]
        if item.hidden:
            return  # never indexed by words
        # What was indexed is recomputed from the (immutable) record rather than kept per
        # list: at 100,000 lists that saves about 100 MB.
        found, names = searchable(item)
        for word in found:
            self._drop_word(word, slot)
        for name in names:
            holders = tuple(s for s in self._by_name[name] if s != slot)
            if holders:
                self._by_name[name] = holders
            else:
                del self._by_name[name]

    def _add_word(self, word: str, slot: int) -> None:
        holders = self._postings.get(word)
        if isinstance(holders, set):
            holders.add(slot)
            return
        if holders is not None:
            self._postings[word] = {holders, slot}
            return
        self._postings[word] = slot
        if not self._bulk:
            bisect.insort(self._vocabulary, word)
        if _typo_matched(word):
            for near in deletions(word):
                self._neighbours.setdefault(near, set()).add(word)

    def _slots(self, word: str) -> set[int]:
        """The slots holding the word, as a set (a new one for a word of one list)."""
        holders = self._postings.get(word)
        if holders is None:
            return set()
        return holders if isinstance(holders, set) else {holders}

    def _drop_word(self, word: str, slot: int) -> None:
        holders = self._postings[word]
        if isinstance(holders, set):
            holders.discard(slot)
            if len(holders) > 1:
                return
            if holders:
                self._postings[word] = holders.pop()
                return
        elif holders != slot:
            return
        del self._postings[word]
        del self._vocabulary[bisect.bisect_left(self._vocabulary, word)]
        if _typo_matched(word):
            for near in deletions(word):
                others = self._neighbours[near]
                others.discard(word)
                if not others:
                    del self._neighbours[near]

    # Search -----------------------------------------------------------------------------------

    def search(self, query: str, limit: int) -> list[ListMatch]:
        if limit <= 0 or not query.strip():
            return []
        address = _ADDRESS.search(query)
        if address is not None:
            slot = self.addresses.get(address_key(address.group(0)))
            if slot is not None:
                item = self.lists[slot]
                assert item is not None
                return [ListMatch(item, 1.0, MatchReason.ADDRESS)]
            # An address nobody has: its local part may still be a name ("finance-emea@").
            query = address.group(0).partition("@")[0]
        typed = list(dict.fromkeys(words(query)))
        if not typed:
            return []
        required = [w for w in typed if w not in FILLER_WORDS] or typed
        fillers = [w for w in typed if w not in required]
        results: dict[int, ListMatch] = {}
        self._whole_names(typed, required, results, limit)
        if len(results) < limit:
            self._all_words(required, fillers, results, limit)
        if len(results) < limit and len(required) > 1:
            # "book club" for the list named bookclub: two typed words that are one list word.
            for i in range(len(required) - 1):
                if not (required[i].isalpha() and required[i + 1].isalpha()):
                    continue
                joined = [*required[:i], required[i] + required[i + 1], *required[i + 2 :]]
                self._all_words(joined, fillers, results, limit)
        if len(results) < limit and len(required) > 1:
            self._all_words_but_one(required, fillers, results, limit)
        return list(results.values())[:limit]

    def _whole_names(
        self, typed: list[str], required: list[str], results: dict[int, ListMatch], limit: int
    ) -> None:
        keys = dict.fromkeys(
            (" ".join(typed), "".join(typed), " ".join(required), "".join(required))
        )
        slots: set[int] = set()
        for key in keys:
            slots.update(self._by_name.get(key, ()))
        for slot in self._best(slots, limit):
            item = self.lists[slot]
            assert item is not None
            found = tuple(w for w in typed if w in searchable(item)[0])
            results[slot] = ListMatch(item, 0.95, MatchReason.NAME, found)

    def _all_words(
        self,
        required: list[str],
        fillers: list[str],
        results: dict[int, ListMatch],
        limit: int,
        *,
        partial_of: int = 0,
    ) -> None:
        expansions = [self._expand(word) for word in required]
        if any(not e.tiers for e in expansions):
            return
        # Sets below may be the index's own postings: they are read, never changed. Start from
        # the word held by the fewest lists and narrow: the other words' postings are only
        # intersected with the candidates so far, never unioned whole (a two-letter prefix
        # stands for dozens of words held by tens of thousands of lists).
        ordered = sorted(expansions, key=lambda e: e.size)
        candidates = _union(ordered[0].postings())
        for expansion in ordered[1:]:
            candidates = _within(candidates, expansion.postings())
            if not candidates:
                return
        # Split the candidates by how well each typed word matched: a handful of groups, each
        # computed with set operations, instead of scoring every candidate in Python.
        groups: dict[tuple[int, _Tier], set[int]] = {(0, _Tier.EXACT): candidates}
        for expansion in expansions:
            split: dict[tuple[int, _Tier], set[int]] = {}
            tiers = [(tier, _within(candidates, postings)) for tier, postings in expansion.tiers]
            for (points, worst), members in groups.items():
                if len(tiers) == 1:  # every candidate matched this word one way
                    ((tier, _),) = tiers
                    _merge(split, (points + tier, min(worst, tier)), members)
                    continue
                rest = members
                for tier, tier_slots in tiers:
                    hit = rest & tier_slots
                    if hit:
                        _merge(split, (points + tier, min(worst, tier)), hit)
                        rest = rest - hit
                    if not rest:
                        break
            groups = split
        for filler in fillers:
            holders = self._slots(filler)
            if not holders:
                continue
            split = {}
            for (points, worst), members in groups.items():
                hit = members & holders
                if hit:
                    _merge(split, (points + _FILLER_POINTS, worst), hit)
                if len(hit) < len(members):
                    _merge(split, (points, worst), members - hit)
            groups = split
        best_points = _Tier.EXACT * len(required) + _FILLER_POINTS * len(fillers)
        matched_words = frozenset().union(*(e.words for e in expansions))
        for (points, worst), members in sorted(groups.items(), key=_group_order, reverse=True):
            for slot in self._best(members, limit - len(results), skip=results):
                item = self.lists[slot]
                assert item is not None
                quality = points / best_points
                if partial_of:
                    score = 0.2 + 0.3 * quality * (partial_of - 1) / partial_of
                    why = MatchReason.SOME_WORDS
                else:
                    score = 0.45 + 0.45 * quality
                    why = _WORST_REASON[worst]
                found = tuple(sorted(searchable(item)[0] & matched_words))
                results[slot] = ListMatch(item, round(score, 3), why, found)
            if len(results) >= limit:
                return

    def _all_words_but_one(
        self, required: list[str], fillers: list[str], results: dict[int, ListMatch], limit: int
    ) -> None:
        for left_out in range(len(required)):
            rest = required[:left_out] + required[left_out + 1 :]
            self._all_words(rest, fillers, results, limit, partial_of=len(required))
            if len(results) >= limit:
                return

    def _expand(self, typed: str) -> _Expansion:
        tiers: list[tuple[_Tier, tuple[set[int], ...]]] = []
        matched: set[str] = set()
        exact = self._slots(typed)
        if exact:
            tiers.append((_Tier.EXACT, (exact,)))
            matched.add(typed)
        if len(typed) >= MIN_PREFIX and not typed.isdigit():
            longer = self._prefixed(typed)
            if longer:
                tiers.append((_Tier.PREFIX, tuple(map(self._slots, longer))))
                matched.update(longer)
        if not exact and _typo_matched(typed):
            near = self._near(typed)
            if near:
                tiers.append((_Tier.TYPO, tuple(map(self._slots, near))))
                matched.update(near)
        size = sum(len(posting) for _, postings in tiers for posting in postings)
        return _Expansion(tuple(tiers), frozenset(matched), size)

    def _prefixed(self, prefix: str) -> list[str]:
        """Vocabulary words that start with the prefix and are longer; the shortest first."""
        start = bisect.bisect_right(self._vocabulary, prefix)
        # Every word with the prefix sorts before prefix + the highest code point.
        end = bisect.bisect_left(self._vocabulary, prefix + "\U0010ffff", lo=start)
        found = self._vocabulary[start:end]
        if len(found) > MAX_PREFIX_WORDS:
            found = heapq.nsmallest(MAX_PREFIX_WORDS, found, key=len)
        return found

    def _near(self, typed: str) -> set[str]:
        """Vocabulary words one typo away: a letter missing, extra, replaced or swapped."""
        candidates = set(self._neighbours.get(typed, ()))  # a letter missing from `typed`
        for shorter in deletions(typed):
            if shorter in self._postings:
                candidates.add(shorter)  # a letter too many in `typed`
            candidates.update(self._neighbours.get(shorter, ()))  # replaced or swapped
        return {word for word in candidates if within_one_edit(typed, word)}

    def _best(self, slots: set[int], count: int, skip: Collection[int] = ()) -> list[int]:
        """The `count` slots with the best rank (short names first), in order, not in `skip`.

        Slots are handed out in rank order, so the best are the smallest, but for the few
        `_misplaced` since the build: the smallest `count + len(misplaced)`, plus those, hold
        the best. To find the smallest of a large set, counting up from 0 and testing
        membership (all in C) usually stops after a few dozen slots; a budget as large as the
        set bounds it, and past it heapq walks the set.
        """
        if count <= 0 or not slots:
            return []
        misplaced = slots & self._misplaced if self._misplaced else set()
        wanted = count + len(misplaced) + sum(1 for slot in skip if slot in slots)
        budget = range(len(slots))  # scanning as many slot numbers as the set holds
        smallest = list(islice(filter(slots.__contains__, budget), wanted))
        if len(smallest) < wanted:
            smallest = heapq.nsmallest(wanted, slots)
        pool = (set(smallest) | misplaced).difference(skip)
        return sorted(pool, key=self._rank.__getitem__)[:count]
