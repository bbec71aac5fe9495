"""Production mode: several API processes and render workers sharing PostgreSQL and Redis.

Nothing here is imported unless ``REMIX_REDIS_URL`` is set; the embedded default (one process, SQLite,
in-process rendering) never touches Redis.
"""
