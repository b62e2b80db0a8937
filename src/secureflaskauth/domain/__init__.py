"""The rules of sign-in: no Flask, no SQL, no clock but the one passed in."""
