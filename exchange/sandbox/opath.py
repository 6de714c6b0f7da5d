"""OPATH filters (the -Filter parameter): a tokenizer, a recursive-descent parser, an evaluator.

Exchange tokenizes filter text by PowerShell's rules, so this does too: single-quoted strings
escape a quote by doubling it, and the typographic quotes ‘ ’ ‚ ‛ count as single quotes
(“ ” „ as double quotes), exactly as in PowerShell. A client that escapes only the ASCII quote
can therefore be broken out of its string by a name such as O’Brien; the sandbox shows that.

Grammar (operators and property names are case-insensitive; -and binds tighter than -or,
-not tighter than both; Exchange does not document precedence, so callers should parenthesise):

    filter     := or_expr END
    or_expr    := and_expr ("-or" and_expr)*
    and_expr   := unary ("-and" unary)*
    unary      := "-not" unary | primary
    primary    := "(" or_expr ")" | comparison
    comparison := PROPERTY ("-eq" | "-ne" | "-like" | "-notlike") value
    value      := 'single' | "double" | $true | $false | $null | bareword
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeVar

from exchange.sandbox.cmdlet_outcome import CmdletError

SINGLE_QUOTES: Final = "'\u2018\u2019\u201a\u201b"
DOUBLE_QUOTES: Final = '"\u201c\u201d\u201e'
DASHES: Final = "-\u2013\u2014\u2015"  # PowerShell accepts en/em dashes before operators
COMPARISON_OPERATORS: Final = ("eq", "ne", "like", "notlike")
# Recognised so that they get a precise error instead of "invalid syntax" at a later token.
_UNSUPPORTED_OPERATORS: Final = frozenset(
    {"gt", "ge", "lt", "le", "ceq", "cne", "ieq", "ine", "clike", "match", "notmatch", "contains"}
)
BINDING_EXCEPTION: Final = "System.Management.Automation.ParameterBindingException"

Literal = str | bool | None
FilterValue = str | bool | int | None | Sequence[str]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Comparison:
    prop: str  # canonical spelling, from the caller's property list
    op: str  # one of COMPARISON_OPERATORS
    value: Literal  # None is $null
    # 0-based offset of the property name, for error messages; not part of the meaning.
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


Node = Comparison | And | Or | Not


def filter_error(detail: str) -> CmdletError:
    """A -Filter failure, worded as PowerShell reports a failed parameter conversion."""
    return CmdletError(
        400,
        BINDING_EXCEPTION,
        f'Cannot bind parameter \'Filter\' to the target. Exception setting "Filter": "{detail}"',
    )


def syntax_error(text: str, position: int) -> CmdletError:
    return filter_error(
        "Invalid filter syntax. For a description of the filter parameter syntax see the command "
        f'help. "{text}" at position {position + 1}.',
    )


def quote_literal(value: str) -> str:
    """The single-quoted OPATH literal for value: every kind of single quote doubled."""
    return "'" + "".join(c * 2 if c in SINGLE_QUOTES else c for c in value) + "'"


# --- tokenizer -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "(", ")", "op", "string", "variable", "word", "end"
    text: str  # op/variable: lower-case name; string: unescaped value; word: as written
    position: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            tokens.append(Token(ch, ch, i))
            i += 1
        elif ch in SINGLE_QUOTES or ch in DOUBLE_QUOTES:
            value, end = _scan_string(text, i)
            tokens.append(Token("string", value, i))
            i = end
        elif ch in DASHES and i + 1 < n and text[i + 1].isalpha():
            end = i + 1
            while end < n and text[end].isalpha():
                end += 1
            tokens.append(Token("op", text[i + 1 : end].lower(), i))
            i = end
        elif ch == "$":
            end = i + 1
            while end < n and (text[end].isalnum() or text[end] == "_"):
                end += 1
            tokens.append(Token("variable", text[i + 1 : end].lower(), i))
            i = end
        else:
            end = i
            while end < n and not (
                text[end].isspace()
                or text[end] in "()"
                or text[end] in SINGLE_QUOTES + DOUBLE_QUOTES
            ):
                end += 1
            tokens.append(Token("word", text[i:end], i))
            i = end
    tokens.append(Token("end", "", n))
    return tokens


def _scan_string(text: str, start: int) -> tuple[str, int]:
    """Read a quoted string starting at `start`; returns (value, index after closing quote)."""
    quotes = SINGLE_QUOTES if text[start] in SINGLE_QUOTES else DOUBLE_QUOTES
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch in quotes:
            # A doubled quote is one literal quote (PowerShell keeps the second character).
            if i + 1 < len(text) and text[i + 1] in quotes:
                out.append(text[i + 1])
                i += 2
                continue
            return "".join(out), i + 1
        if ch == "`" and quotes is DOUBLE_QUOTES and i + 1 < len(text):
            out.append(text[i + 1])  # backtick escapes the next character in "..." only
            i += 2
            continue
        out.append(ch)
        i += 1
    raise syntax_error(text, start)


# --- parser ----------------------------------------------------------------------------------


def parse(text: str, properties: Iterable[str]) -> Node:
    """Parse filter text; properties are the filterable names (any case is accepted)."""
    return _Parser(text, {p.lower(): p for p in properties}).parse()


class _Parser:
    def __init__(self, text: str, properties: dict[str, str]) -> None:
        self.text = text
        self.properties = properties
        self.tokens = tokenize(text)
        self.index = 0

    def peek(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at_op(self, name: str) -> bool:
        token = self.peek()
        return token.kind == "op" and token.text == name

    def fail(self, token: Token) -> CmdletError:
        return syntax_error(self.text, token.position)

    def parse(self) -> Node:
        node = self.or_expr()
        if self.peek().kind != "end":
            raise self.fail(self.peek())
        return node

    def or_expr(self) -> Node:
        operands = [self.and_expr()]
        while self.at_op("or"):
            self.advance()
            operands.append(self.and_expr())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def and_expr(self) -> Node:
        operands = [self.unary()]
        while self.at_op("and"):
            self.advance()
            operands.append(self.unary())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def unary(self) -> Node:
        if self.at_op("not"):
            self.advance()
            return Not(self.unary())
        return self.primary()

    def primary(self) -> Node:
        token = self.peek()
        if token.kind == "(":
            self.advance()
            node = self.or_expr()
            if self.peek().kind != ")":
                raise self.fail(self.peek())
            self.advance()
            return node
        if token.kind == "word":
            return self.comparison()
        raise self.fail(token)

    def comparison(self) -> Comparison:
        name = self.advance()
        prop = self.properties.get(name.text.lower())
        if prop is None:
            raise filter_error(
                f'"{name.text}" is not a recognized filterable property. For more information '
                f'about filterable properties, see the command help. "{self.text}" at position '
                f"{name.position + 1}.",
            )
        op = self.advance()
        if op.kind != "op" or op.text not in COMPARISON_OPERATORS:
            if op.kind == "op" and op.text in _UNSUPPORTED_OPERATORS:
                raise filter_error(
                    f'The operator "-{op.text}" isn\'t supported by the sandbox for property '
                    f'"{prop}". "{self.text}" at position {op.position + 1}.',
                )
            raise self.fail(op)
        return Comparison(prop, op.text, self.value(), name.position)

    def value(self) -> Literal:
        token = self.advance()
        if token.kind == "string":
            return token.text
        if token.kind == "word":
            return token.text  # PowerShell treats an unquoted word as a string
        if token.kind == "variable":
            constants: dict[str, Literal] = {"true": True, "false": False, "null": None}
            if token.text in constants:
                return constants[token.text]
        raise self.fail(token)


# --- evaluation ------------------------------------------------------------------------------


def compile_predicate(
    node: Node, leaf: Callable[[Comparison], Callable[[T], bool]]
) -> Callable[[T], bool]:
    """Turn a parsed filter into one predicate; `leaf` builds the test for each comparison."""
    if isinstance(node, Comparison):
        return leaf(node)
    if isinstance(node, Not):
        inner = compile_predicate(node.operand, leaf)
        return lambda item: not inner(item)
    parts = [compile_predicate(operand, leaf) for operand in node.operands]
    if isinstance(node, And):
        return lambda item: all(part(item) for part in parts)
    return lambda item: any(part(item) for part in parts)


def _strings(actual: FilterValue) -> list[str]:
    """A property value as the non-empty strings it holds (multi-valued or not)."""
    if actual is None:
        return []
    if isinstance(actual, bool):
        return ["True" if actual else "False"]
    if isinstance(actual, int):
        return [str(actual)]
    if isinstance(actual, str):
        return [actual] if actual else []
    return [a for a in actual if a]


def wildcard_pattern(pattern: str) -> re.Pattern[str]:
    """OPATH -like: '*' is the only wildcard; matching ignores case."""
    body = "".join(".*" if c == "*" else re.escape(c) for c in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL)


def value_matcher(op: str, expected: Literal) -> Callable[[FilterValue], bool]:
    """Standard comparison of a property value: case-insensitive; multi-valued means "any"."""
    test: Callable[[FilterValue], bool]
    if expected is None:

        def test(actual: FilterValue) -> bool:
            return not _strings(actual)

    elif op in ("eq", "ne"):
        wanted = ("True" if expected else "False") if isinstance(expected, bool) else expected
        wanted = wanted.lower()

        def test(actual: FilterValue) -> bool:
            return any(s.lower() == wanted for s in _strings(actual))

    else:
        pattern = wildcard_pattern(str(expected))

        def test(actual: FilterValue) -> bool:
            return any(pattern.fullmatch(s) for s in _strings(actual))

    if op in ("ne", "notlike"):
        return lambda actual: not test(actual)
    return test
