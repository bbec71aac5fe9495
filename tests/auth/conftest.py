from tests.auth.hashing import cheap_password_hashing  # noqa: F401
