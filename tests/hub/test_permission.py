"""The one permission ladder: parsed from config strings, ranked, compared with strings."""

from __future__ import annotations

import itertools

import pytest

from hub.permission import NAMES, Actor, Permission


def test_the_ladder_ranks_each_rung_above_the_one_below() -> None:
    ladder = [Permission.parse(n) for n in ("blocked", "custom", "read", "write", "admin")]
    assert list(NAMES) == [p.value for p in ladder]
    for low, high in itertools.pairwise(ladder):
        assert low < high and high > low and high >= low and not high <= low
    assert sorted(reversed(ladder)) == ladder
    assert max(ladder) is Permission.ADMIN


def test_a_permission_is_the_string_that_names_it() -> None:
    assert Permission.WRITE == "write" and f"{Permission.READ}" == "read"
    assert Permission.parse("ADMIN") is Permission.ADMIN
    assert Permission.ADMIN > "write" and Permission.CUSTOM < "read"
    with pytest.raises(ValueError, match=r"unknown permission .root. \(one of blocked, custom"):
        Permission.parse("root")
    with pytest.raises(ValueError, match="unknown permission"):
        assert Permission.READ < "root"


def test_an_actor_may_what_its_rung_includes() -> None:
    writer = Actor("w", Permission.WRITE)
    assert writer.may(Permission.READ) and writer.may(Permission.WRITE)
    assert not writer.may(Permission.ADMIN)
    assert not Actor("c", Permission.CUSTOM).may(Permission.READ)
