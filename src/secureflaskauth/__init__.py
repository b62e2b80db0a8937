"""SecureFlaskAuth: password plus SMS one-time-code sign-in that issues short-lived JWTs."""

__version__ = "0.1.0"
