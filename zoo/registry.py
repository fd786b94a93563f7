"""One ``Registry`` for every name -> entry table: models, training methods, attacks, corruptions, perturbations and
eval suites. A flag value maps to one entry; an unknown one is a one-line ``ZooError`` listing what exists.

    ATTACKS = Registry("attack")
    ATTACKS.register("pgd", spec)            # returns spec; ValueError if "pgd" is taken
    @SUITES.register("whitebox")             # the decorator form: registers the function, returns it
    def whitebox(ctx): ...
    ATTACKS.get("pgd"); ATTACKS.names()      # ZooError "unknown attack 'x': expected one of a, b, c"
    ATTACKS.get(name, flag="attacks")        # the command-line form: "--attacks=x: expected one of a, b, c"

A registry is a read-only ``Mapping`` (``in``, ``[]``, ``len``, iteration in registration order, ``items()``);
``register`` is the only way in.
"""
from collections.abc import Mapping

from zoo.errors import ZooError, choice_error

_MISSING = object()


class Registry(Mapping):
    """A read-only name -> entry mapping filled by ``register``; ``kind`` names an entry in errors ("attack")."""

    def __init__(self, kind):
        self.kind = kind
        self._entries = {}

    def register(self, name, entry=_MISSING):
        """Add ``entry`` under ``name`` and return it; ``register(name)`` alone is a decorator doing the same.

        ValueError when ``name`` is already registered (two entries would silently replace each other)."""
        if entry is _MISSING:
            return lambda obj: self.register(name, obj)
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} registered twice")
        self._entries[name] = entry
        return entry

    def get(self, name, default=_MISSING, *, flag=None):
        """The entry registered as ``name``.

        Unknown ``name``: ``default`` when one is given (``Mapping.get``), else a one-line ZooError listing the
        names, "unknown <kind> 'x': expected one of a, b" or with ``flag`` "--<flag>=x: expected one of a, b"."""
        if default is not _MISSING:
            return self._entries.get(name, default)
        try:
            return self._entries[name]
        except (KeyError, TypeError):  # TypeError: an unhashable name (a list from a bad config) is unknown too
            if flag is None:
                raise choice_error(self.kind, name, self._entries) from None
            raise ZooError(f"--{flag}={name}: expected one of {', '.join(self.names()) or '(none)'}") from None

    def names(self):
        """The registered names, sorted."""
        return sorted(self._entries)

    def __getitem__(self, name):
        return self._entries[name]

    def __contains__(self, name):
        try:
            return name in self._entries
        except TypeError:
            return False

    def __iter__(self):
        return iter(self._entries)

    def __len__(self):
        return len(self._entries)

    def __repr__(self):
        return f"Registry({self.kind!r}: {', '.join(self.names())})"
