"""Size and time bounds of one expression or script, checked before an operation runs.

A step budget checked between operations cannot stop one operation that is itself huge
(`4000000 ** 4000000`, `[0] * 10**10`, `'%100000000d' % 1`, `str()` of a list that holds
the same long list 100,000 times). So every operation that can build something much larger
than its operands goes through a function here that estimates the result first and raises
LimitExceeded, an ExpressionError, instead of starting it. The Python sandbox (simpleeval,
asteval), JUEL and FEEL all use the same functions, and so does the deploy-time check that
folds constants, so a limit reads the same wherever it is hit.

An expression also runs under a `Budget`: a wall-clock deadline checked as its nodes are
evaluated, and a total of items and characters its new values may hold.
"""

from __future__ import annotations

import ast
import math
import re
import string
import time
from collections.abc import Callable, Mapping
from typing import Any

from engine.errors import ExpressionError

MAX_INT_BITS = 100_000
"""Largest integer an operation may produce (about 30,000 decimal digits)."""
MAX_ITEMS = 1_000_000
"""Largest list, tuple, set, dict or range one operation may produce, and the longest text."""
MAX_BUILT = 5_000_000
"""Items and characters all the new values of one expression may hold together."""
MAX_ROUND_DIGITS = 1_000
"""round(x, n) with a larger |n| computes 10**|n| first."""
INT_TEXT_DIGITS = 4_300
"""Python's own limit on converting between int and decimal text (sys.get_int_max_str_digits)."""

_SIZED = (str, bytes, bytearray, list, tuple, dict, set, frozenset)
_SEQUENCES = (str, bytes, bytearray, list, tuple)
_SETS = (set, frozenset, dict)
_DIGITS = re.compile(r"\d+")


class LimitExceeded(ExpressionError):
    """An expression or script would exceed a size or time limit; nothing was computed."""


class OutOfMemory(LimitExceeded):
    """A script's process hit its memory ceiling; the process is not used again."""


# --------------------------------------------------------------------------- one evaluation

class Budget:
    """The deadline and the building allowance of one evaluation."""

    __slots__ = ("deadline", "left", "seconds", "ticks")  # ticks: nodes evaluated so far

    def __init__(self, seconds: float, built: int = MAX_BUILT) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.left = built
        self.ticks = 0

    def check_clock(self) -> None:
        """The evaluator calls this every 64 nodes (counting `ticks` itself, which is cheaper than a call)."""
        if time.monotonic() > self.deadline:
            raise LimitExceeded(f"evaluation took longer than {self.seconds:g} seconds")

    def charge(self, value: Any) -> None:
        """Count a newly built value's items or characters."""
        if isinstance(value, _SIZED):
            self.left -= len(value)
            if self.left < 0:
                raise LimitExceeded(f"the values built exceed the limit of {MAX_BUILT:,} items and characters in all")


# --------------------------------------------------------------------------- descriptions

def brief(value: Any) -> str:
    """A short description of a value for messages: never the value itself when it is large."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        if value.bit_length() <= 64:
            return str(value)
        return f"a {digits(value):,}-digit number"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (str, bytes, bytearray)):
        return repr(value) if len(value) <= 20 else f"a text of {len(value):,} characters"
    if isinstance(value, _SIZED):
        return f"a {type(value).__name__} of {len(value):,} item{'' if len(value) == 1 else 's'}"
    return type(value).__name__


def digits(value: int) -> int:
    """Decimal digits of an int, estimated from its bits (exact enough for messages and limits)."""
    return max(1, int(abs(value).bit_length() * 0.30103) + 1)


def shorten(text: str, limit: int = 120) -> str:
    """Text for a message: long source text is cut, so one bad expression cannot flood a log or a page."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def explain(exc: BaseException) -> str:
    """The reason of a failure, in words a diagram author understands (without the exception's name)."""
    text = str(exc)
    if isinstance(exc, ValueError) and "integer string conversion" in text:
        return f"a number with more than {INT_TEXT_DIGITS:,} digits cannot be converted to or from text"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, MemoryError):
        return "ran out of memory"
    return text


def readable(exc: BaseException) -> str:
    """`explain` with the exception's name in front, unless the reason was put in words here."""
    reason = explain(exc)
    if reason != str(exc):
        return reason
    return f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__


# --------------------------------------------------------------------------- numbers

