#!/usr/bin/python3
"""validate_json_schema.py - validate a JSON document against a JSON Schema.

Usage:  python3 validate_json_schema.py [--allow-unchecked-formats] [-v] SCHEMA.json DOC.json

Prints every validation error on stdout as   PATH: MESSAGE
(PATH is a JSONPath such as $.results[0]['reviewed-controls']).
Exit status: 0 = valid, 1 = validation errors, 2 = cannot run
(bad arguments, unreadable/invalid JSON, unsupported or invalid schema,
unsupported regex, a "format" the schema uses that nothing here can check,
a $ref that cannot be resolved locally).

Library: Debian's python3-jsonschema (4.10.3) from /usr/lib/python3/dist-packages.
If started by another interpreter (e.g. a pyenv "python3" with its own
jsonschema), the script re-executes itself with /usr/bin/python3 so the Debian
package is what runs.  Set VALIDATE_NO_REEXEC=1 to disable that.

Choices made (see the comments at each place):
 * Draft: taken from the schema's "$schema" (draft-03/04/06/07/2019-09/2020-12);
   a missing or unknown "$schema" is an error (exit 2), never a guess.
 * The schema itself is first checked against its draft's meta-schema.
 * Regular expressions ("pattern", "patternProperties", format "regex") are
   JSON Schema / ECMA-262 regexes.  Python's `re` rejects \\p{..} and differs
   from ECMA-262 in several places, so every pattern is translated (see
   ecma_to_python) and compiled with Python `re`.  The third-party `regex`
   module is NOT used: Debian's python3-regex is not installed here, and
   one deterministic code path is preferable.
 * Formats: a checker covering every format the schema uses must exist,
   otherwise exit 2 (unless --allow-unchecked-formats, which warns on stderr
   and lets those formats pass).  See build_format_checker.
 * No network: $refs that are not inside the schema file fail (exit 2).
"""

import os
import sys

if (os.environ.get("VALIDATE_NO_REEXEC") != "1"
        and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3")
        and os.path.exists("/usr/bin/python3")):
    os.environ["VALIDATE_NO_REEXEC"] = "1"
    os.execv("/usr/bin/python3", ["/usr/bin/python3", os.path.abspath(__file__)] + sys.argv[1:])

import calendar
import json
import re
import unicodedata

try:
    import jsonschema
    from jsonschema import validators as _validators_mod
    from jsonschema.exceptions import ValidationError, RefResolutionError, best_match
except Exception as exc:  # pragma: no cover
    print(f"validate_json_schema.py: cannot import jsonschema: {exc}", file=sys.stderr)
    sys.exit(2)

try:
    from importlib.metadata import version as _pkg_version
    JSONSCHEMA_VERSION = _pkg_version("jsonschema")
except Exception:  # pragma: no cover
    JSONSCHEMA_VERSION = "unknown"


class CannotRun(Exception):
    """Anything that makes a trustworthy verdict impossible -> exit 2."""


