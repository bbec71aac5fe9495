"""Argon2 at the smallest cost, so fixtures that create and log in accounts stay fast.

Still real Argon2id hashing and verification through the service; only the work factor shrinks.
Production parameters are checked in tests/auth/test_sessions.py.
Imported by tests/conftest.py, so it applies to every test.
"""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from remix.auth import passwords

CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "_hasher", CHEAP_HASHER)
