"""Lenient parsing and canonical writing of NNVM/MXNet string attributes.

Attribute values in graph JSON are strings.  Writers disagree ("[3, 3]", "(3, 3)", "3",
"(3L, 3L)", "true", "1"), so every reader goes through the parsers here; writers use
:func:`format_value`, which emits the dmlc canonical form.  Nothing here evaluates
Python code: tuples are read by a small hand-written scanner.
"""
from __future__ import annotations

import math
import re

_TRUE = {"true", "1", "t", "y", "yes"}
_FALSE = {"false", "0", "f", "n", "no"}
_NUM_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?[lL]?$")
_MAX_DEPTH = 4


class BadValue(Exception):
    """A value that does not parse as its kind; the op table turns it into AttributeParseError."""


def parse_bool(text) -> bool:
    if isinstance(text, bool):
        return text
    if isinstance(text, (int, float)):
        return bool(text)
    s = str(text).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise BadValue(f"expected a boolean, got {text!r}")


def parse_int(text) -> int:
    if isinstance(text, bool):
        return int(text)
    if isinstance(text, int):
        return text
    if isinstance(text, float):
        if text != int(text):
            raise BadValue(f"expected an integer, got {text!r}")
        return int(text)
    s = str(text).strip().rstrip("lL")
    if s.lower() in ("true", "false"):
        return int(s.lower() == "true")
    try:
        return int(s, 10)
    except ValueError:
        pass
    try:
        f = float(s)
    except ValueError:
        raise BadValue(f"expected an integer, got {text!r}") from None
    if not math.isfinite(f) or f != int(f):
        raise BadValue(f"expected an integer, got {text!r}")
    return int(f)


def parse_float(text) -> float:
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    s = str(text).strip().rstrip("lL")
    low = s.lower()
    if low in ("inf", "+inf", "infinity", "+infinity"):
        return math.inf
    if low in ("-inf", "-infinity"):
        return -math.inf
    if low == "nan":
        return math.nan
    try:
        return float(s)
    except ValueError:
        raise BadValue(f"expected a number, got {text!r}") from None


def _scan_nested(text: str):
    """Parse '(1, 2)', '[1,2]', '((0,0),(1,1))', '3', '()' into nested lists of strings."""
    s = text.strip()
    pos = 0
    n = len(s)

    def skip():
        nonlocal pos
        while pos < n and s[pos] in " \t\r\n":
            pos += 1

    def parse_item(depth):
        nonlocal pos
        skip()
        if pos >= n:
            raise BadValue("unexpected end")
        if s[pos] in "([":
            if depth >= _MAX_DEPTH:
                raise BadValue("tuple nested too deeply")
            close = ")" if s[pos] == "(" else "]"
            pos += 1
            items = []
            skip()
            if pos < n and s[pos] == close:
                pos += 1
                return items
            while True:
                items.append(parse_item(depth + 1))
                skip()
                if pos < n and s[pos] == ",":
                    pos += 1
                    skip()
                    if pos < n and s[pos] == close:  # trailing comma "(1,)"
                        pos += 1
                        return items
                    continue
                if pos < n and s[pos] == close:
                    pos += 1
                    return items
                raise BadValue(f"expected ',' or '{close}' at position {pos}")
        start = pos
        while pos < n and s[pos] not in ",)] \t\r\n([":
            pos += 1
        tok = s[start:pos]
        if not tok:
            raise BadValue(f"empty element at position {start}")
        return tok

    if not s:
        raise BadValue("empty value")
    item = parse_item(0)
    skip()
    if pos != n:
        # allow a bare comma-separated list "1, 2"
        if s[pos] == ",":
            return _scan_nested("(" + s + ")")
        raise BadValue(f"unexpected text at position {pos}")
    return item


def _flat_tuple(text, conv):
    if isinstance(text, (list, tuple)):
        return tuple(conv(x) for x in text)
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return (conv(text),)
    item = _scan_nested(str(text))
    if isinstance(item, str):
        if item.lower() == "none":
            raise BadValue("expected a tuple, got None")
        return (conv(item),)
    out = []
    for x in item:
        if isinstance(x, list):
            raise BadValue("expected a flat tuple")
        out.append(conv(x))
    return tuple(out)


def parse_shape(text) -> tuple:
    return _flat_tuple(text, parse_int)


def parse_float_tuple(text) -> tuple:
    return _flat_tuple(text, parse_float)


def parse_tuple_tuple_int(text) -> tuple:
    if isinstance(text, (list, tuple)):
        return tuple(tuple(parse_int(y) for y in x) for x in text)
    item = _scan_nested(str(text))
    if isinstance(item, str) or any(not isinstance(x, list) for x in item):
        raise BadValue("expected a tuple of tuples")
    return tuple(tuple(parse_int(y) for y in x if not isinstance(y, list)) for x in item)


def parse_str(text) -> str:
    s = str(text).strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        s = s[1:-1]
    return s


def parse_split(text):
    """NNVM split quirk: "2" = 2 equal sections (int); "(2,)"/"[2]" = split at index 2 (tuple)."""
    if isinstance(text, int):
        return text
    if isinstance(text, (list, tuple)):
        return tuple(parse_int(x) for x in text)
    s = str(text).strip()
    if s and (s[0].isdigit() or s[0] in "+"):
        return parse_int(s)
    return parse_shape(s)


_PARSERS = {
    "int": parse_int,
    "float": parse_float,
    "bool": parse_bool,
    "str": parse_str,
    "shape": parse_shape,
    "tuple_float": parse_float_tuple,
    "tuple_tuple_int": parse_tuple_tuple_int,
    "dtype": parse_str,
    "layout": parse_str,
    "split": parse_split,
}
ATTR_TYPES = tuple(_PARSERS)


def parse_value(kind: str, text, *, optional: bool = False):
    """Parse one attribute value of the given kind; raises BadValue."""
    if optional and (text is None or (isinstance(text, str) and text.strip().lower() in ("none", ""))):
        return None
    return _PARSERS[kind](text)


def format_value(kind: str, value) -> str:
    """Write a value in the dmlc canonical string form."""
    if value is None:
        return "None"
    if kind == "bool":
        return "True" if value else "False"
    if kind == "int":
        return str(int(value))
    if kind == "float":
        return _fmt_float(value)
    if kind == "shape":
        return _fmt_tuple([int(v) for v in value])
    if kind == "tuple_float":
        return _fmt_tuple([_fmt_float(v) for v in value])
    if kind == "tuple_tuple_int":
        return "(" + ", ".join(_fmt_tuple([int(v) for v in t]) for t in value) + ")"
    if kind == "split":
        if isinstance(value, int):
            return str(value)
        return _fmt_tuple([int(v) for v in value])
    return str(value)


def format_literal(value) -> str:
    """A Python value in the dmlc canonical form, its kind taken from its type: what an emitter
    writes for attributes it builds itself (bool, float, None, a nested tuple or list of them,
    anything else as ``str``)."""
    if isinstance(value, bool):
        return format_value("bool", value)
    if isinstance(value, float):
        return format_value("float", value)
    if isinstance(value, (list, tuple)):
        return _fmt_tuple([format_literal(v) for v in value])
    return format_value("str", value)


def _fmt_tuple(items) -> str:
    items = [str(x) for x in items]
    if len(items) == 1:
        return f"({items[0]},)"
    return "(" + ", ".join(items) + ")"


def _fmt_float(v) -> str:
    v = float(v)
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if math.isnan(v):
        return "nan"
    return repr(v)
