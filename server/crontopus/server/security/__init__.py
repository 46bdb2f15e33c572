"""Credentials: password hashing, opaque tokens, access tokens, login throttling."""
