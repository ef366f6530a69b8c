"""One exception type for user mistakes.

The CLI turns a `UserError` into a single line on stderr and exit code 2, so
bad input never ends in a traceback. Raise it with what is wrong *and* how to
fix it.
"""


class UserError(Exception):
    """A problem with the user's input (config, paths, flags), not a bug."""

    exit_code = 2
