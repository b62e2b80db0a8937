"""/auth/me and the changes a signed-in user makes to their own account."""

from __future__ import annotations

from secureflaskauth import wiring
from secureflaskauth.api.answers import NO_STORE, ok
from secureflaskauth.api.operations import Routes
from secureflaskauth.api.schemas import AccountInfo
from secureflaskauth.domain.clock import iso_utc

routes = Routes("account", __name__, url_prefix="/auth", tag="account")


@routes.route(
    "GET",
    "/me",
    summary="The signed-in user's account",
    responses={200: ok("The account; the phone number masked.", AccountInfo)},
    bearer=True,
    cache=NO_STORE,
)
def me(claims: dict[str, object]) -> AccountInfo:
    profile = wiring.current().own_account.profile(str(claims["sub"]))
    return AccountInfo(
        user_id=profile.user_id,
        username=profile.username,
        phone_number=profile.phone_number,
        phone_verified=profile.phone_verified,
        factors=list(profile.factors),
        created_at=iso_utc(profile.created_at),
    )
