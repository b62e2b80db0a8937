"""Passwords: the policy a new password must meet, and how they are hashed."""

from secureflaskauth.domain.passwords.hashing import Argon2Parameters, PasswordHasher
from secureflaskauth.domain.passwords.policy import CommonPasswords, PasswordPolicy

__all__ = ["Argon2Parameters", "CommonPasswords", "PasswordHasher", "PasswordPolicy"]
