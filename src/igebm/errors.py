"""Exception types for what the user can fix, so the CLI never shows them a traceback.

The CLI turns a `UserError` into a single line on stderr and exit code 2, and a
`TrainingFault` (divergence, non-finite state) into one line and exit code 3.
Raise them with what is wrong *and* how to fix it.
"""


class UserError(Exception):
    """A problem with the user's input (config, paths, flags), not a bug."""

    exit_code = 2


class TrainingFault(UserError):
    """Training cannot go on as configured: energies diverged or state went non-finite."""

    exit_code = 3
