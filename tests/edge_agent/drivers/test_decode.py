"""Golden cases for the register decoding pipeline (tests/cases/decode/*.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_agent.decode import DecodeError, RegisterFormat, decode_words, encode_value

CASES = sorted((Path(__file__).parents[2] / "cases" / "decode").glob("*.json"))


def test_there_are_golden_cases() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_case(path: Path) -> None:
    case = json.loads(path.read_text())
    direction = case.get("direction", "decode")
    if "error" in case:
        with pytest.raises(DecodeError, match=case["error"]):
            fmt = RegisterFormat(**case["format"])
            if direction == "decode":
                decode_words(case["words"], fmt)
            else:
                encode_value(case["value"], fmt)
        return
    fmt = RegisterFormat(**case["format"])
    if direction == "decode":
        got = decode_words(case["words"], fmt)
        if case.get("tolerance") == 0:
            assert got == case["expected"]  # exactly, not merely close
        else:
            assert got == pytest.approx(case["expected"], abs=case.get("tolerance", 1e-9))
        # the inverse pipeline gives the same words back
        assert encode_value(got, fmt) == case["words"]
    else:
        words = encode_value(case["value"], fmt)
        assert words == case["expected_words"]
        assert decode_words(words, fmt) == pytest.approx(case["value"], abs=1e-6)


@pytest.mark.parametrize(
    "kwargs",
    [{"word_order": "middle"}, {"scale": 0.0}, {"scale": float("nan")}, {"offset": float("inf")}],
)
def test_bad_format_is_refused_with_reason(kwargs: dict) -> None:
    with pytest.raises(DecodeError):
        RegisterFormat(**kwargs)
