"""One error hierarchy. The consumer loop reads `retriable`: retry with back-off, or dead-letter.

Third-party errors are translated at the adapter edge with `raise ... from exc`.
"""


class VigilError(Exception):
    retriable = False


class ConfigError(VigilError):
    """The configuration cannot work; the message says what to change."""


class BadInput(VigilError):
    """A message, file or request that will never succeed, however often it is retried."""


class Unavailable(VigilError):
    """A server (broker, database, object store) cannot be reached right now."""

    retriable = True


class ModelMissing(ConfigError):
    """A model file is absent or corrupt; the message names the command that fixes it."""
