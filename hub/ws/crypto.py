"""RTOC's websocket password mode, byte for byte (SPEC §2.3): AES-128-CBC, base64 frames."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from typing import Any

BLOCK = 16


class WrongPassword(ValueError):
    """A frame that does not decrypt to JSON with this key (bad base64, wrong key, garbage)."""


def password_hash(password: str) -> str:
    """RTOC's `hash_full`: base64(SHA-256(utf8(password))), 44 characters; sent in authorize."""
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest()).decode("ascii")


def password_key(password: str) -> bytes:
    """The AES-128 key: the first 16 characters of `password_hash`, as ASCII bytes."""
    return password_hash(password)[:16].encode("ascii")


def pad(data: bytes) -> bytes:
    """PKCS#7 to a multiple of 16 (a whole block of 0x10 when already aligned)."""
    n = BLOCK - len(data) % BLOCK
    return data + bytes([n]) * n


def encrypt_text(text: str, key: bytes, iv: bytes | None = None) -> str:
    """One frame: base64(IV ‖ AES-128-CBC(key, IV, PKCS7(utf8(text)))), fresh IV by default."""
    from Cryptodome.Cipher import AES

    if iv is None:
        iv = os.urandom(BLOCK)
    if len(iv) != BLOCK:
        raise ValueError("IV must be 16 bytes")
    ct = AES.new(key, AES.MODE_CBC, iv).encrypt(pad(text.encode("utf-8")))
    return base64.b64encode(iv + ct).decode("ascii")


def decrypt_text(frame: str | bytes, key: bytes) -> str:
    """The plaintext of one frame; strips the pad as RTOC does (no validation beyond sanity)."""
    from Cryptodome.Cipher import AES

    try:
        raw = base64.b64decode(frame, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WrongPassword("frame is not base64") from exc
    if len(raw) < 2 * BLOCK or len(raw) % BLOCK:
        raise WrongPassword(f"frame of {len(raw)} bytes is not IV + whole AES blocks")
    plain = AES.new(key, AES.MODE_CBC, raw[:BLOCK]).decrypt(raw[BLOCK:])
    n = plain[-1]
    if not 1 <= n <= BLOCK:
        raise WrongPassword("bad padding: wrong password?")
    try:
        return plain[:-n].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WrongPassword("decrypted bytes are not UTF-8: wrong password?") from exc


def encrypt_json(obj: Any, key: bytes, iv: bytes | None = None) -> str:
    """Encrypt `json.dumps(obj)` (Python's default separators, ensure_ascii) as one frame."""
    return encrypt_text(json.dumps(obj), key, iv)


def decrypt_json(frame: str | bytes, key: bytes) -> Any:
    """Decrypt one frame and parse its JSON; WrongPassword when either step fails."""
    text = decrypt_text(frame, key)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise WrongPassword("decrypted text is not JSON: wrong password?") from exc
