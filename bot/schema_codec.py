"""Bot Framework schema models to and from JSON exactly as msrest does it, planned once per class.

msrest serialises a model by walking its attribute map through several layers of generic code
for every value, every time: a dlbot turn spent a sixth of its CPU serialising its one reply, and
a tenth reading the activity it answered (bench/RESULTS.md). The schema never changes while the
process runs, so here each class's attribute map becomes, once, a plan of (attribute, JSON key,
converter), and the plain values an activity holds are converted directly.

Exactness is the contract. For every input it accepts, the result equals msrest's own:
`encode_body(model, "Activity")` equals `Serializer(models).body(model, "Activity")`, and
`encode(model)` equals `model.serialize()`, and `decode(Activity, json)` equals
`Activity.deserialize(json)`. `tests/bot/test_schema_codec.py`
compares them over every activity shape dlbot sends and receives and over generated ones. What
it does not know exactly, it refuses instead of guessing, and the caller uses msrest:
  - a value of another type than its attribute declares (a number where a string belongs, a dict
    where a model belongs, a tuple for a list): msrest converts or fails there, in ways of its own;
  - a class with flattened ("a.b") or escaped keys, two attributes on one key (when writing),
    additional properties, read-only or constant attributes, subtypes, or an XML map;
  - a declared type this module has no converter for (dates, durations, bytes, enums by name).
Both functions return None for those; they never return a result msrest would not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

from botbuilder.schema import Activity
from msrest.serialization import Deserializer, Model, Serializer

Converter = Callable[[Any], Any]


class _NotPlain(Exception):
    """The input is outside what this module converts exactly: msrest must do it."""


def _refuse(_: Any) -> Any:
    raise _NotPlain


class SchemaCodec:
    """Plans for the model classes of one msrest namespace (`models`: type name → class, as a
    Serializer's or Deserializer's `dependencies`), made on first use and kept."""

    def __init__(self, models: Mapping[str, type]) -> None:
        self._models = dict(models)
        # class → (size of its attribute map when planned, plan); None: not plannable.
        self._encode_plans: dict[type, tuple[int, tuple[tuple[str, str, Converter], ...]] | None]
        self._encode_plans = {}
        self._decode_plans: dict[
            type, tuple[int, tuple[tuple[str, str, Converter], ...], frozenset[str]] | None
        ] = {}

    # Model → JSON --------------------------------------------------------------------------------

    def encode_body(self, model: Any, data_type: str) -> dict[str, Any] | None:
        """What msrest's `Serializer.body(model, data_type)` returns (client-side validation off),
        or None when msrest must do it."""
        declared = self._models.get(data_type)
        if not (isinstance(declared, type) and issubclass(declared, Model)):
            return None
        if not isinstance(model, Model):
            return None  # a dict: msrest builds the model from it first
        try:
            return self._encode_model(model)
        except Exception:  # noqa: BLE001 - whatever this fails on, msrest decides
            return None

    def encode(self, model: Any) -> dict[str, Any] | None:
        """What msrest's `model.serialize()` returns, or None when msrest must do it."""
        if not isinstance(model, Model):
            return None
        try:
            return self._encode_model(model)
        except Exception:  # noqa: BLE001 - whatever this fails on, msrest decides
            return None

    def _encode_model(self, model: Any) -> dict[str, Any]:
        if not isinstance(model, Model):
            raise _NotPlain
        plan = self._encode_plan(type(model))
        encoded: dict[str, Any] = {}
        for attribute, key, convert in plan:
            value = getattr(model, attribute, _NotPlain)
            if value is None:
                continue  # msrest leaves out what is None
            if value is _NotPlain:
                raise _NotPlain  # msrest fails on a missing attribute
            encoded[key] = convert(value)
        return encoded

    def _encode_plan(self, cls: type) -> tuple[tuple[str, str, Converter], ...]:
        attribute_map = getattr(cls, "_attribute_map", None)
        if not isinstance(attribute_map, dict):
            raise _NotPlain
        cached = self._encode_plans.get(cls, _MISSING)
        # A class can gain attributes at run time (msrest's enable_additional_properties_sending).
        if cached is _MISSING or (cached is not None and cached[0] != len(attribute_map)):
            cached = self._encode_plans[cls] = self._plan_encoding(cls, attribute_map)
        if cached is None:
            raise _NotPlain
        plan: tuple[tuple[str, str, Converter], ...] = cached[1]
        return plan

    def _plan_encoding(
        self, cls: type, attribute_map: dict[str, Any]
    ) -> tuple[int, tuple[tuple[str, str, Converter], ...]] | None:
        if not _plannable(cls, attribute_map):
            return None
        if len({desc["key"] for desc in attribute_map.values()}) < len(attribute_map):
            return None  # two attributes on one key: msrest writes the first, left to it
        plan = tuple(
            (attribute, desc["key"], self._encoder(desc["type"]))
            for attribute, desc in attribute_map.items()
        )
        return len(attribute_map), plan

    def _encoder(self, type_name: str) -> Converter:
        # The order of msrest's Serializer.serialize_data: basic types, its own named types,
        # enums among the models, lists and dicts, and anything else as a model.
        if type_name == "str":
            return _encode_str
        if type_name in ("bool", "int"):
            return _exactly(bool if type_name == "bool" else int)
        if type_name == "float":
            return _float
        if type_name == "object":
            return self._encode_object
        if type_name == "iso-8601":
            return _encode_iso
        if type_name in _OTHER_NAMED_TYPES:
            return _refuse
        declared = self._models.get(type_name)
        if isinstance(declared, type) and issubclass(declared, Enum):
            return _refuse
        if type_name[:1] + type_name[-1:] == "[]":
            return _list_of(self._encoder(type_name[1:-1]))
        if type_name[:1] + type_name[-1:] == "{}":
            return _dict_of(self._encoder(type_name[1:-1]))
        return self._encode_model

    def _encode_object(self, value: Any) -> Any:
        # msrest's serialize_object on JSON-shaped data and models; anything else it turns
        # into a string or a date format of its own, so that is left to it.
        kind = type(value)
        if value is None or kind is str or kind is int or kind is bool or kind is float:
            return value
        if kind is dict:
            return {
                key if type(key) is str else _refuse(key): self._encode_object(element)
                for key, element in value.items()
            }
        if kind is list:
            return [self._encode_object(element) for element in value]
        if isinstance(value, Model):
            return self._encode_model(value)
        raise _NotPlain

    # JSON → model --------------------------------------------------------------------------------

    def decode(self, cls: type, data: Any) -> Any | None:
        """What msrest's `cls.deserialize(data)` returns for parsed JSON `data`, or None when
        msrest must do it (and may refuse it)."""
        try:
            return self._decode_model(cls, data)
        except Exception:  # noqa: BLE001 - whatever this fails on, msrest decides
            return None

    def _decode_model(self, cls: type, data: Any) -> Any:
        if type(data) is not dict:
            raise _NotPlain
        plan, known_keys = self._decode_plan(cls)
        values: dict[str, Any] = {}
        get = data.get
        for attribute, key, convert in plan:
            raw = get(key)
            values[attribute] = None if raw is None else convert(raw)
        model = cls(**values)
        unknown = data.keys() - known_keys
        if unknown:  # msrest keeps what the schema does not name
            model.additional_properties = {key: data[key] for key in unknown}
        return model

    def _decode_plan(
        self, cls: type
    ) -> tuple[tuple[tuple[str, str, Converter], ...], frozenset[str]]:
        attribute_map = getattr(cls, "_attribute_map", None)
        if not isinstance(attribute_map, dict):
            raise _NotPlain
        cached = self._decode_plans.get(cls, _MISSING)
        if cached is _MISSING or (cached is not None and cached[0] != len(attribute_map)):
            cached = self._decode_plans[cls] = self._plan_decoding(cls, attribute_map)
        if cached is None:
            raise _NotPlain
        return cached[1], cached[2]

    def _plan_decoding(
        self, cls: type, attribute_map: dict[str, Any]
    ) -> tuple[int, tuple[tuple[str, str, Converter], ...], frozenset[str]] | None:
        if not _plannable(cls, attribute_map) or getattr(cls, "_subtype_map", None):
            return None
        plan = tuple(
            (attribute, desc["key"], self._decoder(desc["type"]))
            for attribute, desc in attribute_map.items()
        )
        return len(attribute_map), plan, frozenset(desc["key"] for desc in attribute_map.values())

    def _decoder(self, type_name: str) -> Converter:
        # The order of msrest's Deserializer.deserialize_data.
        if type_name in ("str", "bool", "int"):
            return _exactly({"str": str, "bool": bool, "int": int}[type_name])
        if type_name == "float":
            return _float
        if type_name == "object":
            return _copy_json
        if type_name == "iso-8601":
            return _decode_iso
        if type_name in _OTHER_NAMED_TYPES:
            return _refuse
        if type_name[:1] + type_name[-1:] == "[]":
            return _list_of(self._decoder(type_name[1:-1]))
        if type_name[:1] + type_name[-1:] == "{}":
            return _dict_of(self._decoder(type_name[1:-1]))
        declared = self._models.get(type_name)
        if not (isinstance(declared, type) and issubclass(declared, Model)):
            return _refuse  # msrest fails on a type it has no class for, and reads enums its way
        return lambda value: self._decode_model(declared, value)