def _too_big(what: str, bits: int) -> LimitExceeded:
    return LimitExceeded(f"{what} would have about {int(bits * 0.30103):,} digits, which exceeds the limit of "
                         f"{int(MAX_INT_BITS * 0.30103):,}")


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def power(base: Any, exponent: Any, modulus: Any = None) -> Any:
    """`base ** exponent` (or pow with a modulus) unless the result would exceed MAX_INT_BITS."""
    if modulus is not None:  # one squaring per exponent bit, each as long as the modulus
        if _int(exponent) and _int(modulus) and exponent.bit_length() * max(modulus.bit_length(), 64) > 2**24:
            raise LimitExceeded(f"pow() with {brief(exponent)} modulo {brief(modulus)} would take too long")
        return pow(base, exponent, modulus)
    if _int(base) and _int(exponent) and exponent > 0 and abs(base) > 1:
        bits = int(math.log2(abs(base)) * exponent)
        if bits > MAX_INT_BITS:
            raise _too_big(f"{brief(base)} ** {brief(exponent)}", bits)
    elif _int(exponent) and exponent.bit_length() > MAX_INT_BITS:
        raise _too_big("the exponent", exponent.bit_length())
    return base**exponent


def multiply(a: Any, b: Any) -> Any:
    """`a * b`: repetition of text or a sequence up to MAX_ITEMS, integers up to MAX_INT_BITS."""
    if _int(b) and isinstance(a, _SEQUENCES):
        _repetition(a, b)
    elif _int(a) and isinstance(b, _SEQUENCES):
        _repetition(b, a)
    elif _int(a) and _int(b):
        bits = a.bit_length() + b.bit_length()
        if bits > MAX_INT_BITS:
            raise _too_big(f"{brief(a)} * {brief(b)}", bits)
    return a * b


def _repetition(sequence: Any, times: int) -> None:
    size = len(sequence) * times
    if size > MAX_ITEMS:
        raise LimitExceeded(f"repeating {brief(sequence)} {brief(times)} times would give {size:,} items, which "
                            f"exceeds the limit of {MAX_ITEMS:,}")


def add(a: Any, b: Any) -> Any:
    """`a + b`: joined texts and sequences up to MAX_ITEMS."""
    if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
        size = len(a) + len(b)
        if size > MAX_ITEMS:
            raise LimitExceeded(f"joining {brief(a)} and {brief(b)} would give {size:,} items, which exceeds the "
                                f"limit of {MAX_ITEMS:,}")
    return a + b


def union(a: Any, b: Any) -> Any:
    """`a | b` of sets or dicts up to MAX_ITEMS (integers are bounded by their operands)."""
    if isinstance(a, _SETS) and isinstance(b, _SETS) and len(a) + len(b) > MAX_ITEMS:
        raise LimitExceeded(f"the union of {brief(a)} and {brief(b)} may exceed the limit of {MAX_ITEMS:,} items")
    return a | b


def left_shift(a: Any, b: Any) -> Any:
    if _int(a) and _int(b) and b > 0 and a.bit_length() + b > MAX_INT_BITS:
        raise _too_big(f"{brief(a)} << {brief(b)}", a.bit_length() + b)
    return a << b


def modulo(a: Any, b: Any) -> Any:
    """`a % b`: for text, %-formatting whose result is estimated first."""
    if isinstance(a, (str, bytes)):
        _percent_size(a, b)
    return a % b


def round_number(number: Any, ndigits: Any = None) -> Any:
    if _int(ndigits) and abs(ndigits) > MAX_ROUND_DIGITS:
        raise LimitExceeded(f"round() to {brief(ndigits)} digits exceeds the limit of {MAX_ROUND_DIGITS:,}")
    return round(number) if ndigits is None else round(number, ndigits)


BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: add, ast.Mult: multiply, ast.Pow: power, ast.LShift: left_shift, ast.Mod: modulo, ast.BitOr: union,
}
"""The binary operators that need a check; the others cannot outgrow their operands."""


# --------------------------------------------------------------------------- text

def text_size(value: Any, limit: int = MAX_ITEMS) -> int:
    """An estimate of len(str(value)); raises LimitExceeded as soon as it passes `limit`.

    Walks containers without building text, so a list holding one long list 100,000 times
    is refused after a few of its items, not after 10^10 of them.
    """
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (str, bytes, bytearray)):
            total += len(item) + 3
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += digits(item) + 1  # past 4,300 digits str() refuses it (see explain)
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 2 + 2 * len(item)
            if total <= limit:
                stack.extend(item)
        elif isinstance(item, Mapping):
            total += 2 + 4 * len(item)
            if total <= limit:
                stack.extend(item.keys())
                stack.extend(item.values())
        else:
            total += 40
        if total > limit:
            raise LimitExceeded(f"the text of {brief(value)} would exceed the limit of {limit:,} characters")
    return total


def _cheap_text(value: Any) -> bool:
    return isinstance(value, (str, float, bool)) or value is None or (_int(value) and value.bit_length() < 10_000)


def to_text(value: Any) -> str:
    """`str(value)` after checking how long it would be."""
    if not _cheap_text(value):
        text_size(value)
    return str(value)


