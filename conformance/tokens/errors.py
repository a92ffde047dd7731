"""The one exception the codec raises for anything that is not a well-formed token."""


class TokenError(ValueError):
    """A string that is not a decodable 006 or 007 token.

    The message says what is wrong and where (field name, byte offset), so that a
    person reading a conformance failure knows whether the server sent a truncated
    token, a token of another format or plain garbage.
    """
