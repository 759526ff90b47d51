"""The exceptions and warnings fastmlp raises, in one place.

Each derives from the built-in class a user would already catch
(``ValueError`` for bad data), so ``except ValueError`` keeps working.
"""


class ModelFileError(ValueError):
    """A model file (or buffer) is not a valid fastmlp model file.

    Raised for every problem with the content: foreign file, truncation,
    corruption, checksum mismatch, newer format version, invalid metadata.
    Errors of the operating system (missing file, no permission) remain
    :class:`OSError`.
    """


class DataFormatError(ValueError):
    """A data file is malformed; the message names the file and the problem."""


class NotFittedError(ValueError, AttributeError):
    """A model was used before ``fit`` (as in scikit-learn)."""


class ConvergenceWarning(UserWarning):
    """Training stopped at ``max_iter`` before meeting its stopping rule."""
