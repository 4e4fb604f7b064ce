"""to_char(timestamp, text) with PostgreSQL's template patterns, for the catalog engine.

sqlglot turns to_char's template into a strftime format, which has no quarter (Q), Sunday-first day number (D),
milliseconds (MS), blank-padded month and day names (Month, Day), upper-case names (MON, DAY), quoted literal
text or the FM / TH modifiers. The catalog engine's values are few, so the template is interpreted here, one
Python call per value, the way formatting.c's DCH keywords read it.
"""

from __future__ import annotations

import datetime as dt
import functools

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")  # date.weekday() order
_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")

# Keywords PostgreSQL recognises, longest first where one is a prefix of another (formatting.c's DCH table).
_NUMERIC = ("Y,YYY", "YYYY", "YYY", "YY", "Y", "IYYY", "IYY", "IY", "I", "HH24", "HH12", "HH", "MI", "SSSSS",
            "SSSS", "SS", "MS", "US", "MM", "IDDD", "DDD", "DD", "ID", "D", "IW", "WW", "W", "CC", "J", "Q")
_TEXT = ("MONTH", "MON", "DAY", "DY", "RM", "A.M.", "P.M.", "AM", "PM", "A.D.", "B.C.", "AD", "BC", "TZ")
_MIXED = ("Month", "Mon", "Day", "Dy")


@functools.cache
def _keywords() -> tuple[str, ...]:
    words = set(_NUMERIC) | {w.lower() for w in _NUMERIC} | set(_TEXT) | {w.lower() for w in _TEXT} | set(_MIXED)
    return tuple(sorted(words, key=len, reverse=True))


def _ordinal(n: int, upper: bool) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return suffix.upper() if upper else suffix


def _number(key: str, ts: dt.datetime) -> tuple[int, int]:
    """(value, zero-padded width) of a numeric keyword."""
    iso_year, iso_week, iso_day = ts.isocalendar()
    doy = ts.timetuple().tm_yday
    hour12 = ts.hour % 12 or 12
    values: dict[str, tuple[int, int]] = {
        "YYYY": (ts.year, 4), "YYY": (ts.year % 1000, 3), "YY": (ts.year % 100, 2), "Y": (ts.year % 10, 1),
        "IYYY": (iso_year, 4), "IYY": (iso_year % 1000, 3), "IY": (iso_year % 100, 2), "I": (iso_year % 10, 1),
        "HH24": (ts.hour, 2), "HH12": (hour12, 2), "HH": (hour12, 2), "MI": (ts.minute, 2), "SS": (ts.second, 2),
        "SSSS": (ts.hour * 3600 + ts.minute * 60 + ts.second, 1), "MS": (ts.microsecond // 1000, 3),
        "US": (ts.microsecond, 6), "MM": (ts.month, 2), "DDD": (doy, 3), "DD": (ts.day, 2),
        "IDDD": ((iso_week - 1) * 7 + iso_day, 3), "ID": (iso_day, 1), "D": (ts.isoweekday() % 7 + 1, 1),
        "IW": (iso_week, 2), "WW": ((doy - 1) // 7 + 1, 2), "W": ((ts.day - 1) // 7 + 1, 1),
        "CC": ((ts.year + 99) // 100, 2), "J": (ts.toordinal() + 1721425, 1), "Q": ((ts.month - 1) // 3 + 1, 1),
    }
    values["SSSSS"] = values["SSSS"]
    return values[key]


def _cased(text: str, key: str) -> str:
    """MONTH prints MAY, Month prints May, month prints may."""
    if key.isupper():
        return text.upper()
    if key.islower():
        return text.lower()
    return text


def _text(key: str, ts: dt.datetime, fill: bool) -> str:
    """A name keyword's text; without FM, month and day names are blank-padded to 9 and RM to 4."""
    upper = key.upper()
    if upper in ("MONTH", "DAY"):
        name = _MONTHS[ts.month - 1] if upper == "MONTH" else _DAYS[ts.weekday()]
        return _cased(name if fill else name.ljust(9), key)
    if upper in ("MON", "DY"):
        name = _MONTHS[ts.month - 1] if upper == "MON" else _DAYS[ts.weekday()]
        return _cased(name[:3], key)
    if upper == "RM":
        roman = _ROMAN[ts.month - 1]
        return _cased(roman if fill else roman.ljust(4), key)
    if upper in ("AM", "PM", "A.M.", "P.M."):
        half = "AM" if ts.hour < 12 else "PM"
        text = half if "." not in upper else f"{half[0]}.{half[1]}."
        return text if key.isupper() else text.lower()
    if upper in ("AD", "BC", "A.D.", "B.C."):
        era = "AD" if "." not in upper else "A.D."
        return era if key.isupper() else era.lower()
    return ""  # TZ of a timestamp without time zone


def to_char(value: dt.datetime | dt.date, template: str) -> str:
    """PostgreSQL's to_char(timestamp, text)."""
    ts = value if isinstance(value, dt.datetime) else dt.datetime(value.year, value.month, value.day)
    out: list[str] = []
    i, n = 0, len(template)
    while i < n:
        if template[i] == '"':  # quoted literal text; \" inside it is a quote
            j = i + 1
            while j < n and template[j] != '"':
                if template[j] == "\\" and j + 1 < n:
                    j += 1
                out.append(template[j])
                j += 1
            i = j + 1
            continue
        if template.startswith('\\"', i):  # outside quotes a backslash escapes only a double quote
            out.append('"')
            i += 2
            continue
        fill = False
        if template.startswith(("FM", "fm"), i):
            fill, i = True, i + 2
        key = next((k for k in _keywords() if template.startswith(k, i)), None)
        if key is None:
            if not fill:
                out.append(template[i])
                i += 1
            continue
        i += len(key)
        if key.upper() == "Y,YYY":
            out.append(f"{ts.year // 1000},{ts.year % 1000:03d}")
        elif key.upper() in _NUMERIC:
            value_, width = _number(key.upper(), ts)
            text = str(value_) if fill else f"{value_:0{width}d}"
            if template.startswith(("TH", "th"), i):
                text += _ordinal(value_, template[i] == "T")
                i += 2
            out.append(text)
        else:
            out.append(_text(key, ts, fill))
    return "".join(out)
