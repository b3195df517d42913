"""The one error type of the data layer; the host interpreter turns it into a located diagnostic."""


class DataError(Exception):
    """A problem with a data file or a host data call.

    `message` says what went wrong and names the file; `hint` (optional) says
    how to fix it; `code` is the diagnostic's code. str() is the message
    alone, so the interpreter can render the hint as its own line.
    """

    def __init__(self, message, hint=None, code="E0601"):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code

    def __str__(self):
        return self.message
