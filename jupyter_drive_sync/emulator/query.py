"""The files.list `q` language (the subset clients use): tokenize, parse, evaluate.

Parsing yields a small tuple AST; `compile_query` turns it into a predicate over store
records plus a *parent hint* (the folders an `'X' in parents` conjunct pins the result to),
so a listing of one folder reads that folder's children from the index instead of scanning
the whole account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from .records import parse_time
from .wire import DriveError

Node = tuple  # ("or"|"and", a, b) | ("not", a) | ("in", value, collection) | ("cmp", field, op, value) | ("has", map, key, value)

_OPS = ("!=", "<=", ">=", "=", "<", ">")
_KEYWORDS = {"and", "or", "not", "in", "has", "contains", "true", "false"}
_STRING_FIELDS = {"name", "mimeType", "fullText", "description"}
_BOOL_FIELDS = {"trashed", "starred", "sharedWithMe"}
_TIME_FIELDS = {"modifiedTime", "createdTime", "viewedByMeTime", "modifiedByMeTime"}
_COLLECTIONS = {"parents", "owners", "writers", "readers"}
_MAPS = {"properties", "appProperties"}


def invalid_query() -> DriveError:
    return DriveError(400, "invalid", "Invalid Value", location="q", location_type="parameter")


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "str" | "word" | "op" | "punct"
    value: Any


def tokenize(text: str) -> list[Token]:
    """Split `q` into tokens; strings are single- (or double-) quoted with `\\'` and `\\\\` escapes."""
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "'\"":
            quote, i, buf = c, i + 1, []
            while True:
                if i >= n:
                    raise invalid_query()
                ch = text[i]
                if ch == "\\":
                    if i + 1 >= n:
                        raise invalid_query()
                    buf.append(text[i + 1])
                    i += 2
                elif ch == quote:
                    i += 1
                    break
                else:
                    buf.append(ch)
                    i += 1
            out.append(Token("str", "".join(buf)))
        elif c in "(){},":
            out.append(Token("punct", c))
            i += 1
        elif c in "!<>=":
            for op in _OPS:
                if text.startswith(op, i):
                    out.append(Token("op", op))
                    i += len(op)
                    break
            else:
                raise invalid_query()
        elif c.isalnum() or c == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] in "_."):
                j += 1
            word = text[i:j]
            out.append(Token("word", word.lower() if word.lower() in _KEYWORDS else word))
            i = j
        else:
            raise invalid_query()
    return out


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.toks = tokens
        self.i = 0

    def peek(self) -> Token | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, kind: str | None = None, value: Any = None) -> Token:
        tok = self.peek()
        if tok is None or (kind and tok.kind != kind) or (value is not None and tok.value != value):
            raise invalid_query()
        self.i += 1
        return tok

    def at(self, kind: str, value: Any = None) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == kind and (value is None or tok.value == value)

    def parse(self) -> Node:
        node = self.or_expr()
        if self.peek() is not None:
            raise invalid_query()
        return node

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.at("word", "or"):
            self.i += 1
            node = ("or", node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.not_expr()
        while self.at("word", "and"):
            self.i += 1
            node = ("and", node, self.not_expr())
        return node

    def not_expr(self) -> Node:
        if self.at("word", "not"):
            self.i += 1
            return ("not", self.not_expr())
        if self.at("punct", "("):
            self.i += 1
            node = self.or_expr()
            self.take("punct", ")")
            return node
        return self.term()

    def term(self) -> Node:
        tok = self.take()
        if tok.kind == "str":
            self.take("word", "in")
            coll = self.take("word").value
            if coll not in _COLLECTIONS:
                raise invalid_query()
            return ("in", tok.value, coll)
        if tok.kind != "word" or tok.value in _KEYWORDS:
            raise invalid_query()
        field = tok.value
        if field in _MAPS:
            return self.has(field)
        if self.at("word", "contains"):
            self.i += 1
            if field not in _STRING_FIELDS:
                raise invalid_query()
            return ("cmp", field, "contains", self.take("str").value)
        op = self.take("op").value
        if field in _BOOL_FIELDS:
            if op not in ("=", "!="):
                raise invalid_query()
            word = self.take("word").value
            if word not in ("true", "false"):
                raise invalid_query()
            return ("cmp", field, op, word == "true")
        if field in _TIME_FIELDS:
            raw = self.take("str").value
            try:
                return ("cmp", field, op, parse_time(raw))
            except ValueError:
                raise invalid_query() from None
        if field in _STRING_FIELDS - {"fullText"}:
            if op not in ("=", "!="):
                raise invalid_query()
            return ("cmp", field, op, self.take("str").value)
        raise invalid_query()

    def has(self, field: str) -> Node:
        self.take("word", "has")
        self.take("punct", "{")
        key_word = self.take("word").value
        if key_word != "key":
            raise invalid_query()
        self.take("op", "=")
        key = self.take("str").value
        value: str | None = None
        if self.at("word", "and"):
            self.i += 1
            if self.take("word").value != "value":
                raise invalid_query()
            self.take("op", "=")
            value = self.take("str").value
        self.take("punct", "}")
        return ("has", field, key, value)


def parse(text: str) -> Node:
    """Parse `q`; raises DriveError 400 invalid (location q) on anything we don't understand."""
    tokens = tokenize(text)
    if not tokens:
        raise invalid_query()
    return _Parser(tokens).parse()


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a is not None and a < b,
    "<=": lambda a, b: a is not None and a <= b,
    ">": lambda a, b: a is not None and a > b,
    ">=": lambda a, b: a is not None and a >= b,
}