def check_format_spec(spec: str) -> None:
    """A format specification (`>10`, `.3f`) whose width or precision is over MAX_ITEMS is refused."""
    if "{" in spec:
        raise LimitExceeded("computed format specifications are not allowed")
    for number in _DIGITS.findall(spec):
        if len(number) > 7 or int(number) > MAX_ITEMS:
            raise LimitExceeded(f"format width above {MAX_ITEMS} is not allowed")


def formatted(value: Any, spec: str) -> int:
    """Estimated length of format(value, spec)."""
    check_format_spec(spec)
    size = 0 if _cheap_text(value) else text_size(value)
    return size + sum(int(n) for n in _DIGITS.findall(spec)) + (len(value) if isinstance(value, str) else 24)


_PERCENT = re.compile(r"%(?:\((?P<key>[^)]*)\))?[-#0 +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d+))?[hlL]?"
                      r"(?P<conversion>.?)", re.DOTALL)


def _percent_size(template: str | bytes, args: Any) -> None:
    """Estimate `template % args` before it runs: widths, precisions and the text of each value."""
    text = template.decode("latin-1") if isinstance(template, bytes) else template
    values = list(args) if isinstance(args, tuple) else [args]
    mapping = args if isinstance(args, Mapping) else None
    total, position = len(text), 0

    def next_value() -> Any:
        nonlocal position
        value = values[position] if position < len(values) else None
        position += 1
        return value

    for match in _PERCENT.finditer(text):
        if match.group("conversion") == "%":
            continue
        for part in (match.group("width"), match.group("precision")):
            if not part:
                continue
            size = next_value() if part == "*" else (int(part) if len(part) <= 7 else MAX_ITEMS + 1)
            if _int(size) and abs(size) > MAX_ITEMS:
                raise LimitExceeded(f"format width above {MAX_ITEMS} is not allowed")
            total += abs(size) if _int(size) else 0
        key = match.group("key")
        value = mapping.get(key) if mapping is not None and key is not None else next_value()
        total += 24 if _cheap_text(value) and not isinstance(value, str) else text_size(value)
        if total > MAX_ITEMS:
            raise LimitExceeded(f"the formatted text would exceed the limit of {MAX_ITEMS:,} characters")


