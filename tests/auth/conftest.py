"""Argon2 at test cost for every test here (see tests/auth/hashing.py)."""

from tests.auth.hashing import cheap_password_hashing  # noqa: F401  (autouse)
