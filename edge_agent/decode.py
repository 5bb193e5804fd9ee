"""Register decoding as one explicit pipeline: word order, unpack, scale, offset, NaN check.

Every Modbus driver goes through `decode_words` / `encode_value`, so a register map in a
config file and a built-in map (Heliotherm, DPS5020) decode the same way.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

# type name -> (struct code for the big-endian byte string, number of 16-bit words)
TYPES: dict[str, tuple[str, int]] = {
    "int16": (">h", 1),
    "uint16": (">H", 1),
    "int32": (">i", 2),
    "uint32": (">I", 2),
    "float32": (">f", 2),
}
WORD_ORDERS = ("big", "little")


class DecodeError(ValueError):
    """Register words that cannot be turned into a value (or a value into words)."""


@dataclass(frozen=True)
class RegisterFormat:
    """How a value is stored in 16-bit registers."""

    type: str = "uint16"
    word_order: str = "big"  # big: most significant word first (Modbus convention)
    scale: float = 1.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise DecodeError(f"unknown register type {self.type!r}; use one of {sorted(TYPES)}")
        if self.word_order not in WORD_ORDERS:
            raise DecodeError(f"word_order must be 'big' or 'little', got {self.word_order!r}")
        if not math.isfinite(self.scale) or self.scale == 0:
            raise DecodeError(f"scale must be a finite non-zero number, got {self.scale!r}")
        if not math.isfinite(self.offset):
            raise DecodeError(f"offset must be a finite number, got {self.offset!r}")

    @property
    def count(self) -> int:
        """Number of 16-bit registers the value occupies."""
        return TYPES[self.type][1]


def order_words(words: Sequence[int], word_order: str) -> list[int]:
    """Return the words most significant first (step 1 of the pipeline)."""
    return list(words) if word_order == "big" else list(reversed(words))


def unpack_words(words: Sequence[int], type_name: str) -> float:
    """Unpack big-endian-ordered words into the raw number (step 2)."""
    code, count = TYPES[type_name]
    if len(words) != count:
        raise DecodeError(f"{type_name} needs {count} register(s), got {len(words)}")
    for w in words:
        if isinstance(w, bool) or not isinstance(w, int) or not 0 <= w <= 0xFFFF:
            raise DecodeError(f"register value {w!r} is not a 16-bit word")
    raw = b"".join(struct.pack(">H", w) for w in words)
    return struct.unpack(code, raw)[0]


def _scaled(raw: float, scale: float) -> float:
    """raw × scale; divides by 1/scale when that is whole, so 488 × 0.1 gives 48.8 exactly."""
    inverse = 1.0 / scale
    whole = round(inverse)
    if whole != 0 and abs(inverse - whole) < 1e-9 * abs(inverse):
        return raw / whole
    return raw * scale


def decode_words(words: Sequence[int], fmt: RegisterFormat) -> float:
    """Decode registers to a value: order words, unpack, scale, offset, refuse NaN/inf."""
    raw = unpack_words(order_words(words, fmt.word_order), fmt.type)
    if isinstance(raw, float) and not math.isfinite(raw):
        raise DecodeError(f"{fmt.type} registers {list(words)} hold {raw}, not a number")
    value = _scaled(raw, fmt.scale) + fmt.offset
    if not math.isfinite(value):
        raise DecodeError(f"registers {list(words)} scale to {value}, not a finite number")
    return float(value)


def encode_value(value: float, fmt: RegisterFormat) -> list[int]:
    """Encode a value to registers (inverse pipeline); raise DecodeError when out of range."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DecodeError(f"cannot write {value!r}: not a finite number")
    raw = (value - fmt.offset) / fmt.scale
    code, _count = TYPES[fmt.type]
    if fmt.type != "float32":
        rounded = round(raw)
        if abs(raw - rounded) > 1e-6 * max(1.0, abs(raw)):
            raise DecodeError(
                f"{value} is not a multiple of the register step {fmt.scale} ({fmt.type})"
            )
        try:
            packed = struct.pack(code, rounded)
        except struct.error:
            raise DecodeError(f"{value} does not fit in {fmt.type} (raw {rounded})") from None
    else:
        try:
            packed = struct.pack(code, raw)
        except (struct.error, OverflowError):
            raise DecodeError(f"{value} does not fit in float32") from None
    words = [struct.unpack(">H", packed[i : i + 2])[0] for i in range(0, len(packed), 2)]
    return order_words(words, fmt.word_order)  # reversing is its own inverse