# ---------------------------------------------------------------------------
# ECMA-262 -> Python `re` translation
# ---------------------------------------------------------------------------
# Translation rules (applied outside and inside [...] classes; the result is
# compiled with re.ASCII so that \b / \B are ASCII word boundaries as in ECMA):
#   \p{X}   X a Unicode General Category, short name: one letter (L M N P S Z C)
#           or two letters (Lu Ll Lt Lm Lo Mn Mc Me Nd Nl No Pc Pd Ps Pe Pi Pf
#           Po Sm Sc Sk So Zs Zl Zp Cc Cf Cs Co Cn); also written \pX.
#           -> an explicit class listing exactly the code points whose
#           unicodedata.category() (Python's Unicode database, version printed
#           with -v; 14.0.0 for Debian's Python 3.11) is X (or starts with X
#           for one-letter names).  E.g. \p{L} = Lu|Ll|Lt|Lm|Lo,
#           \p{N} = Nd|Nl|No.  Exact, not an approximation such as [^\W\d_]
#           (which would also admit Nl/No characters like '²').
#   \P{X}   -> the complement of the above (over U+0000..U+10FFFF).
#           Any other property name (scripts, long names, binary props) is
#           refused with exit 2 rather than approximated.
#   \d \D   -> [0-9] / its complement      (ECMA \d is ASCII-only; Python's is Unicode)
#   \w \W   -> [A-Za-z0-9_] / complement   (ECMA \w is ASCII-only)
#   \s \S   -> ECMA WhiteSpace+LineTerminator set
#              [\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]
#              / complement  (Python's \s differs: adds \x1c-\x1f,\x85, lacks \ufeff)
#   .       -> [^\n\r\u2028\u2029]         (outside classes; ECMA '.' excludes all 4)
#   $       -> \Z                          (outside classes; Python '$' also matches
#              before a trailing "\n", so "abc\n" would wrongly match "^abc$")
#   everything else is copied unchanged; ECMA-only syntax Python rejects makes
#   the pattern fail to compile -> exit 2.
MAX_CP = 0x10FFFF
_GC_NAMES = {"L", "M", "N", "P", "S", "Z", "C",
             "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No",
             "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So",
             "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn"}
_category_ranges_cache = {}


def _category_ranges(name):
    """Sorted, merged [lo, hi] code point ranges of General Category `name`."""
    if name not in _category_ranges_cache:
        ranges = []
        for cp in range(MAX_CP + 1):
            if unicodedata.category(chr(cp)).startswith(name):
                if ranges and ranges[-1][1] == cp - 1:
                    ranges[-1][1] = cp
                else:
                    ranges.append([cp, cp])
        _category_ranges_cache[name] = [tuple(r) for r in ranges]
    return _category_ranges_cache[name]


def _complement(ranges):
    out, nxt = [], 0
    for lo, hi in ranges:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= MAX_CP:
        out.append((nxt, MAX_CP))
    return out


def _cp_escape(cp):
    return "\\U%08x" % cp if cp > 0xFFFF else "\\u%04x" % cp


def _ranges_body(ranges):
    """Class body (no brackets) for the ranges, every char written as an escape."""
    parts = []
    for lo, hi in ranges:
        parts.append(_cp_escape(lo) if lo == hi else _cp_escape(lo) + "-" + _cp_escape(hi))
    return "".join(parts)


_ECMA_SPACE = [(0x09, 0x0D), (0x20, 0x20), (0xA0, 0xA0), (0x1680, 0x1680),
               (0x2000, 0x200A), (0x2028, 0x2029), (0x202F, 0x202F),
               (0x205F, 0x205F), (0x3000, 0x3000), (0xFEFF, 0xFEFF)]
_SHORTHAND = {"d": [(0x30, 0x39)],
              "w": [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)],
              "s": _ECMA_SPACE}


