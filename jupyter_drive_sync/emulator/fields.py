"""`fields` partial responses: parse a selection, check it against Drive's schema, apply it.

Grammar (Google's): `a,b`, `a/b`, `a(b,c)`, `*`, nestable, spaces allowed. A selection is a
tree: {name: subtree or None (the whole value)}. Unknown names are a 400, as on Google, so a
client typo fails here the way it would fail against the real service.
"""

from __future__ import annotations

from typing import Any, Optional

from . import discovery
from .wire import DriveError

Tree = Optional[dict[str, "Tree"]]  # None = the whole value

# What Google returns when no `fields` parameter is given, per response schema.
DEFAULTS: dict[str, str] = {
    "File": "kind,id,name,mimeType",
    "FileList": "kind,incompleteSearch,nextPageToken,files(kind,id,name,mimeType)",
    "ChangeList": "kind,nextPageToken,newStartPageToken,"
    "changes(kind,changeType,time,removed,fileId,file(kind,id,name,mimeType))",
    "Revision": "kind,id,mimeType,modifiedTime",
    "RevisionList": "kind,nextPageToken,revisions(kind,id,mimeType,modifiedTime)",
    "StartPageToken": "*",
    "GeneratedIds": "*",
    "About": "*",
}


def _invalid(name: str) -> DriveError:
    return DriveError(
        400, "invalidParameter", f"Invalid field selection {name}", location="fields", location_type="parameter"
    )


def _merge(into: dict[str, Tree], name: str, sub: Tree) -> None:
    if name not in into:
        into[name] = sub
        return
    old = into[name]
    if old is None or sub is None:
        into[name] = None
    else:
        for k, v in sub.items():
            _merge(old, k, v)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def _skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _peek(self) -> str:
        self._skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _name(self) -> str:
        self._skip()
        start = self.pos
        while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] in "_*-."):
            self.pos += 1
        name = self.text[start : self.pos]
        if not name:
            raise _invalid(self.text[start:] or self.text)
        return name

    def selection(self) -> dict[str, Tree]:
        out: dict[str, Tree] = {}
        while True:
            names = [self._name()]
            while self._peek() == "/":
                self.pos += 1
                names.append(self._name())
            sub: Tree = None
            if self._peek() == "(":
                self.pos += 1
                sub = self.selection()
                if self._peek() != ")":
                    raise _invalid(self.text)
                self.pos += 1
            for name in reversed(names[1:]):
                sub = {name: sub}
            _merge(out, names[0], sub)
            if self._peek() == ",":
                self.pos += 1
                continue
            return out


def parse(text: str) -> dict[str, Tree]:
    """Parse a `fields` value; raises DriveError 400 on bad syntax."""
    parser = _Parser(text)
    tree = parser.selection()
    if parser._peek():
        raise _invalid(text)
    return tree


def _validate(tree: dict[str, Tree], schema: dict[str, Any] | None) -> None:
    """Check names against a schema node; None schema = a free-form map (anything goes)."""
    if schema is None:
        return
    schemas = discovery.schemas()
    props = schema.get("properties", {})
    for name, sub in tree.items():
        if name == "*":
            continue
        if name not in props:
            raise _invalid(name)
        if sub is None:
            continue
        _validate(sub, _resolve(props[name], schemas, name))


def _resolve(prop: dict[str, Any], schemas: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The schema a sub-selection applies to: a $ref, an array's items, or a map (None)."""
    if "$ref" in prop:
        return schemas[prop["$ref"]]
    if prop.get("type") == "array":
        return _resolve(prop.get("items", {}), schemas, name)
    if prop.get("type") == "object":
        if "properties" in prop:
            return prop
        return None  # map<string, ...>: any key may be selected
    raise _invalid(name)  # a scalar has no sub-fields


def selection(fields: str | None, schema_name: str) -> dict[str, Tree] | None:
    """The validated tree for `fields` (or the schema's default); None means everything."""
    text = fields if fields not in (None, "") else DEFAULTS.get(schema_name, "*")
    tree = parse(text)
    _validate(tree, discovery.schemas()[schema_name])
    if set(tree) == {"*"} and tree["*"] is None:
        return None
    return tree


def apply(value: Any, tree: Tree) -> Any:
    """Keep only the selected parts of a JSON value (dicts filtered, lists mapped)."""
    if tree is None:
        return value
    if isinstance(value, list):
        return [apply(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    if "*" in tree:
        star = tree["*"]
        out = {k: apply(v, star) for k, v in value.items()}
        for k, sub in tree.items():
            if k != "*" and k in value:
                out[k] = apply(value[k], sub) if star is not None else value[k]
        return out
    return {k: apply(value[k], sub) for k, sub in tree.items() if k in value}


def partial(resource: dict[str, Any], fields: str | None, schema_name: str) -> dict[str, Any]:
    """Shortcut: validate `fields` for `schema_name` and apply it to `resource`."""
    return apply(resource, selection(fields, schema_name))
