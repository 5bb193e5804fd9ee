"""RTOC's password mode against the spec's worked vectors (SPEC §2.3)."""

from __future__ import annotations

import base64
import json

import pytest

from hub.ws.crypto import (
    WrongPassword,
    decrypt_json,
    decrypt_text,
    encrypt_json,
    encrypt_text,
    pad,
    password_hash,
    password_key,
)

IV = bytes(range(16))


def test_hash_and_key_of_geheim() -> None:
    assert password_hash("geheim") == "rdsPXngmyFfXN20b2bwzwMVEeQourJYUSoryKxKYyUA="
    assert password_key("geheim") == b"rdsPXngmyFfXN20b"
    assert password_key("geheim").hex() == "72647350586e676d794666584e323062"


def test_empty_password_is_a_password() -> None:
    assert password_hash("") == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    assert password_key("") == b"47DEQpj8HBSa+/TI"


def test_get_latest_frame_with_fixed_iv() -> None:
    frame = encrypt_json({"getLatest": True}, password_key("geheim"), IV)
    assert frame == "AAECAwQFBgcICQoLDA0OD5zG5sxkOApePTViD2ikB5m0PmraApRrt7ktdVlQPTZs"
    raw = base64.b64decode(frame)
    assert raw[16:].hex() == "9cc6e6cc64380a5e3d35620f68a40799b43e6ada02946bb7b92d7559503d366c"
    assert decrypt_json(frame, password_key("geheim")) == {"getLatest": True}


def test_authorize_frame_with_fixed_iv() -> None:
    msg = {"authorize": "rdsPXngmyFfXN20b2bwzwMVEeQourJYUSoryKxKYyUA="}
    assert len(json.dumps(msg)) == 61
    frame = encrypt_json(msg, password_key("geheim"), IV)
    assert len(frame) == 108
    assert frame == (
        "AAECAwQFBgcICQoLDA0OD5+4hTJ75R+zKdZHN9tYUAsB7MoekjInMCZMozfpx/E65i3Ut4BlqC82D3vHT"
        "jyjxRuHF0tFZaE4dn1UHwWDQOk="
    )


def test_typescript_vector_decrypts() -> None:
    frame = "AqA9v8IMAWYhQ4fDc/p5IZJwel6zGhGtQGeR3rKqKSM="
    assert decrypt_text(frame, password_key("geheim")) == '{"Wow":true}'
    assert decrypt_json(frame, password_key("geheim")) == {"Wow": True}


def test_padding_is_pkcs7_with_a_full_block_when_aligned() -> None:
    assert pad(b"x" * 19)[-13:] == bytes([13]) * 13
    assert pad(b"x" * 16) == b"x" * 16 + bytes([16]) * 16


def test_fresh_iv_per_frame() -> None:
    key = password_key("geheim")
    a, b = encrypt_text("{}", key), encrypt_text("{}", key)
    assert a != b
    assert decrypt_text(a, key) == decrypt_text(b, key) == "{}"


@pytest.mark.parametrize(
    "frame",
    ["not base64 !!", base64.b64encode(b"short").decode(), '{"getLatest": true}'],
)
def test_bad_frames_raise_wrong_password(frame: str) -> None:
    with pytest.raises(WrongPassword):
        decrypt_json(frame, password_key("geheim"))


def test_wrong_key_raises_wrong_password() -> None:
    frame = encrypt_json({"getLatest": True}, password_key("geheim"))
    with pytest.raises(WrongPassword):
        decrypt_json(frame, password_key("other"))
