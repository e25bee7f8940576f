"""One text normalization for every curation stage that compares text.

Exact dedup keys, MinHash shingles, decontamination tokens and the echo rule
(F6) all compare `norm(text)`, and the symbol rule (F9) uses the same idea of
what a letter is. Having one definition means a copy that one stage treats as
identical is identical for all of them.

`norm(s)`, in order:

1. remove default-ignorable code points (Unicode DerivedCoreProperties
   Default_Ignorable_Code_Point: soft hyphen U+00AD, zero-width space U+200B,
   ZWNJ/ZWJ, bidi marks, word joiner, BOM U+FEFF, variation selectors, tag
   characters, Hangul fillers). They are invisible, so a copy carrying them is
   the same text to a reader (and a common way to dodge n-gram matching);
2. NFKC, except for characters whose compatibility mapping is `<super>` or
   `<sub>` (x², H₂O, xⁿ, ™): those keep their identity, because folding them
   changes the meaning (`x²` would become `x2`, `10⁵` would become `105`).
   Every other compatibility mapping is a presentation variant of the same
   text and is folded: full-width `ＡＢＣ１２３`, half-width katakana,
   ligatures `ﬁ`, Arabic presentation forms, math alphanumerics `𝐱`,
   circled/squared forms, NBSP;
3. casefold (`Straße` → `strasse`), then NFKC again (case folding can
   produce sequences NFKC changes; this keeps `norm` idempotent);
4. collapse whitespace runs (Unicode White_Space, including U+2028, U+0085)
   to one space and strip.

Combining marks (category M: Devanagari/Tamil vowel signs, viramas, accents)
are kept: they are parts of letters, so `दिन` and `दान` stay different.

The spec (shared/specs/curation.md §2) defines norm as plain NFKC + casefold +
whitespace; steps 1 and the super/subscript exception are taskmill
decisions (issue 9). The spec's test vectors are unchanged by them.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import lru_cache

import regex

# Default_Ignorable_Code_Point ranges (Unicode 15, DerivedCoreProperties.txt)
_IGNORABLE_RANGES = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
_IGNORABLE = re.compile("[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in _IGNORABLE_RANGES) + "]+")
_WHITESPACE = re.compile(r"\s+")
# a word (letters, combining marks, decimal digits, connector punctuation) or one other symbol
_TOKEN = regex.compile(r"\w+|[^\w\s]")
# a symbol for F9: not a letter, number, mark or space; separators between two digits are data
# (2016-12-31, 23:00:00+00:00, 1,234.5), not noise, so they do not count
# (\x1c-\x1f are spaces to str.isspace but not to Unicode White_Space)
_SYMBOL = regex.compile(r"(?<!\d)[^\p{L}\p{N}\p{M}\s\x1c-\x1f]|[^\p{L}\p{N}\p{M}\s\x1c-\x1f](?!\d)")
_ASCII_BETWEEN_DIGITS = re.compile(r"(?<=[0-9])[^0-9A-Za-z\s](?=[0-9])")
_ASCII_SPACE = b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"  # exactly the ASCII chars with str.isspace()
_ASCII_ALNUM = bytes(c for c in range(128) if chr(c).isalnum())
_ASCII_DIGITS = frozenset("0123456789")
KEPT_COMPAT_TAGS = ("<super>", "<sub>")


@lru_cache(maxsize=1)
def _protected() -> re.Pattern:
    """The characters NFKC must not fold (super- and subscripts), as one character class.

    Built on first use from this Python's Unicode database (~0.25 s once), so it
    follows the interpreter's Unicode version instead of a hand-kept list.
    """
    chars = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.decomposition(chr(c)).startswith(KEPT_COMPAT_TAGS)]
    return re.compile("[" + "".join(re.escape(c) for c in chars) + "]")


def _nfkc_keeping_scripts(text: str) -> str:
    """NFKC everywhere except on super/subscript characters, which stay as they are."""
    protected = _protected()
    if not protected.search(text):
        return unicodedata.normalize("NFKC", text)
    pieces, last = [], 0
    for hit in protected.finditer(text):
        pieces.append(unicodedata.normalize("NFKC", text[last : hit.start()]))
        pieces.append(hit.group(0))
        last = hit.end()
    pieces.append(unicodedata.normalize("NFKC", text[last:]))
    return "".join(pieces)


def strip_ignorables(text: str) -> str:
    """Remove default-ignorable code points (zero-width space, soft hyphen, BOM, ...)."""
    return _IGNORABLE.sub("", text)


def norm(text: str) -> str:
    """The comparison form of a text (see the module docstring); idempotent.

    Input: any str (None and non-str values are the caller's to convert).
    Output: a str with no ignorable code points, compatibility-folded except
    super/subscripts, case-folded, single-spaced and stripped.
    """
    if text.isascii():  # nothing to fold or remove: same result as below, much faster
        return " ".join(text.split()).lower()
    text = _nfkc_keeping_scripts(strip_ignorables(text)).casefold()
    text = _nfkc_keeping_scripts(text)
    return _WHITESPACE.sub(" ", text).strip()


def tokens(text: str) -> list[str]:
    """Word and symbol tokens of norm(text): runs of letters/marks/digits/_, or one other character.

    Marks stay inside their word (`दिन` is one token); `x²` is two tokens, x and ².
    Used by decontamination (spec §5 tokens, applied to the normalized text).
    """
    return _TOKEN.findall(norm(text))


def symbol_ratio(text: str) -> tuple[float, int]:
    """(share of non-space characters that are symbols, number of non-space characters).

    A symbol is a character that is not a letter, number, combining mark or
    space, unless it sits between two digits. Spec §1 F9 counts `not isalnum()`;
    that made Hindi/Tamil vowel signs (category M) and the separators of dates,
    times and numbers into symbols.
    """
    if text.isascii():  # byte deletion in C; the digit-flanked exception only when there are digits
        data = text.encode("ascii")
        chars = len(data.translate(None, _ASCII_SPACE))
        symbols = len(data.translate(None, _ASCII_SPACE + _ASCII_ALNUM))
        if symbols and not _ASCII_DIGITS.isdisjoint(text):
            symbols -= len(_ASCII_BETWEEN_DIGITS.findall(text))
    else:
        chars = len(text) - len("".join(_WHITESPACE.findall(text)))
        symbols = len(_SYMBOL.findall(text))
    return (symbols / chars if chars else 0.0), chars
