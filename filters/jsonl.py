"""Line readers for JSONL and plain-text files that split on "\\n" only.

`str.splitlines()` also splits on U+2028, U+2029, U+0085, \\x1c-\\x1e, \\v and \\f,
which JSON allows unescaped inside strings (and taskmill's own messages.jsonl,
written with ensure_ascii=False, contains them): a record would be cut in two.
Errors name the file and the 1-based line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_lines(path: str | Path) -> list[tuple[int, str]]:
    """(line number, text) of the non-blank lines of a UTF-8 file; "\\r\\n" endings and a leading BOM are accepted.

    Raises ValueError naming the file and line when the bytes are not UTF-8.
    """
    path = Path(path)
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{path}:{number}: not valid UTF-8 (byte {err.start + 1} of the line: {raw[err.start:err.start + 4]!r})") from None
        text = text.removesuffix("\r")
        if text.strip():
            lines.append((number, text))
    return lines


def read_jsonl(path: str | Path) -> list[Any]:
    """The JSON value of every non-blank line. Raises ValueError naming file, line and column on bad JSON."""
    values = []
    for number, text in read_lines(path):
        try:
            values.append(json.loads(text))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{number}:{err.colno}: invalid JSON: {err.msg}") from None
    return values
