"""RTOC's script extensions located on the token stream: `trig`, `global NAME =`, `global.`.

Recognised by position on Python's tokenizer, never by substring, so text in strings,
comments and names like `trigger` or `myglobal` is left alone.
"""

from __future__ import annotations

import io
import tokenize
from dataclasses import dataclass

from hub.engine.limits import EvalError


@dataclass(frozen=True)
class Source:
    """Script text after RTOC's extensions were located on the token stream."""

    text: str
    trig_lines: frozenset[int]
    global_names: frozenset[str]
    init_lines: frozenset[int]


def preprocess(source: str) -> Source:
    """Find `trig`, `global NAME =` and `global.NAME` tokens and turn them into Python."""
    edits: list[tuple[int, int, int, str]] = []  # (row, start col, end col, replacement)
    trig: set[int] = set()
    names: set[str] = set()
    init: set[int] = set()
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except tokenize.TokenError as exc:  # (message, (row, col)); EOF rows point past the end
        msg, (row, _col) = exc.args
        row = min(row, max(1, len(source.splitlines())))
        raise EvalError(f"syntax error in script: line {row}: {msg}") from None
    except (IndentationError, SyntaxError) as exc:
        raise EvalError(f"syntax error in script: line {exc.lineno}: {exc.msg}") from None
    line_start = True
    skip = {tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT}
    for i, tok in enumerate(toks):
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        nxt2 = toks[i + 2] if i + 2 < len(toks) else None
        if tok.type == tokenize.NAME and tok.string == "global" and nxt is not None:
            row, col = tok.start
            if nxt.type == tokenize.OP and nxt.string == "." and nxt2 is not None:
                names.add(nxt2.string)
                edits.append((row, col, nxt.end[1], ""))
            elif (
                line_start and nxt.type == tokenize.NAME and nxt2 is not None and nxt2.string == "="
            ):
                if col != 0:
                    raise EvalError(
                        f"line {row}: 'global {nxt.string} = ...' must start at column 0"
                    )
                names.add(nxt.string)
                init.add(row)
                edits.append((row, col, nxt.start[1], ""))
        elif (
            tok.type == tokenize.NAME
            and tok.string == "trig"
            and line_start
            and nxt is not None
            and not (nxt.type == tokenize.OP and nxt.string in ("=", ".", "[", ",", ")", ":"))
            and not (nxt.type == tokenize.OP and nxt.string.endswith("="))
        ):
            row, col = tok.start
            trig.add(row)
            edits.append((row, col, tok.end[1], "if  "))
        if tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            line_start = True
        elif tok.type not in skip:
            line_start = False
    lines = source.splitlines(keepends=True)
    for row, c0, c1, rep in sorted(edits, key=lambda e: (e[0], -e[1])):
        ln = lines[row - 1]
        lines[row - 1] = ln[:c0] + rep + ln[c1:]
    return Source(
        text="".join(lines),
        trig_lines=frozenset(trig),
        global_names=frozenset(names),
        init_lines=frozenset(init),
    )
