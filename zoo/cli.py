"""What every command line of the project shares: usage errors end in one line and exit status 2."""
import os
import sys
import uuid

from absl import flags

from zoo.errors import ZooError


def usage_error(err):
    """Print ``error: <first line>`` to stderr and exit with status 2 (a usage error)."""
    print(f"error: {err}".splitlines()[0], file=sys.stderr)
    sys.exit(2)


def _flagfiles(argv):
    """Paths of the flagfiles named in ``argv`` (``--flagfile=x`` and ``--flagfile x``)."""
    out = []
    for i, arg in enumerate(argv):
        if arg.startswith(("--flagfile=", "-flagfile=")):
            out.append(arg.split("=", 1)[1])
        elif arg in ("--flagfile", "-flagfile") and i + 1 < len(argv):
            out.append(argv[i + 1])
    return out


def _stray_in_flagfiles(argv, seen=None):
    """(file, line number, line) of the first non-flag line in the flagfiles of ``argv`` (nested ones too)."""
    seen = set() if seen is None else seen
    for path in _flagfiles(argv):
        if path in seen or not os.path.isfile(path):
            continue
        seen.add(path)
        with open(path) as f:
            lines = f.readlines()
        for number, line in enumerate(lines, 1):
            text = line.strip()
            if not text or text.startswith(("#", "//")):
                continue
            if not text.startswith("-"):
                return path, number, text
            found = _stray_in_flagfiles([text], seen)
            if found:
                return found
    return None


def parse_flags(argv=None):
    """Parse absl flags (flagfiles included); a bad or unknown flag, a positional argument (e.g. a config
    path without ``--flagfile=``) or a flagfile line that is not a flag is a usage error."""
    argv = sys.argv if argv is None else argv
    for path in _flagfiles(argv[1:]):
        if not os.path.isfile(path):
            parent = os.path.dirname(path) or "."
            beside = ", ".join(sorted(f for f in os.listdir(parent) if f.endswith(".cfg"))[:6]) \
                if os.path.isdir(parent) else ""
            usage_error(ZooError(f"--flagfile={path}: no such file (expected a flagfile, e.g. configs/<setup>.cfg); "
                                 f"{'.cfg files beside it: ' + beside if beside else 'no .cfg file beside it'}"))
    try:
        rest = flags.FLAGS(argv)
    except flags.Error as err:
        usage_error(err)
    stray = rest[1:]
    if stray:
        found = _stray_in_flagfiles(argv[1:])
        if found and stray[0] not in argv[1:]:
            path, number, text = found
            usage_error(ZooError(f"{path}:{number}: {text!r} is not a flag: expected one --name=value per line "
                                 "(blank lines and # comments allowed)"))
        hint = (f" (a flagfile? use --flagfile={stray[0]})" if os.path.isfile(stray[0]) else "")
        usage_error(ZooError(f"unexpected argument {stray[0]!r}: expected only --name=value flags{hint}"))
    return rest


def _nearest_existing(path):
    path = os.path.abspath(path)
    while not os.path.exists(path):
        path = os.path.dirname(path)
    kind = "a directory" if os.path.isdir(path) else "a file"
    writable = "" if os.access(path, os.W_OK) else ", not writable"
    return f"{path} ({kind}{writable})"


def writable_dir(path, flag, shown=None):
    """Create ``path`` and prove it writable with a probe file, before any long work; else a one-line ZooError
    naming the flag, the value, what was expected and the nearest path that exists."""
    shown = path if shown is None else shown
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, f".write-test-{os.getpid()}-{uuid.uuid4().hex[:6]}")
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as err:
        raise ZooError(f"--{flag}={shown}: expected a directory that can be created and written ({path}: "
                       f"{err.strerror}); nearest existing: {_nearest_existing(path)}") from None
    return path


def number_list(flag, values, cast=int):
    """A list flag's values as a tuple of ``cast`` (int or float); one-line ZooError naming the flag."""
    try:
        return tuple(cast(v) for v in values)
    except ValueError:
        kind = "integers" if cast is int else "numbers"
        raise ZooError(f"--{flag}={','.join(values)}: expected comma-separated {kind}") from None


class _PixelParser(flags.FloatParser):
    """absl parser of a pixel-scale value: ``0.0314`` or ``8/255`` (``zoo.threat.parse_pixels``)."""

    def parse(self, argument):
        from zoo.threat import parse_pixels
        try:
            return parse_pixels("value", argument, low=-float("inf"), high=float("inf"))
        except ZooError:
            raise ValueError(f"{argument!r}: expected a pixel-scale number such as 0.0314 or a fraction such as "
                             "8/255") from None

    def flag_type(self):
        return "pixel-scale float"


def define_pixels(name, default, help, flag_values=flags.FLAGS, **kwargs):
    """A float flag in pixel scale that also reads fractions (``--eps=8/255``); the range is checked by the
    caller (``zoo.threat.parse_pixels``) so the error names what the value means."""
    flags.DEFINE(_PixelParser(), name, default, help, flag_values, flags.ArgumentSerializer(), **kwargs)