def ecma_to_python(pattern):
    out = []
    i, n = 0, len(pattern)
    in_class = False
    class_start = -1  # index in `pattern` where the current class body starts

    def emit_set(ranges):
        body = _ranges_body(ranges)
        out.append(body if in_class else "[" + body + "]")

    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                raise CannotRun(f"regex {pattern!r}: trailing backslash")
            e = pattern[i + 1]
            if e in "pP":
                if i + 2 < n and pattern[i + 2] == "{":
                    close = pattern.find("}", i + 3)
                    if close < 0:
                        raise CannotRun(f"regex {pattern!r}: unterminated \\{e}{{")
                    name, i_next = pattern[i + 3:close], close + 1
                else:
                    name, i_next = pattern[i + 2:i + 3], i + 3
                if name not in _GC_NAMES:
                    raise CannotRun(f"regex {pattern!r}: unsupported Unicode property \\{e}{{{name}}}"
                                    " (only General Category short names are supported)")
                ranges = _category_ranges(name)
                emit_set(ranges if e == "p" else _complement(ranges))
                i = i_next
                continue
            if e.lower() in _SHORTHAND:
                ranges = _SHORTHAND[e.lower()]
                emit_set(ranges if e.islower() else _complement(ranges))
                i += 2
                continue
            out.append(pattern[i:i + 2])  # any other escape: copy verbatim
            i += 2
            continue
        if in_class:
            # ']' right after '[' or '[^' is a literal in Python but closes the
            # class in ECMA ("[]" matches nothing, "[^]" anything): refuse it.
            if c == "]":
                if i == class_start:
                    raise CannotRun(f"regex {pattern!r}: empty class '[]' / '[^]' not supported")
                in_class = False
            elif c == "[":
                out.append("\\[")  # literal '[' in ECMA classes; avoid Python FutureWarning
                i += 1
                continue
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            class_start = i
            continue
        if c == ".":
            out.append("[^\\n\\r\\u2028\\u2029]")
        elif c == "$":
            out.append("\\Z")
        else:
            out.append(c)
        i += 1
    if in_class:
        raise CannotRun(f"regex {pattern!r}: unterminated character class")
    return "".join(out)


_compiled_cache = {}


def compile_ecma(pattern):
    if pattern not in _compiled_cache:
        try:
            _compiled_cache[pattern] = re.compile(ecma_to_python(pattern), re.ASCII)
        except re.error as exc:
            raise CannotRun(f"regex {pattern!r} cannot be compiled: {exc}")
    return _compiled_cache[pattern]


# Keyword implementations replacing jsonschema's re.search-based ones.
def _kw_pattern(validator, patrn, instance, schema):
    if validator.is_type(instance, "string") and not compile_ecma(patrn).search(instance):
        yield ValidationError(f"{instance!r} does not match {patrn!r}")


def _kw_pattern_properties(validator, pattern_properties, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    for patrn, subschema in pattern_properties.items():
        for k, v in instance.items():
            if compile_ecma(patrn).search(k):
                yield from validator.descend(v, subschema, path=k, schema_path=patrn)


# ---------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------
# Choice: start from the draft's own checker (cls.FORMAT_CHECKER), add every
# other format jsonschema can check (jsonschema.FormatChecker(): all drafts -
# e.g. "uri-reference" is also checked under a draft-04 schema such as SARIF's),
# add our own checkers for formats Debian's jsonschema lacks because optional
# dependencies are missing (date-time/time need rfc3339-validator, hostname
# needs fqdn), and replace "regex" by the ECMA translation above.  Any format
# used by the schema that is still unknown -> exit 2 (or, with
# --allow-unchecked-formats, a warning on stderr and the format passes).
_RFC3339_DT = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"([Zz]|[+-]([0-9]{2}):([0-9]{2}))\Z")
_RFC3339_TIME = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?([Zz]|[+-]([0-9]{2}):([0-9]{2}))\Z")


def _check_time_fields(h, mi, s, oh, om):
    # seconds == 60 allowed for leap seconds (RFC 3339 5.7), offsets < 24:00
    return int(h) <= 23 and int(mi) <= 59 and int(s) <= 60 and \
        (oh is None or (int(oh) <= 23 and int(om) <= 59))


def is_rfc3339_date_time(instance):
    """RFC 3339 section 5.6 date-time (full-date "T" full-time), with real calendar check."""
    if not isinstance(instance, str):
        return True
    m = _RFC3339_DT.match(instance)
    if not m:
        return False
    y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not (1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1]):
        return False
    return _check_time_fields(m.group(4), m.group(5), m.group(6), m.group(9), m.group(10))


def is_rfc3339_time(instance):
    if not isinstance(instance, str):
        return True
    m = _RFC3339_TIME.match(instance)
    return bool(m) and _check_time_fields(m.group(1), m.group(2), m.group(3), m.group(6), m.group(7))


_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)\Z")


