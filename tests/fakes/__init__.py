"""Local stand-ins for external providers: real HTTP servers speaking the providers' APIs."""
