"""Small immutable records: the subset of ``dataclasses`` ds01 uses, cheaper to define.

``dataclasses`` imports ``inspect`` and writes five or six methods per class through ``exec``;
defining the thirty-odd model classes on the CLI's start-up path cost about as much as starting
Python itself. ``record`` generates only ``__init__`` (so building instances stays as fast as a
dataclass's), and only once a class has built a few instances; it shares one implementation of
``__repr__``, ``__eq__``, ``__hash__`` and the frozen ``__setattr__`` among all records.

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


def _compile_init(cls):
    """Generate ``cls.__init__`` from its fields and install it on ``cls``."""
    source, scope = _init_source(cls.__record_fields__, hasattr(cls, "__post_init__"))
    exec(source, scope)  # noqa: S102 - generated from field names only
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init
    return init


# A record class's first instances are built by a generic ``__init__``; the generated one is
# compiled when the class has built this many (or when a call is not plain: see below).
_COMPILE_AFTER = 16


def _first_init(cls):
    """A stand-in ``__init__``: generic for the first instances, then the compiled one.

    Compiling an ``__init__`` costs about a hundred microseconds, several times what defining
    the class costs; a CLI run builds one or a few instances of a dozen record classes (a
    cached configuration is rebuilt without ``__init__`` at all), so compiling them all cost
    more than the decision (about 1.7 ms of a 35 ms ``ds01 gpu allocate``). Classes that build
    many instances get the compiled ``__init__``, which is several times faster per instance.
    Any call that is not plain (unknown, repeated or missing arguments) goes to the compiled one
    too, which raises Python's own TypeError.
    """
    plan = tuple((f.name, f.default, f.default_factory) for f in cls.__record_fields__)
    index = {name: i for i, (name, _, _) in enumerate(plan)}
    post_init = hasattr(cls, "__post_init__")
    built = [0]

    def __init__(self, *args, **kwargs):
        built[0] += 1
        given = len(args)
        if built[0] > _COMPILE_AFTER or given > len(plan) or (
                kwargs and not all(index.get(k, -1) >= given for k in kwargs)):
            return _compile_init(cls)(self, *args, **kwargs)
        values = []
        for i, (name, default, factory) in enumerate(plan):
            if i < given:
                values.append(args[i])
            elif name in kwargs:
                values.append(kwargs[name])
            elif default is not _MISSING:
                values.append(default)
            elif factory is not _MISSING:
                values.append(factory())
            else:
                return _compile_init(cls)(self, *args, **kwargs)  # a missing argument
        self.__dict__.update(zip(index, values))
        if post_init:
            self.__post_init__()

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__


def _check_order(cls, fields: tuple[Field, ...]) -> None:
    """Fields without a default come first (the generated ``__init__`` needs it)."""
    seen_default = False
    for f in fields:
        if f.default is not _MISSING or f.default_factory is not _MISSING:
            seen_default = True
        elif seen_default:
            raise TypeError(f"{cls.__qualname__}: field {f.name!r} without a default follows "
                            "a field with one")


def _process(cls, frozen: bool):
    inherited: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        for f in getattr(base, "__record_fields__", ()):
            inherited[f.name] = f
    for f in _own_fields(cls):
        inherited[f.name] = f
    fields = tuple(inherited.values())
    _check_order(cls, fields)
    cls.__record_fields__ = fields
    cls.__init__ = _first_init(cls)
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
