from __future__ import annotations

import pytest

from sessiongate.errors import (
    AuthorizationError,
    ConfigurationError,
    ExpiredTokenError,
    MissingCredentialsError,
    ProviderUnavailableError,
)
from sessiongate.guards import (
    Requirement,
    RoleHierarchy,
    effective_scopes,
    has_permissions,
    has_roles,
    require_authenticated,
    require_permissions,
    require_roles,
    require_scopes,
)
from sessiongate.user import AnonymousUser, User

HIERARCHY = RoleHierarchy({"admin": ["moderator"], "moderator": ["user"]})


def user(roles: tuple[str, ...] = (), perms: tuple[str, ...] = ()) -> User:
    return User(id="1", roles=frozenset(roles), permissions=frozenset(perms))


def test_hierarchy_is_transitive():
    assert HIERARCHY.expand(["admin"]) == {"admin", "moderator", "user"}
    assert HIERARCHY.expand(["moderator"]) == {"moderator", "user"}
    assert HIERARCHY.implied_by("user") == frozenset()


def test_hierarchy_cycle_terminates():
    cyclic = RoleHierarchy({"a": ["b"], "b": ["a"]})
    assert cyclic.expand(["a"]) == {"a", "b"}
    assert cyclic.implied_by("a") == {"b"}


@pytest.mark.parametrize("bad", [{"admin": "user"}, {"": ["x"]}, {"a": [""]}])
def test_hierarchy_rejects_bad_config(bad):
    with pytest.raises(ConfigurationError):
        RoleHierarchy(bad)


def test_require_roles_all_and_any():
    u = user(("editor", "viewer"))
    assert require_roles(u, ["editor", "viewer"]) is u
    with pytest.raises(AuthorizationError) as exc:
        require_roles(u, ["editor", "admin"])
    assert exc.value.status_code == 403
    assert exc.value.code == "insufficient_scope"
    assert "admin" in exc.value.message
    assert require_roles(u, ["admin", "editor"], mode="any") is u
    with pytest.raises(AuthorizationError):
        require_roles(u, ["admin", "root"], mode="any")


def test_require_roles_through_hierarchy():
    admin = user(("admin",))
    assert require_roles(admin, ["user"], hierarchy=HIERARCHY) is admin
    with pytest.raises(AuthorizationError):
        require_roles(admin, ["user"])  # no hierarchy: admin does not imply user
    with pytest.raises(AuthorizationError):
        require_roles(user(("user",)), ["admin"], hierarchy=HIERARCHY)


def test_require_permissions_modes():
    u = user(perms=("posts:read",))
    assert require_permissions(u, ["posts:read"]) is u
    with pytest.raises(AuthorizationError):
        require_permissions(u, ["posts:read", "posts:write"])
    assert require_permissions(u, ["posts:write", "posts:read"], mode="any") is u


def test_anonymous_raises_its_stored_error():
    expired = ExpiredTokenError()
    with pytest.raises(ExpiredTokenError):
        require_roles(AnonymousUser(error=expired), ["admin"])
    with pytest.raises(ProviderUnavailableError):
        require_authenticated(AnonymousUser(error=ProviderUnavailableError()))


def test_anonymous_without_reason_is_missing_credentials():
    with pytest.raises(MissingCredentialsError) as exc:
        require_permissions(AnonymousUser(), ["x"])
    assert exc.value.status_code == 401


def test_object_without_is_authenticated_is_refused():
    with pytest.raises(MissingCredentialsError):
        require_authenticated(object())


def test_has_helpers_are_false_for_anonymous():
    assert not has_roles(AnonymousUser(), ["x"])
    assert not has_permissions(AnonymousUser(), ["x"])
    assert has_roles(user(("admin",)), ["user"], hierarchy=HIERARCHY)
    assert has_permissions(user(perms=("a", "b")), ["a", "c"], mode="any")


def test_require_scopes_mixes_roles_and_permissions():
    u = user(("admin",), ("posts:read",))
    assert require_scopes(u, ["user", "posts:read"], hierarchy=HIERARCHY) is u
    assert require_scopes(u, []) is u
    with pytest.raises(AuthorizationError) as exc:
        require_scopes(u, ["posts:write"], hierarchy=HIERARCHY)
    assert "posts:write" in exc.value.message
    assert effective_scopes(u, HIERARCHY) == {"admin", "moderator", "user", "posts:read"}


def test_requirement_checks_both():
    req = Requirement(roles=("user",), permissions=("a",), hierarchy=HIERARCHY)
    ok = user(("admin",), ("a",))
    assert req.check(ok) is ok
    with pytest.raises(AuthorizationError):
        req.check(user(("admin",)))
    assert Requirement().check(ok) is ok
    with pytest.raises(MissingCredentialsError):
        Requirement().check(AnonymousUser())


@pytest.mark.parametrize(
    "call",
    [
        lambda: require_roles(user(), [], mode="all"),
        lambda: require_roles(user(), ["a"], mode="some"),  # type: ignore[arg-type]
        lambda: require_permissions(user(), [""]),
        lambda: Requirement(roles=("a",), roles_mode="most"),  # type: ignore[arg-type]
    ],
)
def test_misconfiguration_fails_loudly(call):
    with pytest.raises(ConfigurationError):
        call()


def test_single_string_is_one_name():
    u = user(("admin",))
    assert require_roles(u, "admin") is u
    assert Requirement(roles="admin").roles == ("admin",)  # type: ignore[arg-type]