_MISSING: Any = object()


# The Bot Framework schema's models, as msrest's Activity.deserialize and Model.serialize
# resolve type names (the module botbuilder.schema), planned once per process.
SCHEMA = SchemaCodec(Activity._infer_class_models())

# msrest's other named types (Serializer.serialize_type, Deserializer.deserialize_type): each
# has a format of its own, left to msrest.
_OTHER_NAMED_TYPES = frozenset(
    {
        "rfc-1123",
        "unix-time",
        "duration",
        "date",
        "time",
        "decimal",
        "long",
        "bytearray",
        "base64",
    }
)


def _plannable(cls: type, attribute_map: dict[str, Any]) -> bool:
    """Whether msrest walks `cls` plainly: JSON keys that are not paths, no attribute it treats
    apart (additional properties, read-only, constant), no XML."""
    if getattr(cls, "_xml_map", None) is not None:
        return False
    if any(getattr(cls, "_validation", None) or {}):
        return False
    for attribute, desc in attribute_map.items():
        key = desc.get("key")
        if attribute == "additional_properties" or not isinstance(key, str) or not key:
            return False
        if "." in key or "\\" in key or not isinstance(desc.get("type"), str):
            return False
    return True


def _encode_str(value: Any) -> Any:
    if type(value) is str:
        return value
    # msrest sends an enum's value (ActivityTypes.message as "message").
    if isinstance(value, Enum) and type(value.value) is str:
        return value.value
    raise _NotPlain