def _format_size(template: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Estimate `template.format(*args, **kwargs)` before it runs."""
    total, automatic = 0, 0
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return  # str.format reports the malformed template itself
    for literal, name, spec, _conversion in fields:
        total += len(literal)
        if name is None:
            continue
        head = re.split(r"[.\[]", name, maxsplit=1)[0]
        if head == "":
            value, automatic = (args[automatic] if automatic < len(args) else None), automatic + 1
        elif head.isdigit():
            value = args[int(head)] if int(head) < len(args) else None
        else:
            value = kwargs.get(head)
        total += formatted(value, spec or "")
        if total > MAX_ITEMS:
            raise LimitExceeded(f"the formatted text would exceed the limit of {MAX_ITEMS:,} characters")


def join(separator: Any, items: Any) -> Any:
    """`separator.join(items)` up to MAX_ITEMS characters."""
    items = list(items)
    size = len(separator) * max(0, len(items) - 1)
    for item in items:
        size += len(item) if isinstance(item, (str, bytes, bytearray)) else 0
        if size > MAX_ITEMS:
            raise LimitExceeded(f"joining {len(items):,} texts would exceed the limit of {MAX_ITEMS:,} characters")
    return separator.join(items)


# --------------------------------------------------------------------------- calls

def _width_guard(name: str) -> Callable[..., Any]:
    def check(owner: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        width = args[0] if args else kwargs.get("width", kwargs.get("tabsize", 8 if name == "expandtabs" else 0))
        if name == "expandtabs" and _int(width):
            width = owner.count("\t" if isinstance(owner, str) else b"\t") * width + len(owner)
        if _int(width) and width > MAX_ITEMS:
            raise LimitExceeded(f"{name}() to {width} items exceeds the limit of {MAX_ITEMS}")
    return check


def _replace_guard(owner: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    if len(args) < 2 or not isinstance(args[0], type(owner)) or not isinstance(args[1], type(owner)):
        return
    old, new = args[0], args[1]
    count = owner.count(old) if old else len(owner) + 1
    if len(args) > 2 and _int(args[2]) and args[2] >= 0:
        count = min(count, args[2])
    size = len(owner) + count * (len(new) - len(old))
    if size > MAX_ITEMS:
        raise LimitExceeded(f"replace() would give {size:,} characters, which exceeds the limit of {MAX_ITEMS:,}")


def _translate_guard(owner: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    table = args[0] if args else None
    if isinstance(table, Mapping):
        longest = max((len(v) for v in table.values() if isinstance(v, (str, bytes))), default=1)
        if len(owner) * longest > MAX_ITEMS:
            raise LimitExceeded(f"translate() may exceed the limit of {MAX_ITEMS:,} characters")


def _growth_guard(name: str) -> Callable[..., Any]:
    def check(owner: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        size = len(owner) + sum(len(a) for a in args if hasattr(a, "__len__")) + len(kwargs)
        if size > MAX_ITEMS:
            raise LimitExceeded(f"{name}() to {size} items exceeds the limit of {MAX_ITEMS}")
    return check


def _format_guard(owner: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    if isinstance(owner, str):
        _format_size(owner, args, kwargs)


def _format_map_guard(owner: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    if isinstance(owner, str) and args and isinstance(args[0], Mapping):
        _format_size(owner, (), args[0])


_TEXT_METHODS: dict[str, Callable[[Any, tuple[Any, ...], Mapping[str, Any]], None]] = {
    **{name: _width_guard(name) for name in ("ljust", "rjust", "center", "zfill", "expandtabs")},
    "replace": _replace_guard, "translate": _translate_guard, "format": _format_guard,
    "format_map": _format_map_guard,
}
_COLLECTION_METHODS = {name: _growth_guard(name) for name in ("extend", "update", "union", "symmetric_difference")}


def _method_check(func: Any) -> tuple[Any, Callable[..., None] | None, bool]:
    """(owner type or instance, check, unbound) for a text or collection method, else (None, None, False)."""
    name = getattr(func, "__name__", None)
    if not isinstance(name, str):
        return None, None, False
    owner = getattr(func, "__self__", None)
    unbound = False
    if owner is None or isinstance(owner, type):
        owner, unbound = getattr(func, "__objclass__", None) or owner, True
    kind = owner if isinstance(owner, type) else type(owner)
    if kind is not None and issubclass(kind, (str, bytes, bytearray)):
        if name == "join":
            return owner, None, unbound
        return owner, _TEXT_METHODS.get(name), unbound
    if kind is not None and issubclass(kind, (list, set, frozenset, dict, bytearray)):
        return owner, _COLLECTION_METHODS.get(name), unbound
    return None, None, False


def _sum(iterable: Any, start: Any = 0) -> Any:
    """sum() of lists copies the growing result once per item: build it by extending, within MAX_ITEMS."""
    if not isinstance(start, (list, tuple)):
        return sum(iterable, start)
    result = list(start)
    for item in iterable:
        if not isinstance(item, type(start)):
            raise TypeError(f'can only concatenate {type(start).__name__} (not "{type(item).__name__}")')
        if len(result) + len(item) > MAX_ITEMS:
            raise LimitExceeded(f"sum() of {type(start).__name__}s exceeds the limit of {MAX_ITEMS:,} items")
        result.extend(item)
    return tuple(result) if isinstance(start, tuple) else result


def bounded_range(*args: int) -> range:
    """range() of at most MAX_ITEMS numbers (it is lazy, but what iterates it is not)."""
    result = range(*args)
    if len(result) > MAX_ITEMS:
        raise LimitExceeded(f"range() of {len(result)} items exceeds the limit of {MAX_ITEMS}")
    return result


bounded_range.__name__ = "range"

_BUILTINS: dict[Any, Callable[..., Any]] = {
    str: lambda *args, **kwargs: to_text(args[0]) if len(args) == 1 and not kwargs else str(*args, **kwargs),
    pow: power,
    round: round_number,
    sum: _sum,
    format: lambda value, spec="": (formatted(value, spec), format(value, spec))[1],
    range: bounded_range,
}


def call(func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    """Call a function an expression or script names, with the checks its kind needs.

    Key functions handed to sorted/min/max are wrapped too, so a method cannot be called
    unchecked from inside a builtin.
    """
    try:
        special = _BUILTINS.get(func)
    except TypeError:  # unhashable callables are never builtins
        special = None
    if special is not None:
        return special(*args, **kwargs)
    if func in (sorted, min, max) and callable(kwargs.get("key")):
        key = kwargs["key"]
        kwargs = {**kwargs, "key": lambda item: call(key, (item,), {})}
    owner, check, unbound = _method_check(func)
    if owner is not None:
        if unbound:
            if not args:
                return func(*args, **kwargs)
            owner, rest = args[0], args[1:]
        else:
            rest = args
        if getattr(func, "__name__", "") == "join" and rest and isinstance(owner, (str, bytes, bytearray)):
            return join(owner, rest[0])
        if check is not None:
            check(owner, rest, kwargs)
    return func(*args, **kwargs)


def binary(op: type[ast.operator], left: Any, right: Any, fallback: Callable[[Any, Any], Any]) -> Any:
    """A binary operator: checked when it can outgrow its operands, else `fallback`."""
    checked = BINARY.get(op)
    return checked(left, right) if checked is not None else fallback(left, right)
