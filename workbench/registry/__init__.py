"""The registry: the system of record (SQLAlchemy Core over SQLite or PostgreSQL)."""
