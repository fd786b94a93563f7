"""What every command line of the project shares: usage errors end in one line and exit status 2."""
import sys

from absl import flags


def usage_error(err):
    """Print ``error: <first line>`` to stderr and exit with status 2 (a usage error)."""
    print(f"error: {err}".splitlines()[0], file=sys.stderr)
    sys.exit(2)


def parse_flags(argv=None):
    """Parse absl flags (flagfiles included); a bad or unknown flag is a usage error."""
    try:
        return flags.FLAGS(sys.argv if argv is None else argv)
    except flags.Error as err:
        usage_error(err)
