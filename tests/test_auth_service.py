from __future__ import annotations

import pytest

from assistant.auth import ClientInfo, Principal, Role
from assistant.clock import ManualClock
from assistant.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited, Unauthorized
from assistant.services import Services

HERE = ClientInfo(address="10.0.0.1", user_agent="pytest")
PASSWORD = "correct horse battery"


def principal_of(services: Services, access_token: str) -> Principal:
    return services.auth.authenticate(access_token)


def test_first_account_is_admin_then_registration_closes(services: Services) -> None:
    auth = services.auth
    assert auth.registration_open()
    first = auth.register("ada", PASSWORD, HERE)
    assert first.user.role is Role.ADMIN
    assert not auth.registration_open()
    with pytest.raises(Forbidden, match="Registration is closed"):
        auth.register("bob", PASSWORD, HERE)
    auth.set_registration_open(True)
    assert auth.register("bob", PASSWORD, HERE).user.role is Role.USER


@pytest.mark.parametrize(
    ("username", "password", "field"),
    [
        ("a", PASSWORD, "username"),
        ("x" * 33, PASSWORD, "username"),
        ("with space", PASSWORD, "username"),
        ("-dash", PASSWORD, "username"),
        ("ada\n", PASSWORD, "username"),  # `$` lets a trailing newline through a match()
        ("ada", "short", "password"),
        ("ada", " " * 12, "password"),
        ("ada", "p" * 257, "password"),
    ],
)
def test_bad_usernames_and_passwords(
    services: Services, username: str, password: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        services.auth.register(username, password, HERE)
    assert caught.value.field == field


def test_usernames_are_unique_ignoring_case(services: Services) -> None:
    services.auth.register("Ada", PASSWORD, HERE)
    with pytest.raises(Conflict, match="taken"):
        services.auth.create_user("ada", PASSWORD)


def test_login_and_wrong_credentials_say_the_same(services: Services) -> None:
    services.auth.register("ada", PASSWORD, HERE)
    pair = services.auth.login("ADA", PASSWORD, HERE)
    assert principal_of(services, pair.access_token).username == "ada"
    with pytest.raises(Unauthorized) as wrong_password:
        services.auth.login("ada", "wrong password!", HERE)
    with pytest.raises(Unauthorized) as no_user:
        services.auth.login("nobody", "wrong password!", HERE)
    assert wrong_password.value.detail == no_user.value.detail


def test_login_is_throttled_per_account(services: Services, clock: ManualClock) -> None:
    services.auth.register("ada", PASSWORD, HERE)
    for i in range(5):
        with pytest.raises(Unauthorized):
            services.auth.login("ada", "nope nope", ClientInfo(address=f"10.0.0.{i}"))
    with pytest.raises(RateLimited) as caught:
        services.auth.login("ada", PASSWORD, HERE)  # even the right password waits
    assert 0 < caught.value.retry_after_seconds <= 900
    clock.advance(caught.value.retry_after_seconds)
    services.auth.login("ada", PASSWORD, HERE)


def test_login_is_throttled_per_address(services: Services) -> None:
    services.auth.register("ada", PASSWORD, HERE)
    for i in range(20):
        with pytest.raises(Unauthorized):
            services.auth.login(f"user{i}", "nope nope", HERE)
    with pytest.raises(RateLimited):
        services.auth.login("ada", PASSWORD, HERE)
    services.auth.login("ada", PASSWORD, ClientInfo(address="10.9.9.9"))


def test_refresh_rotates_and_reuse_revokes_the_family(services: Services) -> None:
    first = services.auth.register("ada", PASSWORD, HERE)
    second = services.auth.refresh(first.refresh_token)
    assert second.session_id == first.session_id
    assert second.refresh_token != first.refresh_token
    third = services.auth.refresh(second.refresh_token)
    # A thief replays the first token: the whole session dies, including the newest tokens.
    with pytest.raises(Unauthorized, match="already used"):
        services.auth.refresh(first.refresh_token)
    with pytest.raises(Unauthorized):
        services.auth.refresh(third.refresh_token)
    with pytest.raises(Unauthorized, match="session has ended"):
        principal_of(services, third.access_token)


def test_sessions_expire_without_refresh(services: Services, clock: ManualClock) -> None:
    pair = services.auth.register("ada", PASSWORD, HERE)
    clock.advance(31 * 86400)
    with pytest.raises(Unauthorized):
        services.auth.refresh(pair.refresh_token)


def test_access_tokens_expire(services: Services, clock: ManualClock) -> None:
    pair = services.auth.register("ada", PASSWORD, HERE)
    clock.advance(901)
    with pytest.raises(Unauthorized, match="expired"):
        principal_of(services, pair.access_token)
    fresh = services.auth.refresh(pair.refresh_token)
    assert principal_of(services, fresh.access_token).username == "ada"


def test_logout_ends_the_session_at_once(services: Services) -> None:
    pair = services.auth.register("ada", PASSWORD, HERE)
    services.auth.logout(principal_of(services, pair.access_token))
    with pytest.raises(Unauthorized):
        principal_of(services, pair.access_token)
    with pytest.raises(Unauthorized):
        services.auth.refresh(pair.refresh_token)


def test_session_listing_and_revocation_are_per_user(services: Services) -> None:
    ada = services.auth.register("ada", PASSWORD, HERE)
    services.auth.login("ada", PASSWORD, ClientInfo(address="10.0.0.2", user_agent="phone"))
    services.auth.set_registration_open(True)
    bob = services.auth.register("bob", PASSWORD, HERE)
    ada_p = principal_of(services, ada.access_token)
    sessions = services.auth.list_sessions(ada_p)
    assert len(sessions) == 2
    assert [s.current for s in sessions].count(True) == 1
    with pytest.raises(NotFound):
        services.auth.revoke_session(principal_of(services, bob.access_token), ada.session_id)
    other = next(s for s in sessions if not s.current)
    services.auth.revoke_session(ada_p, other.id)
    assert len(services.auth.list_sessions(ada_p)) == 1


def test_password_change_ends_every_session(services: Services) -> None:
    first = services.auth.register("ada", PASSWORD, HERE)
    other = services.auth.login("ada", PASSWORD, HERE)
    with pytest.raises(Unauthorized, match="current password"):
        services.auth.change_password(
            principal_of(services, first.access_token), "wrong one!", "new password 1", HERE
        )
    fresh = services.auth.change_password(
        principal_of(services, first.access_token), PASSWORD, "new password 1", HERE
    )
    for old in (first, other):
        with pytest.raises(Unauthorized):
            principal_of(services, old.access_token)
    assert principal_of(services, fresh.access_token).username == "ada"
    services.auth.login("ada", "new password 1", HERE)


def test_reset_token_works_once_and_expires(services: Services, clock: ManualClock) -> None:
    pair = services.auth.register("ada", PASSWORD, HERE)
    token = services.auth.issue_reset_token("ada")
    services.auth.reset_password(token, "brand new pass")
    with pytest.raises(Unauthorized):
        principal_of(services, pair.access_token)
    with pytest.raises(Unauthorized, match="invalid, used or expired"):
        services.auth.reset_password(token, "another new pass")
    late = services.auth.issue_reset_token("ada")
    clock.advance(3601)
    with pytest.raises(Unauthorized):
        services.auth.reset_password(late, "another new pass")
    services.auth.login("ada", "brand new pass", HERE)


def test_only_the_newest_reset_token_is_valid(services: Services) -> None:
    services.auth.register("ada", PASSWORD, HERE)
    older = services.auth.issue_reset_token("ada")
    newer = services.auth.issue_reset_token("ada")
    with pytest.raises(Unauthorized):
        services.auth.reset_password(older, "brand new pass")
    services.auth.reset_password(newer, "brand new pass")


def test_api_keys(services: Services, clock: ManualClock) -> None:
    pair = services.auth.register("ada", PASSWORD, HERE)
    ada = principal_of(services, pair.access_token)
    key, secret = services.auth.create_api_key(ada, "kitchen tablet", expires_in_days=1)
    assert secret.startswith("ak_")
    assert key.prefix == secret[:9]
    caller = services.auth.authenticate(secret)
    assert (caller.user_id, caller.api_key_id, caller.session_id) == (ada.user_id, key.id, None)
    [listed] = services.auth.list_api_keys(ada)
    assert listed.last_used_at is not None
    clock.advance(86401)
    with pytest.raises(Unauthorized, match="expired"):
        services.auth.authenticate(secret)
    _, other = services.auth.create_api_key(ada, "phone")
    services.auth.revoke_api_key(ada, services.auth.list_api_keys(ada)[-1].id)
    with pytest.raises(Unauthorized):
        services.auth.authenticate(other)
    with pytest.raises(NotFound):
        services.auth.revoke_api_key(ada, "no-such-key")
    with pytest.raises(InvalidInput):
        services.auth.create_api_key(ada, "   ")


def test_the_last_admin_stays(services: Services) -> None:
    ada = services.auth.register("ada", PASSWORD, HERE).user
    with pytest.raises(Conflict, match="last admin"):
        services.auth.update_user(ada.id, role=Role.USER)
    with pytest.raises(Conflict, match="last admin"):
        services.auth.delete_user(ada.id)
    bob = services.auth.create_user("bob", PASSWORD, Role.ADMIN)
    services.auth.update_user(ada.id, role=Role.USER)
    with pytest.raises(Conflict):
        services.auth.update_user(bob.id, disabled=True)


def test_disabled_accounts_cannot_sign_in(services: Services) -> None:
    services.auth.register("ada", PASSWORD, HERE)
    bob = services.auth.create_user("bob", PASSWORD)
    pair = services.auth.login("bob", PASSWORD, HERE)
    services.auth.update_user(bob.id, disabled=True)
    with pytest.raises(Unauthorized):
        principal_of(services, pair.access_token)
    with pytest.raises(Unauthorized):
        services.auth.login("bob", PASSWORD, HERE)
    services.auth.update_user(bob.id, disabled=False)
    services.auth.login("bob", PASSWORD, HERE)


def test_deleting_a_user_deletes_their_data(services: Services) -> None:
    services.auth.register("ada", PASSWORD, HERE)
    bob = services.auth.create_user("bob", PASSWORD)
    pair = services.auth.login("bob", PASSWORD, HERE)
    services.profile.record_usage(bob.id, {})
    services.auth.delete_user(bob.id)
    with pytest.raises(Unauthorized):
        principal_of(services, pair.access_token)
    with services.db.read() as conn:
        assert conn.scalar("SELECT count(*) FROM sessions WHERE user_id = ?", (bob.id,)) == 0


@pytest.mark.parametrize("how", ["change", "reset"])
def test_a_new_password_revokes_every_api_key(services: Services, how: str) -> None:
    """Whoever knew the old password could have made a key: it must not outlive it."""
    pair = services.auth.register("ada", PASSWORD, HERE)
    ada = principal_of(services, pair.access_token)
    _, secret = services.auth.create_api_key(ada, "kitchen tablet")
    assert services.auth.authenticate(secret).user_id == ada.user_id
    if how == "change":
        fresh = services.auth.change_password(ada, PASSWORD, "new password 1", HERE)
        ada = principal_of(services, fresh.access_token)
    else:
        services.auth.reset_password(services.auth.issue_reset_token("ada"), "new password 1")
    with pytest.raises(Unauthorized, match="revoked"):
        services.auth.authenticate(secret)
    assert services.auth.list_api_keys(ada) == []
    _, new_secret = services.auth.create_api_key(ada, "kitchen tablet")
    assert services.auth.authenticate(new_secret).user_id == ada.user_id


def test_keys_of_a_disabled_account_stay_revoked_when_it_is_enabled(
    services: Services,
) -> None:
    services.auth.register("ada", PASSWORD, HERE)
    bob = services.auth.create_user("bob", PASSWORD)
    bob_p = principal_of(services, services.auth.login("bob", PASSWORD, HERE).access_token)
    _, secret = services.auth.create_api_key(bob_p, "phone")
    services.auth.update_user(bob.id, disabled=True)
    with pytest.raises(Unauthorized):
        services.auth.authenticate(secret)
    services.auth.update_user(bob.id, disabled=False)
    with pytest.raises(Unauthorized, match="revoked"):
        services.auth.authenticate(secret)
    bob_p = principal_of(services, services.auth.login("bob", PASSWORD, HERE).access_token)
    assert services.auth.list_api_keys(bob_p) == []
