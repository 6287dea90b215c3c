"""The error raised for a sample whose video or image cannot be used."""


class BadSampleError(Exception):
    """A video or image is missing, empty, truncated, undecodable or too
    short to use.

    Args:
        path: the file at fault.
        reason: what is wrong with it, for the log.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f'{path}: {reason}')
        self.path = path
        self.reason = reason
