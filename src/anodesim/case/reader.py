"""The case-file reader: a table read key by key with typed getters; unknown keys are
rejected with a did-you-mean; every check raises one CaseError line naming the key path, the
value and what was expected. Study files use the same reader.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CaseError
from .model import ZERO_CELSIUS_K


class UnknownKeyError(CaseError):
    """A key (or face name) the case does not have.

    Attributes:
        path: where it is, as in the message ("beam.fwhm", "loading.segment[0].power").
        suggestion: the closest known name, or None.

    Args:
        extra: text after the list of known names; None: no list (only the suggestion).
    """

    def __init__(self, path: str, what: str, known, extra: str | None = ""):
        self.path = path
        name = path.rsplit(".", 1)[-1]
        self.suggestion = _closest(name, known)
        hint = ""
        if self.suggestion:
            hint = f" (did you mean '{self.suggestion}'?{_why(name, self.suggestion)})"
        listing = f"; expected one of: {', '.join(known) or '(none)'}" if extra is not None \
            else ""
        super().__init__(f"{path}: unknown {what}{hint}{listing}{extra or ''}")


#: Unit suffixes of key names, in lower case: a key whose stem matches a known key's with
#: another of these is that quantity in another unit ("fwhm_mm"). Any short suffix counted
#: before: "cooled_edn" was "cooled_end" in another unit.
UNITS = frozenset({"m", "mm", "um", "nm", "in", "kv", "v", "ma", "a", "w", "kw", "s", "ms",
                   "us", "ns", "h", "min", "c", "k", "f", "deg", "rad", "px", "rel", "j", "pa",
                   "mpa", "gpa", "mk", "m2k", "kgk", "m2", "m3", "l", "hz"})


def _stem(key: str) -> str:
    """A key without its unit suffix, in lower case ("fwhm_um" → "fwhm")."""
    head, _, tail = key.lower().rpartition("_")
    return head if head and tail in UNITS else key.lower()


def _closest(name: str, known) -> str | None:
    """The known key a mistyped name most likely means: the same key in other letter case,
    the same quantity in another unit, or the closest spelling."""
    known = list(known)
    for k in known:
        if k.lower() == name.lower():
            return k
    same = [k for k in known if _stem(k) == _stem(name)]
    if same:
        return same[0]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return close[0] if close else None


def _why(name: str, meant: str) -> str:
    if name.lower() == meant.lower():
        return " names are case-sensitive"
    if _stem(name) == _stem(meant):
        return " units are part of key names"
    return ""


# --------------------------------------------------------------------------------------
# Reading helpers: every check raises one CaseError line.
# --------------------------------------------------------------------------------------
def _fail(path: str, value: Any, expected: str) -> CaseError:
    return CaseError(f"{path} = {value!r}: expected {expected}")


class _Section:
    """A table of the case file, read key by key; unread keys are rejected at the end."""

    def __init__(self, data: Any, path: str):
        if not isinstance(data, dict):
            raise _fail(path, data, "a table")
        self.data = data
        self.path = path
        self.allowed: set[str] = set()

    def _key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        self.allowed.add(key)
        return key in self.data

    def raw(self, key: str, default: Any = ..., *, expected: str = "a value") -> Any:
        self.allowed.add(key)
        if key not in self.data:
            if default is ...:
                self._mistyped(key)
                raise CaseError(f"{self._key(key)}: missing; expected {expected}"
                                + self._unread_hint(key))
            return default
        return self.data[key]

    def _mistyped(self, key: str) -> None:
        """A required key is missing: if the table has a key that can only mean it (the same
        name in other letter case, or the same quantity in another unit), report that key
        instead. (A near spelling may be another valid key not read yet: left to close().)"""
        for given in self.data:
            if given not in self.allowed and (given.lower() == key.lower()
                                              or _stem(given) == _stem(key)):
                raise UnknownKeyError(self._key(given), "key", [key], extra=None)

    def _unread_hint(self, key: str) -> str:
        """For a missing key: the table's keys not read so far that are spelt like it (a
        near spelling may still be another valid key, so it is named, not called unknown)."""
        unread = [k for k in self.data if k not in self.allowed]
        close = difflib.get_close_matches(key, unread, n=2, cutoff=0.6)
        if not close:
            return ""
        names = " or ".join(f"'{c}'" for c in close)
        where = "table" if self.path else "file"
        return f" (the {where} has {names}, not a key read so far: a misspelling of '{key}'?)"

    def number(self, key, default: Any = ..., *, positive=False, nonneg=False, lo=None, hi=None,
               expected=None) -> float | None:
        what = expected or (
            "a positive number" if positive else "a non-negative number" if nonneg else "a number"
        )
        if key not in self.data and default is not ...:
            self.allowed.add(key)
            return default
        v = self.raw(key, expected=what)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _fail(self._key(key), v, what)
        v = float(v)
        if not math.isfinite(v):
            raise _fail(self._key(key), v, f"a finite number ({what})")
        if (positive and v <= 0) or (nonneg and v < 0):
            raise _fail(self._key(key), v, what)
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise _fail(self._key(key), v, what)
        return v

    def integer(self, key, default: Any = ..., *, minimum=1, maximum=None, why="") -> int:
        what = f"an integer >= {minimum}" if maximum is None else \
            f"an integer from {minimum} to {maximum:,}{why}"
        v = self.raw(key, default, expected=what)
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum or \
                (maximum is not None and v > maximum):
            raise _fail(self._key(key), v, what)
        return v

    def choice(self, key, options, default: Any = ...) -> str:
        what = "one of " + ", ".join(f'"{o}"' for o in options)
        v = self.raw(key, default, expected=what)
        if v is None and default is None and key not in self.data:
            return None
        if v not in options:
            hint = _did_you_mean(str(v), options)
            raise _fail(self._key(key), v, what + hint)
        return v

    def string(self, key, default: Any = ...) -> str:
        v = self.raw(key, default, expected="a string")
        if not isinstance(v, str):
            raise _fail(self._key(key), v, "a string")
        return v

    def boolean(self, key, default: Any = ...) -> bool:
        v = self.raw(key, default, expected="true or false")
        if not isinstance(v, bool):
            raise _fail(self._key(key), v, "true or false")
        return v

    def section(self, key, default: Any = ...) -> _Section:
        v = self.raw(key, {} if default is ... else default, expected="a table")
        if default is ... and key not in self.data:
            self._mistyped(key)
            raise CaseError(f"{self._key(key)}: missing; expected a table [{self._key(key)}]"
                            + self._unread_hint(key))  # [loadng]: named, as a key's
        return _Section(v, self._key(key))

    def close(self) -> None:
        """Reject keys that were never read (with a did-you-mean)."""
        for key in self.data:
            if key not in self.allowed:
                raise UnknownKeyError(self._key(key), "key", sorted(self.allowed))


def _did_you_mean(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _celsius(sec: _Section, key: str, default: Any = ...) -> float | None:
    v = sec.number(key, default, lo=-ZERO_CELSIUS_K,
                   expected="a temperature in °C above absolute zero")
    return None if v is None else v + ZERO_CELSIUS_K


def _vector(sec: _Section, key: str, default: Any = ...) -> tuple[float, float, float]:
    v = sec.raw(key, default, expected="a direction [x, y, z]")
    if (not isinstance(v, (list, tuple)) or len(v) != 3
            or any(isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c)
                   for c in v) or not any(v)):
        raise _fail(sec._key(key), v, "a non-zero direction [x, y, z] of three numbers")
    with np.errstate(over="ignore", under="ignore"):
        norm = float(np.linalg.norm(np.asarray(v, dtype=float)))
    if not 1e-100 < norm < 1e100:  # [1e-300, 0, 1e-300]: its norm underflowed to 0
        raise _fail(sec._key(key), v, "a direction [x, y, z] of moderate numbers "
                    "(length between 1e-100 and 1e100)")
    return tuple(float(c) for c in v)


def _numbers(sec: _Section, key: str, default, lo: float, hi: float, what: str) -> tuple:
    v = sec.raw(key, list(default), expected=what)
    if (not isinstance(v, list) or not v
            or any(isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x)
                   or not lo < x <= hi for x in v)):
        raise _fail(sec._key(key), v, what)
    return tuple(float(x) for x in v)


def read_toml(path: str | Path, what: str = "case file") -> dict:
    """Parse a TOML file (a case or a study) into a dict.

    Raises:
        CaseError: the file cannot be read, is not UTF-8 text or is not valid TOML (one line).
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            # a byte-order mark (Windows editors write one) is not TOML: "Invalid statement
            # (at line 1, column 1)" on a file that looks right
            data = tomllib.loads(f.read().removeprefix(b"\xef\xbb\xbf").decode())
    except OSError as e:
        raise CaseError(f"{path}: cannot read the {what} ({e.strerror or e})") from None
    except tomllib.TOMLDecodeError as e:
        raise CaseError(f"{path}: not valid TOML ({e})") from None
    except UnicodeDecodeError:
        raise CaseError(f"{path}: not a text file in UTF-8 (a TOML {what} is expected)") \
            from None
    except ValueError:  # tomllib's int() of a number over 4300 digits
        raise CaseError(f"{path}: not valid TOML (a number of thousands of digits; expected "
                        f"a TOML integer of 64 bits, {INT64[0]} to {INT64[1]})") from None
    _check_integers(data, "")
    return data


#: TOML integers are 64-bit ("an integer that cannot be represented losslessly must be an
#: error"); Python's tomllib reads any length, and a longer one overflowed float() in the
#: checks of a number ("internal error").
INT64 = (-2 ** 63, 2 ** 63 - 1)


def _check_integers(value: Any, path: str) -> None:
    """Refuse an integer outside 64 bits anywhere in a parsed TOML file or a case dict
    (one line naming its key)."""
    if isinstance(value, dict):
        for k, v in value.items():
            _check_integers(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_integers(v, f"{path}[{i}]")
    elif isinstance(value, int) and not isinstance(value, bool) and \
            not INT64[0] <= value <= INT64[1]:
        try:
            digits = f"{len(str(abs(value)))}"  # from a file at most 4300 (tomllib's int())
        except ValueError:  # a script's dict: str() refuses more than 4300 digits
            digits = f"about {int(value.bit_length() * math.log10(2)) + 1}"
        raise CaseError(f"{path} = {'-' if value < 0 else ''}(an integer of {digits} "
                        f"digits): expected a TOML integer of 64 bits, {INT64[0]} to "
                        f"{INT64[1]} (a larger number is a float: 1e25)")
