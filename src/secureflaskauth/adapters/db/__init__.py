"""SQLAlchemy adapters: one module per port, sharing one engine."""