def is_hostname(instance):
    """RFC 1123 host name: dot-separated labels of 1-63 [A-Za-z0-9-], no edge '-', total <= 253."""
    if not isinstance(instance, str):
        return True
    name = instance[:-1] if instance.endswith(".") else instance
    return 0 < len(name) <= 253 and all(_HOST_LABEL.match(lbl) for lbl in name.split("."))


def is_ecma_regex(instance):
    if not isinstance(instance, str):
        return True
    try:
        compile_ecma(instance)
    except CannotRun:
        return False
    return True


def build_format_checker(cls):
    checker = jsonschema.FormatChecker(formats=())
    checker.checkers = {}
    for source in (cls.FORMAT_CHECKER, jsonschema.FormatChecker()):
        for name, entry in source.checkers.items():
            checker.checkers.setdefault(name, entry)
    fallbacks = {"date-time": is_rfc3339_date_time, "time": is_rfc3339_time,
                 "hostname": is_hostname}
    for name, func in fallbacks.items():
        checker.checkers.setdefault(name, (func, ()))
    checker.checkers["regex"] = (is_ecma_regex, ())
    return checker


def formats_used(node, acc):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "format" and isinstance(v, str):
                acc.add(v)
            else:
                formats_used(v, acc)
    elif isinstance(node, list):
        for v in node:
            formats_used(v, acc)
    return acc


def patterns_used(node, acc):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "pattern" and isinstance(v, str):
                acc.add(v)
            elif k == "patternProperties" and isinstance(v, dict):
                acc.update(v.keys())
            patterns_used(v, acc)
    elif isinstance(node, list):
        for v in node:
            patterns_used(v, acc)
    return acc


# ---------------------------------------------------------------------------
# Draft selection
# ---------------------------------------------------------------------------
_DRAFTS = {
    "json-schema.org/draft-03/schema": ("draft-03", "Draft3Validator"),
    "json-schema.org/draft-04/schema": ("draft-04", "Draft4Validator"),
    "json-schema.org/draft-06/schema": ("draft-06", "Draft6Validator"),
    "json-schema.org/draft-07/schema": ("draft-07", "Draft7Validator"),
    "json-schema.org/draft/2019-09/schema": ("2019-09", "Draft201909Validator"),
    "json-schema.org/draft/2020-12/schema": ("2020-12", "Draft202012Validator"),
}


def pick_validator_class(schema):
    uri = schema.get("$schema") if isinstance(schema, dict) else None
    if not isinstance(uri, str):
        raise CannotRun("schema has no \"$schema\" keyword; refusing to guess the draft")
    key = re.sub(r"^https?://", "", uri).rstrip("#")
    if key not in _DRAFTS:
        raise CannotRun(f"unsupported $schema {uri!r}")
    draft, cls_name = _DRAFTS[key]
    cls = getattr(jsonschema, cls_name, None)
    if cls is None:
        raise CannotRun(f"jsonschema {JSONSCHEMA_VERSION} has no {cls_name}")
    return draft, cls


# ---------------------------------------------------------------------------
# Output helpers
# ---------------------------------------------------------------------------
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def json_path(path):
    s = "$"
    for p in path:
        if isinstance(p, int):
            s += f"[{p}]"
        elif _IDENT.match(p):
            s += "." + p
        else:
            s += "[" + json.dumps(p) + "]"
    return s


