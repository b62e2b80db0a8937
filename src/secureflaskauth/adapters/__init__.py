"""Implementations of the domain's ports: databases, SMS providers."""
