"""Small immutable records: the subset of ``dataclasses`` ds01 uses, cheaper to define.

``dataclasses`` imports ``inspect`` and writes five or six methods per class through ``exec``;
defining the thirty-odd model classes on the CLI's start-up path cost about as much as starting
Python itself. ``record`` generates only ``__init__`` (so building instances stays as fast as a
dataclass's) and shares one implementation of ``__repr__``, ``__eq__``, ``__hash__`` and the
frozen ``__setattr__`` among all records.

Supported: ``@record`` / ``@record(frozen=False)``, defaults, ``field(default=...,
default_factory=..., repr=..., compare=...)``, inheritance between records, ``__post_init__``,
``replace``, ``fields``, ``asdict``, pickling.
"""

from __future__ import annotations

_MISSING = object()


class FrozenInstanceError(AttributeError):
    """Assigning to a field of a frozen record."""


class Field:
    __slots__ = ("name", "default", "default_factory", "repr", "compare")

    def __init__(self, default=_MISSING, default_factory=_MISSING, repr=True, compare=True):
        self.name = ""
        self.default = default
        self.default_factory = default_factory
        self.repr = repr
        self.compare = compare


def field(*, default=_MISSING, default_factory=_MISSING, repr=True, compare=True):  # noqa: A002
    return Field(default, default_factory, repr, compare)


def _own_fields(cls) -> list[Field]:
    out = []
    for name, kind in cls.__dict__.get("__annotations__", {}).items():
        if isinstance(kind, str) and kind.startswith(("ClassVar", "typing.ClassVar")):
            continue
        value = cls.__dict__.get(name, _MISSING)
        f = value if isinstance(value, Field) else Field(default=value)
        f.name = name
        if isinstance(value, Field):
            if f.default is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, f.default)
        out.append(f)
    return out


def _init_source(fields: tuple[Field, ...], post_init: bool) -> tuple[str, dict]:
    args, body, scope = [], [], {"_MISSING": _MISSING}
    for f in fields:
        if f.default_factory is not _MISSING:
            scope[f"_f_{f.name}"] = f.default_factory
            args.append(f"{f.name}=_MISSING")
            body.append(f" _d['{f.name}'] = _f_{f.name}() if {f.name} is _MISSING else {f.name}")
            continue
        if f.default is not _MISSING:
            scope[f"_v_{f.name}"] = f.default
            args.append(f"{f.name}=_v_{f.name}")
        else:
            args.append(f.name)
        body.append(f" _d['{f.name}'] = {f.name}")
    if post_init:
        body.append(" self.__post_init__()")
    text = f"def __init__(self, {', '.join(args)}):\n _d = self.__dict__\n" + "\n".join(body)
    return text + "\n", scope


def _values(self) -> tuple:
    d = self.__dict__
    return tuple(d[f.name] for f in self.__record_fields__ if f.compare)


def _repr(self) -> str:
    d = self.__dict__
    inner = ", ".join(f"{f.name}={d[f.name]!r}" for f in self.__record_fields__ if f.repr)
    return f"{type(self).__qualname__}({inner})"


def _eq(self, other):
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _values(self) == _values(other)


def _hash(self) -> int:
    return hash(_values(self))


def _frozen_setattr(self, name, value):
    raise FrozenInstanceError(f"cannot assign to field {name!r} of a frozen record")


def _frozen_delattr(self, name):
    raise FrozenInstanceError(f"cannot delete field {name!r} of a frozen record")


def _process(cls, frozen: bool):
    inherited: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        for f in getattr(base, "__record_fields__", ()):
            inherited[f.name] = f
    for f in _own_fields(cls):
        inherited[f.name] = f
    fields = tuple(inherited.values())
    cls.__record_fields__ = fields
    source, scope = _init_source(fields, hasattr(cls, "__post_init__"))
    exec(source, scope)  # noqa: S102 - generated from field names only
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init
    cls.__repr__ = _repr
    cls.__eq__ = _eq
    cls.__match_args__ = tuple(f.name for f in fields)
    if frozen:
        cls.__hash__ = _hash
        cls.__setattr__ = _frozen_setattr
        cls.__delattr__ = _frozen_delattr
    else:
        cls.__hash__ = None
    return cls


def record(cls=None, /, *, frozen: bool = True):
    """Class decorator: make ``cls`` a record (frozen unless ``frozen=False``)."""
    if cls is None:
        return lambda c: _process(c, frozen)
    return _process(cls, frozen)


def fields(obj) -> tuple[Field, ...]:
    return obj.__record_fields__


def replace(obj, **changes):
    """A copy of ``obj`` with some fields changed (runs ``__init__`` and ``__post_init__``)."""
    d = obj.__dict__
    values = {f.name: d[f.name] for f in obj.__record_fields__}
    unknown = set(changes) - set(values)
    if unknown:
        raise TypeError(f"{type(obj).__name__} has no field {sorted(unknown)[0]!r}")
    values.update(changes)
    return obj.__class__(**values)


def is_record(obj) -> bool:
    return hasattr(type(obj), "__record_fields__") or hasattr(obj, "__record_fields__")


def asdict(obj):
    """Recursively turn records (and lists, tuples, dicts of them) into plain values."""
    if is_record(obj) and not isinstance(obj, type):
        return {f.name: asdict(obj.__dict__[f.name]) for f in obj.__record_fields__}
    if isinstance(obj, (list, tuple)):
        return type(obj)(asdict(v) for v in obj)
    if isinstance(obj, dict):
        return {k: asdict(v) for k, v in obj.items()}
    return obj
