"""Strict TOML → frozen-dataclass loading shared by every configuration in colsim.

A configuration class is a ``@dataclass(frozen=True)`` whose fields carry type annotations
(``int``, ``float``, ``bool``, ``str``, nested dataclasses, ``tuple[str, ...]``) and, where a
value has a range, a validator in the field metadata (``field(metadata=positive())``).
:func:`from_mapping` builds one from a (partial) mapping on top of its defaults and raises
:class:`~colsim.errors.ConfigError` with the dotted key and the value for:

* a key the class does not declare,
* a value of the wrong type (``bool`` is never accepted as ``int``; ``int`` is accepted as
  ``float``),
* a value its validator rejects.

Classes may add cross-field checks in ``__post_init__`` by raising ``ConfigError``.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from colsim.errors import ConfigError

T = TypeVar("T")

Validator = Callable[[Any], str | None]
"""Returns ``None`` when the value is acceptable, else the reason ("must be ...")."""


def positive() -> dict[str, Validator]:
    """Field metadata: the value must be > 0."""
    return {"check": lambda v: None if v > 0 else "must be positive"}


def non_negative() -> dict[str, Validator]:
    """Field metadata: the value must be >= 0."""
    return {"check": lambda v: None if v >= 0 else "must be non-negative"}


def one_of(*choices: str) -> dict[str, Validator]:
    """Field metadata: the value must be one of ``choices``."""
    listed = ", ".join(repr(c) for c in choices)
    return {"check": lambda v: None if v in choices else f"must be one of {listed}"}


def in_range(low: float, high: float) -> dict[str, Validator]:
    """Field metadata: ``low <= value <= high``."""
    return {"check": lambda v: None if low <= v <= high else f"must be in [{low}, {high}]"}


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file; a missing or malformed file is a ``ConfigError`` naming the path."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {str(path)!r} is a directory, not a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"config file {str(path)!r} cannot be read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None


def from_mapping(cls: type[T], values: dict[str, Any] | None = None, *, prefix: str = "") -> T:
    """Build the frozen dataclass ``cls`` from ``values`` layered over its defaults.

    ``prefix`` is the dotted path of this table, used in error messages.
    """
    values = {} if values is None else values
    if not isinstance(values, dict):
        raise ConfigError(f"`{prefix or cls.__name__}` must be a table, not {values!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in values:
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"unknown key `{_join(prefix, key)}` (known keys: {known})")
    kwargs = {}
    for name, fld in fields.items():
        if name not in values:
            if fld.default is dataclasses.MISSING and fld.default_factory is dataclasses.MISSING:
                # Nested tables with all-default members may be omitted.
                if dataclasses.is_dataclass(hints[name]):
                    kwargs[name] = from_mapping(hints[name], {}, prefix=_join(prefix, name))
                    continue
                raise ConfigError(f"missing key `{_join(prefix, name)}`")
            continue
        kwargs[name] = _convert(hints[name], values[name], _join(prefix, name), fld)
    return cls(**kwargs)


def with_overrides(config: T, values: dict[str, Any], *, prefix: str = "") -> T:
    """Return a copy of ``config`` with the (possibly nested) ``values`` applied and validated."""
    merged = _merge(dataclasses.asdict(config), values)  # type: ignore[call-overload]
    return from_mapping(type(config), merged, prefix=prefix)


def to_mapping(config: Any) -> dict[str, Any]:
    """Return the configuration as plain nested dicts (for recording in result files)."""
    return _plain(dataclasses.asdict(config))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _convert(hint: Any, value: Any, key: str, fld: dataclasses.Field) -> Any:
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"`{key}` must be a table, not {value!r}")
        # A partial table is layered over the field's own default, not the class defaults.
        default = _field_default(fld)
        if default is not None:
            value = _merge(dataclasses.asdict(default), value)
        return from_mapping(hint, value, prefix=key)
    origin = typing.get_origin(hint)
    if origin is tuple:
        (item_type, _ellipsis) = typing.get_args(hint)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"`{key}` must be a list, not {value!r}")
        items = tuple(_check_scalar(item_type, v, f"{key}[{i}]") for i, v in enumerate(value))
        converted: Any = items
    else:
        converted = _check_scalar(hint, value, key)
    check = fld.metadata.get("check")
    if check is not None:
        reason = check(converted)
        if reason is not None:
            raise ConfigError(f"`{key}` {reason}, not {value!r}")
    return converted


def _field_default(fld: dataclasses.Field) -> Any:
    if fld.default_factory is not dataclasses.MISSING:
        return fld.default_factory()
    if fld.default is not dataclasses.MISSING:
        return fld.default
    return None


def _check_scalar(hint: Any, value: Any, key: str) -> Any:
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
        if ok and not math.isfinite(value):
            raise ConfigError(f"`{key}` must be a finite number, not {value!r}")
    elif hint is str:
        ok = isinstance(value, str)
    else:
        raise TypeError(f"unsupported config field type {hint!r} for `{key}`")
    if not ok:
        raise ConfigError(f"`{key}` must be of type {hint.__name__}, not {value!r}")
    return value
