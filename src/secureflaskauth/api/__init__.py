"""The HTTP layer: thin Flask blueprints over the domain."""
