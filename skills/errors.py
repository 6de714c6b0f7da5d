"""What the skills refuse to do, as errors whose members carry what a person must change.

    SkillError
    └── InvalidJustification     the reason given for a request is missing or too long

Everything a person may legitimately be told "no" about (a dynamic list, a blocked list) is a
typed decision, not an error: see skills.join_dl. bot/ turns both into words, in one place.
"""

from __future__ import annotations

from skills.policies import JustificationProblem


class SkillError(Exception):
    """Base of the skills' errors."""


class InvalidJustification(SkillError):
    def __init__(self, problem: JustificationProblem, max_length: int) -> None:
        super().__init__(f"justification {problem.value} (at most {max_length} characters)")
        self.problem = problem
        self.max_length = max_length
