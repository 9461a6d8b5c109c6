"""``Value``: the base of small immutable records on every command's path.

A frozen dataclass would do, but ``import dataclasses`` loads ``inspect`` (and with it ``ast``,
``dis``, ``tokenize``) and every ``@dataclass`` compiles its methods when its module loads:
~10 ms of each ``lamina`` command's start, a quarter of docker's whole ``docker tag``. The
records every command touches (digests, references, layer and tag records, the data-root
paths, image configs) are these plain slotted classes instead; each writes its ``__init__``, and
this base gives what ``@dataclass(frozen=True)`` gave: immutability, equality and hashing over
the fields (``_compare`` narrows them), ordering where a subclass asks for it, a readable repr.
"""

__all__ = ["Value"]


class Value:
    __slots__ = ()
    #: the fields equality, hashing and ordering look at (default: all of ``__slots__``)
    _compare: tuple[str, ...] | None = None

    def _init(self, **fields) -> None:
        """Set the fields (``__init__`` of a subclass calls this once)."""
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of a frozen {type(self).__name__}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of a frozen {type(self).__name__}")

    def _key(self) -> tuple:
        return tuple(getattr(self, name) for name in (self._compare or self.__slots__))

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def replace(self, **changes):
        """A copy with some fields changed (``dataclasses.replace``)."""
        fields = {name: getattr(self, name) for name in self.__slots__}
        fields.update(changes)
        clone = object.__new__(type(self))
        clone._init(**fields)
        return clone

    def __reduce__(self):
        return (_rebuild, (type(self), {name: getattr(self, name) for name in self.__slots__}))


def _rebuild(cls, fields):
    obj = object.__new__(cls)
    obj._init(**fields)
    return obj
