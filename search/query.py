"""The query language, parsed here and never handed to a database as typed.

    woorden           both words (AND is implied)
    "een zin"         the words one after the other
    a AND b, a OR b   NOT binds tightest, then AND, then OR; brackets group
    a NOT b, a -b     a without b (NOT needs something to subtract from)
    vergader*         words beginning with (at least two letters)

Words are what the index calls words (letters and digits); other characters separate them, so
``foo-bar`` is the phrase "foo bar". Lower-case ``and``/``or``/``not`` are words. A mistake
(unbalanced quotes or brackets, an operator without its operand, a lone NOT) raises
``QueryError`` with what to write instead. Each backend translates the tree (``search.sqlite``,
``search.postgres``); terms are folded (``search.text.fold``) and stemmed there.
"""

from __future__ import annotations

from dataclasses import dataclass

from archive.errors import BewaarError
from search.text import WORD, fold

MAX_QUERY = 1000
MAX_TERMS = 64


class QueryError(BewaarError):
    """A query that cannot be read; the message says why and what to write."""


@dataclass(frozen=True)
class Term:
    word: str  # folded
    prefix: bool = False


@dataclass(frozen=True)
class Phrase:
    words: tuple[str, ...]  # folded, two or more


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]  # at least one is not a Not


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]  # none is a Not


Node = Term | Phrase | Not | And | Or
OPERATORS = {"AND", "OR", "NOT"}


def _tokens(text: str) -> list[tuple[str, object]]:
    """("word", Term|Phrase) | ("op", "AND"/"OR"/"NOT") | ("(", None) | (")", None)."""
    out: list[tuple[str, object]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()":
            out.append((c, None))
            i += 1
        elif c == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise QueryError('unbalanced quotes: close the phrase with a second " '
                                 '(or leave the quote out)')
            found = [fold(w) for w in WORD.findall(text[i + 1 : end])]
            if len(found) == 1:
                out.append(("word", Term(found[0])))
            elif found:
                out.append(("word", Phrase(tuple(found))))
            else:
                raise QueryError('an empty phrase "": put words between the quotes')
            i = end + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in '()"':
                j += 1
            chunk = text[i:j]
            i = j
            if chunk in OPERATORS:
                out.append(("op", chunk))
                continue
            negate = chunk.startswith("-") and len(chunk) > 1
            if negate:
                chunk = chunk[1:]
            prefix = chunk.endswith("*")
            body = chunk.rstrip("*")
            if "*" in body:
                raise QueryError("%(chunk)r: * goes at the end of a word (vergader*)",
                                 chunk=chunk)
            found = [fold(w) for w in WORD.findall(body)]
            if not found:
                if prefix:
                    raise QueryError("* alone: put at least two letters before it (vergader*)")
                continue  # punctuation only: a separator
            if prefix and len(found) > 1:
                raise QueryError("%(chunk)r: a prefix* is one word (without - . or ')",
                                 chunk=chunk)
            if prefix and len(found[0]) < 2:
                raise QueryError("%(chunk)r: put at least two letters before * (ve*)",
                                 chunk=chunk)
            node: Node = (Term(found[0], prefix) if len(found) == 1
                          else Phrase(tuple(found)))
            if negate:
                out.append(("op", "NOT"))
            out.append(("word", node))
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, object]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> tuple[str, object] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, object]:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while self.peek() == ("op", "OR"):
            self.take()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> Node:
        items = [self.parse_unary()]
        while (tok := self.peek()) is not None and tok[0] != ")" and tok != ("op", "OR"):
            if tok == ("op", "AND"):
                self.take()
            items.append(self.parse_unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_unary(self) -> Node:
        tok = self.peek()
        if tok == ("op", "NOT"):
            self.take()
            return Not(self.parse_unary())
        return self.parse_primary()

    def parse_primary(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise QueryError("the query ends with an operator: put a word after AND, OR or NOT")
        kind, value = self.take()
        if kind == "(":
            node = self.parse_or()
            if self.peek() != (")", None):
                raise QueryError("unbalanced brackets: close each ( with a )")
            self.take()
            return node
        if kind == ")":
            raise QueryError("unbalanced brackets: a ) without its (")
        if kind == "op":
            raise QueryError("%(op)s without a word before it: write a %(op)s b", op=value)
        assert isinstance(value, (Term, Phrase))
        return value


def _check(node: Node, top: bool = True) -> None:
    """NOT only beside something it subtracts from."""
    if isinstance(node, Not):
        raise QueryError("NOT needs something to subtract from: write a NOT b")
    if isinstance(node, And):
        if all(isinstance(i, Not) for i in node.items):
            raise QueryError("NOT needs something to subtract from: write a NOT b")
        for i in node.items:
            _check(i.item if isinstance(i, Not) else i, False)
            if isinstance(i, Not) and isinstance(i.item, Not):
                raise QueryError("NOT NOT: leave both out")
    if isinstance(node, Or):
        for i in node.items:
            _check(i, False)


def parse(text: str) -> Node:
    """The tree of a query, or ``QueryError``."""
    text = (text or "").strip()
    if not text:
        raise QueryError("an empty query: give one or more words")
    if len(text) > MAX_QUERY:
        raise QueryError("the query is longer than %(max)s characters", max=MAX_QUERY)
    tokens = _tokens(text)
    if not any(k == "word" for k, _ in tokens):
        raise QueryError("the query has no words (letters or digits) to look for")
    if sum(k == "word" for k, _ in tokens) > MAX_TERMS:
        raise QueryError("the query has more than %(max)s words or phrases", max=MAX_TERMS)
    parser = _Parser(tokens)
    node = parser.parse_or()
    if parser.peek() is not None:
        raise QueryError("unbalanced brackets: a ) without its (")
    _check(node)
    return node


def positive(node: Node) -> list[Term | Phrase]:
    """The terms a hit has (not those under NOT): what a snippet marks."""
    if isinstance(node, (Term, Phrase)):
        return [node]
    if isinstance(node, Not):
        return []
    out: list[Term | Phrase] = []
    for item in node.items:
        out += positive(item)
    return out