_ATTR = {
    "name": "name",
    "mimeType": "mime_type",
    "description": "description",
    "fullText": "name",
    "trashed": "trashed",
    "starred": "starred",
    "modifiedTime": "modified_ms",
    "createdTime": "created_ms",
    "viewedByMeTime": "viewed_by_me_ms",
    "modifiedByMeTime": "modified_by_me_ms",
}


@dataclass(slots=True)
class Query:
    """A compiled `q`: `match(rec)` plus the parent folders it is confined to (or None)."""

    match: Callable[[Any], bool]
    parent_hint: Optional[set[str]]


def compile_query(
    text: str | None, *, resolve_id: Callable[[str], str], email: str, client_id: str
) -> Query:
    """Compile `q` for one caller: `root` resolves to their root, appProperties to their client's."""
    if text is None or not text.strip():
        return Query(lambda rec: True, None)
    node = parse(text)

    def build(n: Node) -> Callable[[Any], bool]:
        tag = n[0]
        if tag in ("and", "or"):
            a, b = build(n[1]), build(n[2])
            return (lambda r: a(r) and b(r)) if tag == "and" else (lambda r: a(r) or b(r))
        if tag == "not":
            inner = build(n[1])
            return lambda r: not inner(r)
        if tag == "in":
            value, coll = n[1], n[2]
            if coll == "parents":
                pid = resolve_id(value)
                return lambda r: r.parent == pid
            me = value in ("me", email)
            return lambda r: me and r.owner == email
        if tag == "has":
            _, field, key, value = n
            if field == "properties":
                get = lambda r: r.properties  # noqa: E731
            else:
                get = lambda r: r.app_properties.get(client_id, {})  # noqa: E731
            if value is None:
                return lambda r: key in get(r)
            return lambda r: get(r).get(key) == value
        _, field, op, value = n
        attr = _ATTR[field]
        if field == "sharedWithMe":
            return lambda r: _COMPARE[op](False, value)
        if op == "contains":
            # Case-insensitive like `=` below (GAM's wiki, "Users Drive Query", measured against
            # Drive: "All matches are case-insensitive"). Google also matches `name contains`
            # by token prefix only ("HelloWorld" is not found by 'World'); not modelled here.
            needle = value.lower()
            return lambda r: needle in (getattr(r, attr) or "").lower()
        if field == "name" and op in ("=", "!="):
            # Always on, as on Drive: `name = '...'` ignores case (reference/drive-api-v3.md,
            # "Google's limits and rules"; witness: rclone's backend/drive/drive.go, `list`:
            # "Check the case of items is correct since the `=` operator is case insensitive",
            # and it drops every hit whose name differs). A client must re-check the exact name
            # of a hit; the emulator is no kinder than Drive, so one that doesn't fails its tests.
            folded, same = value.lower(), op == "="
            return lambda r: ((r.name or "").lower() == folded) is same
        cmp = _COMPARE[op]
        return lambda r: cmp(getattr(r, attr), value)

    def hint(n: Node) -> Optional[set[str]]:
        if n[0] == "in" and n[2] == "parents":
            return {resolve_id(n[1])}
        if n[0] == "and":
            return hint(n[1]) or hint(n[2])
        if n[0] == "or":
            a, b = hint(n[1]), hint(n[2])
            return a | b if a is not None and b is not None else None
        return None

    return Query(build(node), hint(node))
