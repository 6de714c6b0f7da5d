"""Bot state as JSON with type tags: what jsonpickle stores, for a fraction of its CPU.

botbuilder keeps Python objects in a turn's state (DialogState, DialogInstance, PromptOptions,
the prompt's Activity and Choices, ListStyle), so plain JSON cannot round-trip it; the SDK's
storages use jsonpickle, whose pure-Python walk costs more than a millisecond per dialog turn.
This codec walks the same values with a few type checks and leaves the text to the C `json`:

- str, int, float, bool, None, lists, and dicts with str keys are themselves;
- anything else is a dict tagged with the key `_TAG`: a dict with other keys (or one holding
  `_TAG` itself) as its pairs, a tuple, an Enum member by value, and a plain object of the Bot
  Framework SDK or of dlbot (`_PACKAGES`) as its class and its attributes, restored without
  running its constructor, as jsonpickle restores it;
- anything else (a datetime, a pydantic model, a class of a test, a cycle) raises Unsupported,
  and the caller stores the value with jsonpickle instead.

Decoding imports only modules of `_PACKAGES`, and makes only Enums and plain objects of them
(no constructor, no __setstate__ runs), so a document can never make the bot execute code.

Like JSON, it keeps values, not identity: a dict reachable by two paths (the join dialog's
requester is in its options and its values) comes back as two equal dicts. The dialogs only
read such values, and the SDK's own JSON storages (Cosmos DB, blob) store state the same way.
"""

from __future__ import annotations

import importlib
import json
from enum import Enum
from typing import Any

_TAG = "~dlbot"
# The SDK's, and ours (an Enum such as skills.ports.ListKind sits in what the preview keeps).
_PACKAGES = ("botbuilder.", "botframework.", "skills.", "approvals.", "bot.")
_MAX_DEPTH = 64  # deeper than any dialog state; also how a cycle is caught
_PLAIN = (str, int, float, bool, type(None))


class Unsupported(Exception):
    """The value holds something this codec does not store (jsonpickle has to)."""


def encode(value: Any) -> str:
    """`value` as JSON text, or Unsupported."""
    return json.dumps(_encode(value, 0), separators=(",", ":"))


def decode(text: str) -> Any:
    return json.loads(text, object_hook=_decode)


def _class_path(cls: type) -> str:
    module = cls.__module__
    if not module.startswith(_PACKAGES):
        raise Unsupported(f"{module}.{cls.__qualname__} is outside the packages the codec stores")
    return f"{module}:{cls.__qualname__}"


def _encode(value: Any, depth: int) -> Any:
    kind = type(value)
    if kind in _PLAIN:
        return value
    if depth > _MAX_DEPTH:
        raise Unsupported("nested too deep (or a cycle)")
    depth += 1
    if kind is dict:
        if _TAG not in value and all(type(key) is str for key in value):
            return {key: _encode(item, depth) for key, item in value.items()}
        pairs = [[_encode(key, depth), _encode(item, depth)] for key, item in value.items()]
        return {_TAG: "dict", "pairs": pairs}
    if kind is list:
        return [_encode(item, depth) for item in value]
    if kind is tuple:
        return {_TAG: "tuple", "items": [_encode(item, depth) for item in value]}
    if isinstance(value, Enum):
        return {_TAG: "enum", "class": _class_path(kind), "value": _encode(value.value, depth)}
    if isinstance(value, (dict, list, tuple, set, frozenset, str, bytes, int, float)):
        # A subclass of a builtin keeps data outside its __dict__.
        raise Unsupported(f"{kind.__qualname__} is a subclass of a builtin")
    attributes = getattr(value, "__dict__", None)
    if type(attributes) is not dict or _custom_state(kind):
        raise Unsupported(f"{kind.__qualname__} is not a plain object")
    path = _class_path(kind)
    encoded = _encode(attributes, depth - 1)
    if _TAG in encoded:  # the tagged form: an attribute named like the tag, or not by a str
        raise Unsupported("an attribute is named like the codec's tag")
    return {_TAG: "object", "class": path, "attributes": encoded}


def _custom_state(cls: type) -> bool:
    """Whether the class decides its own pickled state (then only jsonpickle honours it)."""
    plain: Any = object
    kind: Any = cls
    return (
        getattr(cls, "__getstate__", plain.__getstate__) is not plain.__getstate__
        or hasattr(cls, "__setstate__")
        or kind.__reduce_ex__ is not plain.__reduce_ex__
        or kind.__reduce__ is not plain.__reduce__
        or hasattr(cls, "__slots__")
    )


_classes: dict[str, type] = {}


def _class(path: str) -> type:
    cls = _classes.get(path)
    if cls is not None:
        return cls
    module_name, _, qualname = path.partition(":")
    if not module_name.startswith(_PACKAGES) or not qualname:
        raise ValueError(f"stored state names a class outside the codec's packages: {path!r}")
    found: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        found = getattr(found, part)
    if not isinstance(found, type):
        raise ValueError(f"stored state names something that is not a class: {path!r}")
    _classes[path] = found
    return found


def _decode(node: dict[str, Any]) -> Any:
    tag = node.get(_TAG)
    if tag is None:
        return node
    if tag == "dict":
        return {_hashable(key): item for key, item in node["pairs"]}
    if tag == "tuple":
        return tuple(node["items"])
    cls = _class(node["class"])
    if tag == "enum" and issubclass(cls, Enum):
        return cls(node["value"])
    if tag == "object" and not issubclass(cls, Enum) and not _custom_state(cls):
        instance = cls.__new__(cls)
        instance.__dict__.update(node["attributes"])
        return instance
    raise ValueError(f"stored state has a {tag!r} of {node['class']!r} it cannot restore")


def _hashable(key: Any) -> Any:
    # A tuple key holding a list cannot come from an encoded dict; refuse it plainly.
    hash(key)
    return key
