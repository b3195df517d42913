"""The one error type of the data layer; the host interpreter turns it into a located diagnostic."""
from functools import partial

from dsl import errors


class DataError(Exception):
    """A problem with a data file or a host data call.

    `message` says what went wrong and names the file; `hint` (optional) says
    how to fix it. `make(span)` builds the located diagnostic: E0601 of the
    message and hint unless `make` names another constructor of dsl/errors.py,
    and then the message and hint are that constructor's. str() is the message
    alone, so the interpreter can render the hint as its own line.
    """

    def __init__(self, message=None, hint=None, make=None):
        self.make = make or partial(errors.data_error, message, hint=hint)
        shown = self.make(None).diagnostic
        super().__init__(shown.message)
        self.message = shown.message
        self.hint = shown.hint

    def __str__(self):
        return self.message

    def located(self, span):
        return self.make(span)
