"""Parameter binding: cmdlet parameters as PowerShell binds them, with its error texts.

A CmdletSpec declares a cmdlet's parameters (kind, mandatory, enum choices, exclusive sets);
bind() turns the JSON Parameters of an InvokeCommand body into a Bound of canonical names and
converted values, or fails with the ParameterBindingException text PowerShell would give.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from exchange.sandbox.cmdlet_errors import binding_error
from exchange.sandbox.cmdlet_outcome import CmdletResult
from exchange.sandbox.tenant import Tenant

DEFAULT_RESULT_SIZE: Final = 1000


ParamKind = Literal["string", "switch", "bool", "strings", "result_size", "enum", "enums"]
# PowerShell's common parameters are valid on every cmdlet; they change nothing here.
COMMON_PARAMETERS: Final = frozenset(
    p.lower()
    for p in (
        "ErrorAction", "WarningAction", "InformationAction", "ProgressAction", "Verbose", "Debug",
        "ErrorVariable", "WarningVariable", "InformationVariable", "OutVariable", "OutBuffer",
        "PipelineVariable",
    )
)  # fmt: skip


@dataclass(frozen=True)
class Param:
    kind: ParamKind
    mandatory: bool = False
    allow_empty: bool = False
    enum_type: str = ""
    choices: tuple[str, ...] = ()


@dataclass
class Bound:
    """Parameters after binding: canonical names, values already of the declared kind."""

    values: dict[str, object] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.values

    def string(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if isinstance(value, str) else None

    def required(self, name: str) -> str:
        value = self.values[name]  # mandatory parameters are checked while binding
        assert isinstance(value, str)
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.values.get(name, default)
        return value if isinstance(value, bool) else default

    def strings(self, name: str) -> list[str] | None:
        value = self.values.get(name)
        return [str(v) for v in value] if isinstance(value, list) else None

    def result_size(self) -> int | None:
        """None means Unlimited."""
        value = self.values.get("ResultSize", DEFAULT_RESULT_SIZE)
        return value if isinstance(value, int) else None


def _type_name(value: object) -> str:
    if isinstance(value, list):
        return "System.Object[]"
    if isinstance(value, dict):
        return "System.Collections.Hashtable"
    if isinstance(value, bool):
        return "System.Boolean"
    if isinstance(value, int):
        return "System.Int32"
    return "System.String"


def _to_string(name: str, value: object, param: Param) -> str:
    if value is None:
        raise binding_error(f"Cannot bind argument to parameter '{name}' because it is null.")
    if isinstance(value, bool):
        text = "True" if value else "False"  # PowerShell's conversion of a Boolean
    elif isinstance(value, int | float | str):
        text = str(value)
    else:
        raise binding_error(
            f"Cannot convert '{_type_name(value)}' to the type 'System.String' required by "
            f"parameter '{name}'. Specified method is not supported."
        )
    if not text and not param.allow_empty:
        raise binding_error(
            f"Cannot bind argument to parameter '{name}' because it is an empty string."
        )
    return text


def _to_enum(name: str, value: object, param: Param) -> str:
    text = _to_string(name, value, param)
    for choice in param.choices:
        if choice.lower() == text.strip().lower():
            return choice
    raise binding_error(
        f"Cannot bind parameter '{name}'. Cannot convert value \"{text}\" to type "
        f'"{param.enum_type}". Error: "Unable to match the identifier name {text} to a valid '
        f"enumerator name. Specify one of the following enumerator names and try again: "
        f'{", ".join(param.choices)}"'
    )


def _convert(name: str, value: object, param: Param) -> object:
    kind = param.kind
    if kind in ("switch", "bool"):
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise binding_error(
            f"Cannot process argument transformation on parameter '{name}'. Cannot convert value "
            f'"{_type_name(value)}" to type "System.Management.Automation.SwitchParameter". '
            "Boolean parameters accept only Boolean values and numbers, such as $True, $False, "
            "1 or 0."
        )
    if kind == "string":
        if isinstance(value, list):
            raise binding_error(
                f"Cannot convert '{_type_name(value)}' to the type 'System.String' required by "
                f"parameter '{name}'. Specified method is not supported."
            )
        return _to_string(name, value, param)
    if kind == "enum":
        return _to_enum(name, value, param)
    if kind in ("strings", "enums"):
        items = value if isinstance(value, list) else [value]
        if kind == "enums":
            return [_to_enum(name, item, param) for item in items]
        return [_to_string(name, item, param) for item in items]
    return _to_result_size(name, value)


def _to_result_size(name: str, value: object) -> int | None:
    if isinstance(value, str) and value.strip().lower() == "unlimited":
        return None
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if number is None:
        raise binding_error(
            f"Cannot bind parameter '{name}'. Cannot convert value \"{value}\" to type "
            '"Microsoft.Exchange.Data.Unlimited`1[System.UInt32]". Error: "Input string was not '
            'in a correct format."'
        )
    if number < 1:
        raise binding_error(
            f"Cannot validate argument on parameter '{name}'. The {number} argument is less than "
            "the minimum allowed range of 1. Supply an argument that is greater than or equal "
            "to 1 and then try the command again."
        )
    return number


@dataclass(frozen=True)
class CmdletSpec:
    name: str
    params: dict[str, Param]
    handler: Callable[[Tenant, Bound], CmdletResult]
    # Names that belong to different parameter sets and so cannot be combined.
    exclusive: tuple[str, ...] = ()


def bind(spec: CmdletSpec, parameters: dict[str, Any]) -> Bound:
    by_lower = {p.lower(): p for p in spec.params}
    bound = Bound()
    for raw_name, value in parameters.items():
        if "@" in raw_name:
            continue  # "Members@odata.type" and the like are annotations, not parameters
        if raw_name.lower() in COMMON_PARAMETERS:
            continue
        name = by_lower.get(raw_name.lower())
        if name is None:
            raise binding_error(
                f"A parameter cannot be found that matches parameter name '{raw_name}'."
            )
        bound.values[name] = _convert(name, value, spec.params[name])
    missing = [n for n, p in spec.params.items() if p.mandatory and n not in bound.values]
    if missing:
        raise binding_error(
            "Cannot process command because of one or more missing mandatory parameters: "
            f"{' '.join(missing)}."
        )
    if sum(1 for n in spec.exclusive if n in bound.values) > 1:
        raise binding_error(
            "Parameter set cannot be resolved using the specified named parameters. One or more "
            "parameters issued cannot be used together or an insufficient number of parameters "
            "were provided."
        )
    return bound
