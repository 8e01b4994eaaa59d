"""Line breaking of generated Python statements (the scenario env has no line over 120).

A statement is broken after a comma or before a binary + / - inside brackets (where Python
allows a newline), never inside a string literal; a right-hand side that is not already one
bracketed expression is parenthesised first. Continuation lines are indented one level more.
"""

from __future__ import annotations

LINE_LIMIT = 120  # the longest generated line


def wrap(line: str, indent: str = "    ", limit: int = LINE_LIMIT, inside: bool = False) -> list[str]:
    """`line` (a statement, without its indentation; with `inside`, items of an enclosing
    bracket) broken after commas or before operators inside brackets, so that no line,
    indented by `indent`, is longer than `limit`; a long right-hand side is parenthesised."""
    if len(indent) + len(line) <= limit:
        return [indent + line]
    code, comment = _split_comment(line)
    head, sep, rhs = code.partition(" = ")
    if sep and not inside and not _bracketed(rhs):
        code = f"{head} = ({rhs})"
    lines, rest, level, depth = [], code, indent, int(inside)
    while len(level) + len(rest) > limit:
        cut, depth_after = _break_point(rest, limit - len(level), depth)
        if cut is None:
            break
        lines.append(level + rest[:cut].rstrip())
        rest, level, depth = rest[cut:].lstrip(), indent if inside else indent + "    ", depth_after
    lines.append(level + rest)
    if comment:
        lines.insert(0, indent + comment)
    return lines


def _split_comment(line: str) -> tuple[str, str]:
    depth, quote = 0, None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and depth == 0:
            return line[:i].rstrip(), line[i:]
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
    return line, ""


def _bracketed(code: str) -> bool:
    """`code` is one bracket pair around everything (so that newlines inside are legal)."""
    if not code.startswith("("):
        return False
    depth = 0
    for i, ch in enumerate(code):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0 and i < len(code) - 1:
            return False
    return True


def _break_point(code: str, width: int, depth: int = 0) -> tuple[int | None, int]:
    """The last position <= width after a comma or before an operator inside brackets
    (outside string literals), and the bracket depth there; `depth` is the depth at 0."""
    best, quote = (None, depth), None
    for i, ch in enumerate(code[: width + 1]):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == " " and depth > 0 and i > 0 and (code[i - 1] == "," or code[i + 1:i + 3] in ("+ ", "- ")):
            best = (i + 1 if code[i - 1] == "," else i, depth)
    return best


__all__ = ["LINE_LIMIT", "wrap"]
