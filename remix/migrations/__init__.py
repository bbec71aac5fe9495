"""Alembic migrations (run at start by remix.db.migrate, or with `remix migrate`)."""