def short(msg, limit=400):
    # Messages embed repr() of the failing instance, which can be a whole
    # object; cut the middle of very long ones.
    return msg if len(msg) <= limit else msg[:limit // 2] + " ... " + msg[-limit // 2:]


def load_json(path, what):
    def no_dupes(pairs):
        obj = {}
        for k, v in pairs:
            if k in obj:
                raise CannotRun(f"{what} {path}: duplicate object key {k!r} (ambiguous JSON)")
            obj[k] = v
        return obj

    def no_constants(name):
        raise CannotRun(f"{what} {path}: {name} is not valid JSON")

    try:
        with open(path, "rb") as fh:
            return json.loads(fh.read().decode("utf-8"), object_pairs_hook=no_dupes,
                              parse_constant=no_constants)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CannotRun(f"cannot read {what} {path}: {exc}")


def _refuse_remote(uri):
    raise CannotRun(f"$ref to {uri!r} needs a network fetch; only refs inside the schema file are allowed")


def main(argv):
    args = [a for a in argv if not a.startswith("-")]
    flags = {a for a in argv if a.startswith("-")}
    unknown = flags - {"--allow-unchecked-formats", "-v"}
    if len(args) != 2 or unknown:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    verbose = "-v" in flags
    schema = load_json(args[0], "schema")
    doc = load_json(args[1], "document")
    draft, cls = pick_validator_class(schema)

    checker = build_format_checker(cls)
    missing = sorted(f for f in formats_used(schema, set()) if f not in checker.checkers)
    if missing:
        if "--allow-unchecked-formats" not in flags:
            raise CannotRun(f"schema uses format(s) nothing here can check: {', '.join(missing)} "
                            "(pass --allow-unchecked-formats to let them pass unchecked)")
        print(f"validate_json_schema.py: WARNING: not checking format(s): {', '.join(missing)}", file=sys.stderr)

    # 1. The schema against its draft's meta-schema (with our format checker,
    #    so "pattern" values are checked as ECMA regexes after translation).
    meta_cls = _validators_mod.validator_for(cls.META_SCHEMA, default=cls)
    meta_errors = list(meta_cls(cls.META_SCHEMA, format_checker=checker).iter_errors(schema))
    if meta_errors:
        for e in meta_errors:
            print(f"schema {json_path(e.absolute_path)}: {short(e.message)}", file=sys.stderr)
        raise CannotRun(f"schema {args[0]} is not a valid {draft} schema")
    for p in sorted(patterns_used(schema, set())):
        compile_ecma(p)  # raises CannotRun on anything untranslatable

    # 2. The document.
    Validator = _validators_mod.extend(cls, {"pattern": _kw_pattern,
                                             "patternProperties": _kw_pattern_properties})
    resolver = jsonschema.RefResolver.from_schema(
        schema, id_of=cls.ID_OF,
        handlers={"http": _refuse_remote, "https": _refuse_remote, "file": _refuse_remote})
    validator = Validator(schema, resolver=resolver, format_checker=checker)
    if verbose:
        print(f"validate_json_schema.py: jsonschema {JSONSCHEMA_VERSION} ({jsonschema.__file__}), "
              f"{draft} -> {cls.__name__}, Unicode {unicodedata.unidata_version}, "
              f"formats checked: {', '.join(sorted(formats_used(schema, set()) - set(missing)))}",
              file=sys.stderr)
    try:
        errors = sorted(validator.iter_errors(doc),
                        key=lambda e: (json_path(e.absolute_path), list(map(str, e.absolute_schema_path))))
    except RefResolutionError as exc:
        raise CannotRun(f"cannot resolve $ref: {exc}")
    for e in errors:
        line = f"{json_path(e.absolute_path)}: {short(e.message)}"
        if e.context:  # anyOf / oneOf: show the most relevant failing branch
            b = best_match(e.context)
            line += f"\n    best match: {json_path(b.absolute_path)}: {short(b.message)}"
        print(line)
    if errors:
        print(f"validate_json_schema.py: {len(errors)} error(s) in {args[1]}", file=sys.stderr)
        return 1
    print(f"validate_json_schema.py: {args[1]} is valid against {args[0]} ({draft})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except CannotRun as exc:
        print(f"validate_json_schema.py: cannot validate: {exc}", file=sys.stderr)
        sys.exit(2)
    except Exception as exc:  # anything unexpected is "cannot run", never "valid"
        print(f"validate_json_schema.py: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(2)
