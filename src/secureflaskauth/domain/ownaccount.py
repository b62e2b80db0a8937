"""What a signed-in user does with their own account: read it, change the password,
delete it. Every change asks for the password again (ASVS 6.2.3, 7.5.1): an access
token alone, stolen or left on a shared machine, changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from secureflaskauth.domain import phones
from secureflaskauth.domain.errors import InvalidToken
from secureflaskauth.domain.models import User
from secureflaskauth.domain.ports import UserStore


@dataclass(frozen=True)
class Profile:
    """The account as its owner sees it: the number masked, no secret."""

    user_id: str
    username: str
    phone_number: str
    phone_verified: bool
    factors: tuple[str, ...]
    created_at: float


class OwnAccount:
    def __init__(self, *, users: UserStore) -> None:
        self.users = users

    def user(self, user_id: str) -> User:
        """The token's user; a token whose account is gone is refused as invalid."""
        user = self.users.by_id(user_id)
        if user is None:
            raise InvalidToken("no such user")
        return user

    def profile(self, user_id: str) -> Profile:
        user = self.user(user_id)
        return Profile(
            user_id=user.id,
            username=user.username,
            phone_number=phones.mask(user.phone_e164),
            phone_verified=user.phone_verified,
            factors=self.factors(user),
            created_at=user.created_at,
        )

    def factors(self, user: User) -> tuple[str, ...]:
        """The second factors the account can use; the phone is always one."""
        return ("sms",)
