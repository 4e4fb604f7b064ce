"""Run-time settings (GUCs) with PostgreSQL 15's names, defaults, validation and SHOW text.

The table comes from PostgreSQL itself (pg_settings_15.tsv, see tools/gen_pg_settings.py), so
SHOW ALL, SET with units and pg_settings agree with a real server. Values live per session and
follow PostgreSQL's transaction rules: SET inside a rolled-back transaction is undone, SET LOCAL
lasts until the end of the transaction.
"""

from __future__ import annotations

import csv
import functools
import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources

from virtual_schema.errors import (
    CANT_CHANGE_RUNTIME_PARAM,
    FEATURE_NOT_SUPPORTED,
    INVALID_PARAMETER_VALUE,
    UNDEFINED_OBJECT,
    PgError,
)


@dataclass(frozen=True, slots=True)
class SettingDef:
    name: str  # canonical spelling (DateStyle, TimeZone, …)
    default: str  # SHOW text
    unit: str
    category: str
    short_desc: str
    extra_desc: str
    context: str
    vartype: str
    min_val: str
    max_val: str
    enumvals: tuple[str, ...]


# Reported to the client in ParameterStatus at startup and whenever they change (GUC_REPORT).
REPORTED = (
    "application_name", "client_encoding", "DateStyle", "default_transaction_read_only", "in_hot_standby",
    "integer_datetimes", "IntervalStyle", "is_superuser", "server_encoding", "server_version",
    "session_authorization", "standard_conforming_strings", "TimeZone",
)

# Values that describe this gateway rather than the PostgreSQL build the table was read from.
_GATEWAY_DEFAULTS = {
    "server_version": "15.18 (Semantic SQL Gateway)",
    "server_version_num": "150018",
    "data_directory": "",
    "config_file": "",
    "hba_file": "",
    "ident_file": "",
    "external_pid_file": "",
    "unix_socket_directories": "",
    "listen_addresses": "",
    "krb_server_keyfile": "",
    "ssl": "off",
    "ssl_cert_file": "",
    "ssl_key_file": "",
    "default_transaction_read_only": "on",
    "transaction_read_only": "on",
    "lc_messages": "C.UTF-8",
    "lc_monetary": "C.UTF-8",
    "lc_numeric": "C.UTF-8",
    "lc_time": "C.UTF-8",
    "lc_collate": "C.UTF-8",
    "lc_ctype": "C.UTF-8",
    "client_encoding": "UTF8",
    "server_encoding": "UTF8",
    "TimeZone": "UTC",
    "log_timezone": "UTC",
}


def _load() -> dict[str, SettingDef]:
    text = resources.files("gateway.session").joinpath("pg_settings_15.tsv").read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if not ln.startswith("#")]
    out: dict[str, SettingDef] = {}
    for row in csv.DictReader(lines, delimiter="\t"):
        name = row["name"]
        out[name.lower()] = SettingDef(
            name=name,
            default=_GATEWAY_DEFAULTS.get(name, row["show"]),
            unit=row["unit"],
            category=row["category"],
            short_desc=row["short_desc"],
            extra_desc=row["extra_desc"],
            context=row["context"],
            vartype=row["vartype"],
            min_val=row["min_val"],
            max_val=row["max_val"],
            enumvals=tuple(v for v in row["enumvals"].split(",") if v),
        )
    for name in ("is_superuser", "session_authorization"):  # not in pg_settings but reported
        out.setdefault(name.lower(), SettingDef(name, "", "", "Preset Options", "", "", "internal",
                                                "string", "", "", ()))
    return out


DEFINITIONS: dict[str, SettingDef] = _load()

_TIME_UNITS = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
_MEM_UNITS = {"B": 1, "kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_UNIT_BASE = {"ms": ("time", 1), "s": ("time", 1000), "min": ("time", 60_000),
              "kB": ("mem", 1024), "8kB": ("mem", 8192), "B": ("mem", 1), "MB": ("mem", 1024**2)}
_NUM_UNIT = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
_TRUE = {"on", "true", "yes", "1", "t", "y"}
_FALSE = {"off", "false", "no", "0", "f", "n"}


