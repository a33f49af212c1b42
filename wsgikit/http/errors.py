"""Errors raised by the sans-IO HTTP layer.

Every problem with what a client sent is a :class:`ProtocolError` carrying the
HTTP status the server should answer with; every problem with what the
application asked us to send is a :class:`ResponseError`.
"""

from __future__ import annotations

__all__ = ["ProtocolError", "ResponseError"]


class ProtocolError(Exception):
    """The peer sent something we cannot accept.

    ``status`` is the status code to answer with (400, 408, 413, 414, 431, 501,
    505); after answering, the connection must be closed: nothing the client
    sent after the offending request is ever interpreted.
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class ResponseError(Exception):
    """The application's response cannot be serialized (bad status or header)."""
