"""COPY's option list, read and checked as PostgreSQL 15's ProcessCopyOptions does: the same defaults, the same
errors in the same order, with the same SQLSTATEs, so a client's mistake reads here as it does on PostgreSQL.

Both spellings reach here as pglast DefElems: `WITH (FORMAT csv, HEADER)` and the pre-9.0 `WITH CSV HEADER
QUOTE AS '"' FORCE QUOTE *`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from gateway.session.defelem import boolean_or_text, def_boolean, def_string
from gateway.session.explain import location_position
from virtual_schema import errors as E
from virtual_schema.errors import PgError

Format = Literal["text", "csv", "binary"]


@dataclass(frozen=True, slots=True)
class CopyOptions:
    format: Format = "text"
    delimiter: str = "\t"
    null: str = "\\N"
    header: bool = False
    quote: str = '"'
    escape: str = '"'
    force_quote: tuple[str, ...] = ()  # CSV: columns whose non-NULL values are always quoted
    force_quote_all: bool = False  # FORCE_QUOTE *
    force_not_null: tuple[str, ...] = ()  # COPY FROM, CSV
    force_null: tuple[str, ...] = ()  # COPY FROM, CSV
    encoding: str | None = None  # PostgreSQL's name of the encoding text is converted to; None: UTF8 as it is
    freeze: bool = False


# PostgreSQL's encoding names and aliases (pg_encname_tbl, compared lower-case without punctuation) for the encodings
# Python has a codec for; None: the bytes go out as they are (UTF8, SQL_ASCII).
_ENCODINGS: dict[str, tuple[str, str | None]] = {}
for _pg, _codec, _aliases in (
    ("UTF8", None, "utf8 unicode"), ("SQL_ASCII", None, "sqlascii"),
    ("LATIN1", "latin_1", "latin1 iso88591"), ("LATIN2", "iso8859_2", "latin2 iso88592"),
    ("LATIN3", "iso8859_3", "latin3 iso88593"), ("LATIN4", "iso8859_4", "latin4 iso88594"),
    ("LATIN5", "iso8859_9", "latin5 iso88599"), ("LATIN6", "iso8859_10", "latin6 iso885910"),
    ("LATIN7", "iso8859_13", "latin7 iso885913"), ("LATIN8", "iso8859_14", "latin8 iso885914"),
    ("LATIN9", "iso8859_15", "latin9 iso885915"), ("LATIN10", "iso8859_16", "latin10 iso885916"),
    ("ISO_8859_5", "iso8859_5", "iso88595"), ("ISO_8859_6", "iso8859_6", "iso88596"),
    ("ISO_8859_7", "iso8859_7", "iso88597"), ("ISO_8859_8", "iso8859_8", "iso88598"),
    ("WIN866", "cp866", "win866 alt"), ("WIN874", "cp874", "win874"),
    ("WIN1250", "cp1250", "win1250"), ("WIN1251", "cp1251", "win1251 win"), ("WIN1252", "cp1252", "win1252"),
    ("WIN1253", "cp1253", "win1253"), ("WIN1254", "cp1254", "win1254"), ("WIN1255", "cp1255", "win1255"),
    ("WIN1256", "cp1256", "win1256"), ("WIN1257", "cp1257", "win1257"),
    ("WIN1258", "cp1258", "win1258 abc tcvn tcvn5712 vscii"),
    ("KOI8R", "koi8_r", "koi8r koi8"), ("KOI8U", "koi8_u", "koi8u"),
    ("EUC_JP", "euc_jp", "eucjp"), ("EUC_KR", "euc_kr", "euckr"), ("EUC_CN", "gb2312", "euccn"),
    ("EUC_JIS_2004", "euc_jis_2004", "eucjis2004"), ("SJIS", "cp932", "sjis shiftjis mskanji win932"),
    ("SHIFT_JIS_2004", "shift_jis_2004", "shiftjis2004"), ("BIG5", "cp950", "big5 win950"),
    ("GBK", "gbk", "gbk win936"), ("UHC", "cp949", "uhc win949"), ("GB18030", "gb18030", "gb18030"),
    ("JOHAB", "johab", "johab"),
):
    for _alias in _aliases.split():
        _ENCODINGS[_alias] = (_pg, _codec)
    if _pg.startswith("WIN"):
        _ENCODINGS["windows" + _pg[3:]] = (_pg, _codec)
_UNCONVERTIBLE = {"euctw", "muleinternal", "mule"}  # PostgreSQL encodings Python has no codec for


_CODECS = {pg: codec for pg, codec in _ENCODINGS.values()}


def encoding_codec(name: str) -> tuple[str, str | None]:
    """(PostgreSQL's name, Python codec) of an encoding name as PostgreSQL accepts it; KeyError if unknown."""
    return _ENCODINGS[re.sub(r"[^a-z0-9]", "", name.lower())]


def python_codec(pg_name: str) -> str | None:
    """The Python codec of one of PostgreSQL's encoding names (None: no conversion)."""
    return _CODECS[pg_name]


def _header(defel: dict[str, Any], is_from: bool) -> bool | None:
    """defGetCopyHeaderChoice: a Boolean, or None for MATCH (COPY FROM only)."""
    value = boolean_or_text(defel)
    if isinstance(value, bool):
        return value
    if value == "match":
        if not is_from:
            raise PgError(E.FEATURE_NOT_SUPPORTED, f'cannot use "{def_string(defel)}" with HEADER in COPY TO')
        return None
    raise PgError(E.SYNTAX_ERROR, f'{defel["defname"]} requires a Boolean value or "match"')


def _columns(defel: dict[str, Any], at: int | None) -> tuple[str, ...] | None:
    """A column-name list argument; None for `*`."""
    arg = defel.get("arg")
    if isinstance(arg, dict) and "A_Star" in arg:
        return None
    if isinstance(arg, dict) and "List" in arg:
        return tuple(item["String"]["sval"] for item in arg["List"].get("items", []))
    raise PgError(E.INVALID_PARAMETER_VALUE, f'argument to option "{defel["defname"]}" must be a list of column names',
                  position=at)


def copy_options(node: dict[str, Any], is_from: bool, sql: str) -> CopyOptions:
    """The options of a CopyStmt (parsed from `sql`, which error positions point into), with PostgreSQL's defaults
    and checks."""
    seen: set[str] = set()
    fmt: Format = "text"
    texts: dict[str, str] = {}  # DELIMITER, NULL, QUOTE, ESCAPE as given
    header = match = freeze = force_all = False
    force_quote: tuple[str, ...] | None = None
    force_not_null: tuple[str, ...] | None = None
    force_null: tuple[str, ...] | None = None
    encoding: str | None = None
    for item in node.get("options") or ():
        defel = item["DefElem"]
        name = defel["defname"]
        at = location_position(sql, defel.get("location", -1))  # where the option is written
        if name in seen:
            raise PgError(E.SYNTAX_ERROR, "conflicting or redundant options", position=at)
        seen.add(name)
        if name == "format":
            value = def_string(defel)
            if value not in ("text", "csv", "binary"):
                raise PgError(E.INVALID_PARAMETER_VALUE, f'COPY format "{value}" not recognized',
                              position=at)
            fmt = value  # type: ignore[assignment]
        elif name == "freeze":
            freeze = def_boolean(defel)
        elif name in ("delimiter", "null", "quote", "escape"):
            texts[name] = def_string(defel)
        elif name == "header":
            choice = _header(defel, is_from)
            header, match = bool(choice) or choice is None, choice is None
        elif name == "force_quote":
            cols = _columns(defel, at)
            force_all, force_quote = cols is None, cols or ()
        elif name == "force_not_null":
            force_not_null = _columns(defel, at) or ()
        elif name == "force_null":
            force_null = _columns(defel, at) or ()
        elif name == "encoding":
            value = def_string(defel)
            key = re.sub(r"[^a-z0-9]", "", value.lower())
            if key in _UNCONVERTIBLE:
                raise PgError(E.FEATURE_NOT_SUPPORTED, f'conversion between UTF8 and {value.upper()} is not supported')
            try:
                pg_name, codec = encoding_codec(value)
                encoding = pg_name if codec is not None else None
            except KeyError:
                raise PgError(E.INVALID_PARAMETER_VALUE, f'argument to option "{name}" must be a valid encoding name',
                              position=at) from None
        else:
            raise PgError(E.SYNTAX_ERROR, f'option "{name}" not recognized', position=at)
    delimiter, null, quote, escape = (texts.get(k) for k in ("delimiter", "null", "quote", "escape"))
    if match:
        raise PgError(E.FEATURE_NOT_SUPPORTED, "HEADER MATCH is not supported by this gateway",
                      hint="Use HEADER: the first line is skipped.")
    binary, csv = fmt == "binary", fmt == "csv"
    if binary and delimiter is not None:
        raise PgError(E.SYNTAX_ERROR, "cannot specify DELIMITER in BINARY mode")
    if binary and null is not None:
        raise PgError(E.SYNTAX_ERROR, "cannot specify NULL in BINARY mode")
    delimiter = delimiter if delimiter is not None else ("," if csv else "\t")
    null = null if null is not None else ("" if csv else "\\N")
    if csv:
        quote = quote if quote is not None else '"'
        escape = escape if escape is not None else quote
    if len(delimiter.encode()) != 1:
        raise PgError(E.FEATURE_NOT_SUPPORTED, "COPY delimiter must be a single one-byte character")
    if delimiter in "\r\n":
        raise PgError(E.INVALID_PARAMETER_VALUE, "COPY delimiter cannot be newline or carriage return")
    if "\r" in null or "\n" in null:
        raise PgError(E.INVALID_PARAMETER_VALUE, "COPY null representation cannot use newline or carriage return")
    if not csv and delimiter in "\\.abcdefghijklmnopqrstuvwxyz0123456789":
        raise PgError(E.INVALID_PARAMETER_VALUE, f'COPY delimiter cannot be "{delimiter}"')
    if binary and header:
        raise PgError(E.FEATURE_NOT_SUPPORTED, "cannot specify HEADER in BINARY mode")
    if not csv and quote is not None:
        raise PgError(E.FEATURE_NOT_SUPPORTED, "COPY quote available only in CSV mode")
    if csv and len((quote or "").encode()) != 1:
        raise PgError(E.FEATURE_NOT_SUPPORTED, "COPY quote must be a single one-byte character")
    if csv and delimiter == quote:
        raise PgError(E.INVALID_PARAMETER_VALUE, "COPY delimiter and quote must be different")
    if not csv and escape is not None:
        raise PgError(E.FEATURE_NOT_SUPPORTED, "COPY escape available only in CSV mode")
    if csv and len((escape or "").encode()) != 1:
        raise PgError(E.FEATURE_NOT_SUPPORTED, "COPY escape must be a single one-byte character")
    if not csv and (force_quote is not None or force_all):
        raise PgError(E.FEATURE_NOT_SUPPORTED, "COPY force quote available only in CSV mode")
    if (force_quote is not None or force_all) and is_from:
        raise PgError(E.FEATURE_NOT_SUPPORTED, "COPY force quote only available using COPY TO")
    if not csv and force_not_null is not None:
        raise PgError(E.FEATURE_NOT_SUPPORTED, "COPY force not null available only in CSV mode")
    if force_not_null is not None and not is_from:
        raise PgError(E.FEATURE_NOT_SUPPORTED, "COPY force not null only available using COPY FROM")
    if not csv and force_null is not None:
        raise PgError(E.FEATURE_NOT_SUPPORTED, "COPY force null available only in CSV mode")
    if force_null is not None and not is_from:
        raise PgError(E.FEATURE_NOT_SUPPORTED, "COPY force null only available using COPY FROM")
    if delimiter in null:
        raise PgError(E.FEATURE_NOT_SUPPORTED, "COPY delimiter must not appear in the NULL specification")
    if csv and quote is not None and quote in null:
        raise PgError(E.FEATURE_NOT_SUPPORTED, "CSV quote character must not appear in the NULL specification")
    return CopyOptions(fmt, delimiter, null, header, quote or '"', escape or '"', force_quote or (), force_all,
                       force_not_null or (), force_null or (), encoding, freeze)