def _format_with_unit(base_value: int, unit: str) -> str:
    """PostgreSQL's SHOW text for an integer setting with a unit: the largest unit that divides it."""
    kind, factor = _UNIT_BASE[unit]
    absolute = base_value * factor
    if base_value == 0 or base_value == -1:
        return str(base_value) if base_value == -1 else f"0{'' if kind == 'time' else unit}" if kind == "mem" \
            else "0"
    table = (("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1000), ("ms", 1)) if kind == "time" \
        else (("TB", 1024**4), ("GB", 1024**3), ("MB", 1024**2), ("kB", 1024), ("B", 1))
    for name, size in table:
        if size >= factor and absolute % size == 0:
            return f"{absolute // size}{name}"
    return f"{base_value}{unit}"


def normalize_value(d: SettingDef, raw: str) -> str:
    """Validate `raw` for setting `d` and return the text SHOW will print; PgError 22023 if invalid."""
    value = raw.strip()
    lname = d.name.lower()
    if lname == "datestyle":
        return _normalize_datestyle(value)
    if lname == "timezone" or lname == "log_timezone":
        return _normalize_timezone(value)
    if lname == "client_encoding":
        value = value.strip("'\"")
        if value.upper().replace("-", "").replace("_", "") in ("UTF8", "UNICODE"):
            return "UTF8"
        raise PgError(FEATURE_NOT_SUPPORTED, f'conversion between {value} and UTF8 is not supported',
                      hint="This gateway speaks UTF8 only.")
    if d.vartype == "bool":
        low = value.lower()
        if low in _TRUE:
            return "on"
        if low in _FALSE:
            return "off"
        raise PgError(INVALID_PARAMETER_VALUE, f'parameter "{d.name}" requires a Boolean value')
    if d.vartype == "enum":
        for option in d.enumvals:
            if option.lower() == value.lower():
                return option
        raise PgError(INVALID_PARAMETER_VALUE, f'invalid value for parameter "{d.name}": "{value}"',
                      hint="Available values: " + ", ".join(d.enumvals) + ".")
    if d.vartype == "integer":
        m = _NUM_UNIT.match(value)
        if not m:
            raise PgError(INVALID_PARAMETER_VALUE, f'invalid value for parameter "{d.name}": "{value}"')
        number, unit = float(m.group(1)), m.group(2)
        if d.unit and d.unit in _UNIT_BASE:
            kind, factor = _UNIT_BASE[d.unit]
            if unit:
                scale = _TIME_UNITS.get(unit) if kind == "time" else _MEM_UNITS.get(unit)
                if scale is None:
                    valid = '"us", "ms", "s", "min", "h", and "d"' if kind == "time" else \
                        '"B", "kB", "MB", "GB", and "TB"'
                    raise PgError(INVALID_PARAMETER_VALUE, f'invalid value for parameter "{d.name}": "{value}"',
                                  hint=f"Valid units for this parameter are {valid}.")
                base = round(number * scale / factor)
            else:
                base = round(number)
            _check_range(d, base, value)
            return _format_with_unit(base, d.unit)
        if unit:
            raise PgError(INVALID_PARAMETER_VALUE, f'invalid value for parameter "{d.name}": "{value}"')
        _check_range(d, int(number), value)
        return str(int(number))
    if d.vartype == "real":
        try:
            return repr(float(value)).removesuffix(".0") if float(value) == int(float(value)) else repr(float(value))
        except ValueError:
            raise PgError(INVALID_PARAMETER_VALUE, f'parameter "{d.name}" requires a numeric value') from None
    return value


def _check_range(d: SettingDef, v: int, raw: str) -> None:
    if d.min_val and d.max_val and not (float(d.min_val) <= v <= float(d.max_val)):
        raise PgError(INVALID_PARAMETER_VALUE,
                      f'{v} is outside the valid range for parameter "{d.name}" ({d.min_val} .. {d.max_val})')


def _normalize_datestyle(value: str) -> str:
    fmt, order = "ISO", "MDY"
    for part in (p.strip().upper() for p in value.split(",") if p.strip()):
        if part in ("ISO", "SQL", "POSTGRES", "GERMAN"):
            fmt = {"POSTGRES": "Postgres", "GERMAN": "German"}.get(part, part)
        elif part in ("MDY", "DMY", "YMD", "US", "NONEURO", "NONEUROPEAN"):
            order = "MDY" if part in ("US", "NONEURO", "NONEUROPEAN") else part
        elif part in ("EURO", "EUROPEAN"):
            order = "DMY"
        elif part == "DEFAULT":
            fmt, order = "ISO", "MDY"
        else:
            raise PgError(INVALID_PARAMETER_VALUE, f'invalid value for parameter "DateStyle": "{value}"',
                          detail=f'Unrecognized key word: "{part.lower()}".')
    if fmt != "ISO":
        raise PgError(FEATURE_NOT_SUPPORTED, f"DateStyle {fmt} is not supported",
                      hint="This gateway formats dates in ISO style, as drivers expect.")
    return f"{fmt}, {order}"


def _normalize_timezone(value: str) -> str:
    v = value.strip("'\"")
    if v.upper() in ("UTC", "GMT", "Z", "ZULU", "DEFAULT", "LOCAL"):
        return "UTC" if v.upper() in ("Z", "ZULU", "DEFAULT", "LOCAL") else v.upper()
    try:
        zoneinfo.ZoneInfo(v)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise PgError(INVALID_PARAMETER_VALUE, f'invalid value for parameter "TimeZone": "{value}"') from None
    return v


class SessionSettings:
    """One session's settings: defaults ← startup parameters ← SET; SET LOCAL overlays per transaction."""

    def __init__(self, overrides: dict[str, str] | None = None) -> None:
        self._values: dict[str, str] = {}
        self._custom: dict[str, str] = {}
        self._local: dict[str, str] = {}
        self._saved: tuple[dict[str, str], dict[str, str]] | None = None
        for name, value in (overrides or {}).items():
            self._values[name.lower()] = value

    @staticmethod
    def definition(name: str) -> SettingDef | None:
        return DEFINITIONS.get(name.lower())

    def get(self, name: str) -> str:
        key = name.lower()
        if key in self._local:
            return self._local[key]
        if key in self._values:
            return self._values[key]
        if key in self._custom:
            return self._custom[key]
        d = DEFINITIONS.get(key)
        if d is None:
            raise PgError(UNDEFINED_OBJECT, f'unrecognized configuration parameter "{name}"')
        return d.default

    def set(self, name: str, raw: str, *, local: bool = False, at_startup: bool = False) -> str:
        """Apply SET; returns the normalized value. Raises PgError with PostgreSQL's SQLSTATEs."""
        key = name.lower()
        d = DEFINITIONS.get(key)
        if d is None:
            if "." in key:  # placeholder ("custom") variables, as PostgreSQL allows
                (self._local if local else self._custom)[key] = raw
                return raw
            raise PgError(UNDEFINED_OBJECT, f'unrecognized configuration parameter "{name}"')
        if d.context in ("internal", "postmaster", "sighup") or (d.context == "backend" and not at_startup):
            if key in ("transaction_read_only", "default_transaction_read_only") and raw.strip().lower() in _TRUE:
                return "on"
            raise PgError(CANT_CHANGE_RUNTIME_PARAM, f'parameter "{d.name}" cannot be changed'
                          + (" now" if d.context != "internal" else ""))
        value = normalize_value(d, raw)
        if key in ("transaction_read_only", "default_transaction_read_only") and value == "off":
            raise PgError("25006", "this gateway is read-only",
                          hint="Semantic models are queried, not written.")
        if local:
            self._local[key] = value
        else:
            self._values[key] = value
            self._local.pop(key, None)
        return value

    def reset(self, name: str) -> None:
        key = name.lower()
        if key not in DEFINITIONS and "." not in key:
            raise PgError(UNDEFINED_OBJECT, f'unrecognized configuration parameter "{name}"')
        self._values.pop(key, None)
        self._custom.pop(key, None)
        self._local.pop(key, None)

    def reset_all(self) -> None:
        self._values = {k: v for k, v in self._values.items() if DEFINITIONS.get(k) is not None
                        and DEFINITIONS[k].context in ("internal", "backend")}
        self._custom.clear()
        self._local.clear()

    # Transactions: SET is transactional in PostgreSQL.
    def begin(self) -> None:
        self._saved = (dict(self._values), dict(self._custom))

    def commit(self) -> None:
        self._saved = None
        self._local.clear()

    def rollback(self) -> None:
        if self._saved is not None:
            self._values, self._custom = self._saved
        self._saved = None
        self._local.clear()

    def snapshot(self) -> dict[str, str]:
        """Current value of every setting by lower-case name (for pg_settings and current_setting)."""
        out = {k: d.default for k, d in DEFINITIONS.items()}
        out.update(self._values)
        out.update(self._custom)
        out.update(self._local)
        return out

    def show_all(self) -> Iterator[tuple[str, str, str]]:
        for key in sorted(DEFINITIONS, key=lambda k: DEFINITIONS[k].name.lower()):
            d = DEFINITIONS[key]
            if d.context == "internal" and key in ("is_superuser", "session_authorization"):
                continue
            yield d.name, self.get(key), d.short_desc

    def timeout_ms(self) -> int:
        """statement_timeout in milliseconds (0 = none)."""
        return _timeout_ms(self.get("statement_timeout"))


@functools.lru_cache(maxsize=64)
def _timeout_ms(text: str) -> int:
    """Parsed once per distinct text: every statement asks for it."""
    m = _NUM_UNIT.match(text)
    if not m:
        return 0
    return int(float(m.group(1)) * _TIME_UNITS.get(m.group(2) or "ms", 1))
