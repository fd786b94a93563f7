"""One error type for people: a one-line message naming the value, what was expected and what exists."""


class ZooError(ValueError):
    """A usage error (bad name, bad value, missing file). CLIs turn it into one line and exit code 2."""


def choice_error(what, value, choices):
    """ZooError for `value` not among `choices`, listing what exists."""
    listed = ", ".join(sorted(str(c) for c in choices)) or "(none)"
    return ZooError(f"unknown {what} {value!r}: expected one of {listed}")
