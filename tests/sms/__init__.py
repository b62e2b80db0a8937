"""The SMS backends, against real local servers speaking each provider's API."""
