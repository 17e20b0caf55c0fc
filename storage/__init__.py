"""Persistence: the SQLAlchemy base, the async database handle, the users repository and migrations."""
