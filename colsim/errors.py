"""The one exception type users see: a single line that names the bad value."""


class ColsimError(Exception):
    """A user-facing error: bad input, impossible configuration, corrupt file.

    The message is one line that names the offending key or value; the CLI prints it as
    ``colsim: error: <message>`` and exits with status 2, without a traceback.
    """


class ConfigError(ColsimError):
    """A configuration file or value that fails validation."""