# msrest's own functions for dates (serialize_iso also reads strings; a failure goes back to
# msrest whole).
_encode_iso: Converter = Serializer.serialize_iso
_deserialize_iso: Converter = Deserializer.deserialize_iso


def _float(value: Any) -> Any:
    # msrest's float(value), both ways, for the numbers JSON has.
    kind = type(value)
    if kind is float:
        return value
    if kind is int:
        return float(value)
    raise _NotPlain


def _exactly(kind: type) -> Converter:
    # msrest's str(), bool() or int() leave a value of exactly that type as it is.
    return lambda value: value if type(value) is kind else _refuse(value)


def _list_of(item: Converter) -> Converter:
    # msrest's serialize_iter / deserialize_iter on a list: None items stay None.
    return lambda value: (
        [None if element is None else item(element) for element in value]
        if type(value) is list
        else _refuse(value)
    )


def _dict_of(member: Converter) -> Converter:
    # msrest's serialize_dict / deserialize_dict on a dict with text keys: None values stay None.
    return lambda value: (
        {
            key if type(key) is str else _refuse(key): None if element is None else member(element)
            for key, element in value.items()
        }
        if type(value) is dict
        else _refuse(value)
    )


def _decode_iso(value: Any) -> Any:
    if type(value) is not str:
        raise _NotPlain
    return _deserialize_iso(value)


def _copy_json(value: Any) -> Any:
    # msrest's deserialize_object gives a copy of JSON data: new dicts and lists, the same
    # strings and numbers.
    kind = type(value)
    if kind is str or kind is int or kind is bool or kind is float or value is None:
        return value
    if kind is dict:
        return {
            key if type(key) is str else _refuse(key): _copy_json(element)
            for key, element in value.items()
        }
    if kind is list:
        return [_copy_json(element) for element in value]
    raise _NotPlain
