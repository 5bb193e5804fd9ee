"""Hub users: hashes, permissions, the stored document, and what bad input leaves intact."""

from __future__ import annotations

import pytest

from hub.users import User, UserError, Users, check_password, hash_password


def test_first_user_is_admin_then_read() -> None:
    u = Users()
    assert u.add("ann", "password-1").permission == "admin"
    assert u.add("bob", "password-2").permission == "read"
    assert u.add("cy", "password-3", "write").permission == "write"
    assert u.names() == ["ann", "bob", "cy"]


def test_hash_is_salted_and_verifies() -> None:
    a, b = hash_password("same-pass"), hash_password("same-pass")
    assert a != b and a.startswith("scrypt$")
    assert check_password("same-pass", a) and check_password("same-pass", b)
    assert not check_password("other-pass", a)
    assert not check_password("same-pass", "garbage")


def test_verify_refuses_wrong_unknown_and_blocked() -> None:
    u = Users()
    u.add("ann", "password-1")
    u.add("eve", "password-2", "blocked")
    assert u.verify("ann", "password-1") == u.get("ann")
    assert u.verify("ann", "password-x") is None
    assert u.verify("nobody", "password-1") is None
    assert u.verify("eve", "password-2") is None


@pytest.mark.parametrize(
    ("name", "password", "permission", "reason"),
    [
        ("a b", "password-1", None, "user name"),
        ("ann", "short", None, "at least 8"),
        ("ann", "password-1", "root", "permission 'root'"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    name: str, password: str, permission: str | None, reason: str
) -> None:
    u = Users()
    u.add("keep", "password-0")
    before = u.to_doc()
    with pytest.raises(UserError, match=reason):
        u.add(name, password, permission)
    assert u.to_doc() == before


def test_duplicate_and_unknown() -> None:
    u = Users()
    u.add("ann", "password-1")
    with pytest.raises(UserError, match="exists"):
        u.add("ann", "password-2")
    with pytest.raises(UserError, match="no user 'bob'"):
        u.set_permission("bob", "read")
    assert u.verify("ann", "password-1") is not None


def test_document_round_trip_and_changes() -> None:
    u = Users()
    u.add("ann", "password-1")
    u.add("bob", "password-2")
    u.set_permission("bob", "write")
    u.set_password("bob", "password-3")
    again = Users.from_doc(u.to_doc())
    assert again.get("bob") == User(
        name="bob", password_hash=u.get("bob").password_hash, permission="write"
    )
    assert again.verify("bob", "password-3") is not None
    again.remove("ann")
    assert again.names() == ["bob"]
    assert len(Users.from_doc(None)) == 0


@pytest.mark.parametrize(
    "doc", [[], {"users": []}, {"users": {"x": {"permission": "god", "password_hash": "h"}}}]
)
def test_malformed_document_is_refused(doc: object) -> None:
    with pytest.raises(UserError):
        Users.from_doc(doc)
