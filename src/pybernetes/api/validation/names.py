"""Name and value formats, worded exactly as upstream's validators word them.

Facts from kubernetes/apimachinery ``pkg/util/validation`` (``validation.go``, ``ip.go``),
``pkg/api/validation`` (``generic.go``, ``objectmeta.go``, ``path/name.go``) and
``pkg/apis/meta/v1/validation`` at v0.33. Clients (and humans reading kubectl output) compare these messages
with what a real API server says, so every string here is the upstream wording, examples and regexes included.

The ``is_*``-style helpers return a list of message strings (empty when valid), as upstream's ``Is*`` functions
do; callers wrap each message into a :class:`~pybernetes.api.field.FieldError` with their own path. The
``validate_*`` helpers return field errors directly.

Two Go details matter for exactness: Go's ``len`` counts UTF-8 bytes, not characters (see :func:`byte_len`),
and Go regexps anchored with ``^…$`` never match across a trailing newline, so every check here uses
``re.fullmatch``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from pybernetes.api.field import ErrorType, FieldError, Path, invalid, too_long

# ---------------------------------------------------------------------------------------------------------------
# Message builders (upstream MaxLenError, RegexError, EmptyError, InclusiveRangeError)


def byte_len(v: str) -> int:
    """Go's ``len(string)``: the UTF-8 byte count (equal to ``len`` for ASCII, the common case)."""
    return len(v) if v.isascii() else len(v.encode())


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


EMPTY_ERROR = "must be non-empty"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


# ---------------------------------------------------------------------------------------------------------------
# Formats. Each regex is compiled once; each message is built once.

_QNAME_CHAR = "[A-Za-z0-9]"
_QNAME_EXT_CHAR = "[-A-Za-z0-9_.]"
QUALIFIED_NAME_FMT = f"({_QNAME_CHAR}{_QNAME_EXT_CHAR}*)?{_QNAME_CHAR}"
QUALIFIED_NAME_MAX_LENGTH = 63
_QUALIFIED_NAME_RE = re.compile(QUALIFIED_NAME_FMT)
_QUALIFIED_NAME_MSG = regex_error(
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    "character", QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
_QUALIFIED_NAME_TOO_MANY_SLASHES = (
    "a qualified name " + _QUALIFIED_NAME_MSG
    + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")

LABEL_VALUE_FMT = f"({QUALIFIED_NAME_FMT})?"
LABEL_VALUE_MAX_LENGTH = 63
_LABEL_VALUE_RE = re.compile(LABEL_VALUE_FMT)
_LABEL_VALUE_MSG = regex_error(
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character", LABEL_VALUE_FMT, "MyValue", "my_value", "12345")

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL_MAX_LENGTH = 63
_DNS1123_LABEL_RE = re.compile(DNS1123_LABEL_FMT)
_DNS1123_LABEL_MSG = regex_error(
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character", DNS1123_LABEL_FMT, "my-name", "123-abc")

DNS1123_SUBDOMAIN_FMT = f"{DNS1123_LABEL_FMT}(\\.{DNS1123_LABEL_FMT})*"
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
_DNS1123_SUBDOMAIN_RE = re.compile(DNS1123_SUBDOMAIN_FMT)
_DNS1123_SUBDOMAIN_MSG = regex_error(
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character", DNS1123_SUBDOMAIN_FMT, "example.com")

DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
DNS1035_LABEL_MAX_LENGTH = 63
_DNS1035_LABEL_RE = re.compile(DNS1035_LABEL_FMT)
_DNS1035_LABEL_MSG = regex_error(
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character", DNS1035_LABEL_FMT, "my-name", "abc-123")

WILDCARD_DNS1123_SUBDOMAIN_FMT = "\\*\\." + DNS1123_SUBDOMAIN_FMT
_WILDCARD_DNS1123_SUBDOMAIN_RE = re.compile(WILDCARD_DNS1123_SUBDOMAIN_FMT)
_WILDCARD_DNS1123_SUBDOMAIN_MSG = regex_error(
    "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist "
    "of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character",
    WILDCARD_DNS1123_SUBDOMAIN_FMT, "*.example.com")

C_IDENTIFIER_FMT = "[A-Za-z_][A-Za-z0-9_]*"
_C_IDENTIFIER_RE = re.compile(C_IDENTIFIER_FMT)
_C_IDENTIFIER_MSG = regex_error(
    "a valid C identifier must start with alphabetic character or '_', followed by a string of alphanumeric "
    "characters or '_'", C_IDENTIFIER_FMT, "my_name", "MY_NAME", "MyName")

PERCENT_FMT = "[0-9]+%"
_PERCENT_RE = re.compile(PERCENT_FMT)
_PERCENT_MSG = regex_error("a valid percent string must be a numeric string followed by an ending '%'",
                           PERCENT_FMT, "1%", "93%")

HTTP_HEADER_NAME_FMT = "[-A-Za-z0-9]+"
_HTTP_HEADER_NAME_RE = re.compile(HTTP_HEADER_NAME_FMT)
_HTTP_HEADER_NAME_MSG = regex_error("a valid HTTP header must consist of alphanumeric characters or '-'",
                                    HTTP_HEADER_NAME_FMT, "X-Header-Name")

ENV_VAR_NAME_FMT = "[-._a-zA-Z][-._a-zA-Z0-9]*"
_ENV_VAR_NAME_RE = re.compile(ENV_VAR_NAME_FMT)
_ENV_VAR_NAME_MSG = regex_error(
    "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and "
    "must not start with a digit", ENV_VAR_NAME_FMT, "my.env-name", "MY_ENV.NAME", "MyEnvName1")
_RELAXED_ENV_VAR_NAME_MSG = ("a valid environment variable name must consist only of printable ASCII characters "
                             "other than '='")

CONFIG_MAP_KEY_FMT = "[-._a-zA-Z0-9]+"
_CONFIG_MAP_KEY_RE = re.compile(CONFIG_MAP_KEY_FMT)
_CONFIG_MAP_KEY_MSG = regex_error("a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                                  CONFIG_MAP_KEY_FMT, "key.name", "KEY_NAME", "key-name")

_PORT_NAME_CHARSET_RE = re.compile("[-a-z0-9]+")
_PORT_NAME_LETTER_RE = re.compile("[a-z]")

_MAX_LEN_63 = max_len_error(63)
_MAX_LEN_253 = max_len_error(253)


# ---------------------------------------------------------------------------------------------------------------
# Is* checks: list of messages, empty when valid.


def qualified_name(v: str) -> list[str]:
    """IsQualifiedName: label and annotation keys, finalizers — ``[prefix/]name``, prefix a DNS subdomain."""
    errs: list[str] = []
    parts = v.split("/")
    if len(parts) == 1:
        name = v
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part " + EMPTY_ERROR)
        else:
            errs.extend("prefix part " + m for m in dns1123_subdomain(prefix))
    else:
        return [_QUALIFIED_NAME_TOO_MANY_SLASHES]
    if not name:
        errs.append("name part " + EMPTY_ERROR)
    elif byte_len(name) > QUALIFIED_NAME_MAX_LENGTH:
        errs.append("name part " + _MAX_LEN_63)
    if not _QUALIFIED_NAME_RE.fullmatch(name):
        errs.append("name part " + _QUALIFIED_NAME_MSG)
    return errs


def label_value(v: str) -> list[str]:
    """IsValidLabelValue: empty, or a qualified name without prefix (at most 63 bytes)."""
    errs: list[str] = []
    if byte_len(v) > LABEL_VALUE_MAX_LENGTH:
        errs.append(_MAX_LEN_63)
    if not _LABEL_VALUE_RE.fullmatch(v):
        errs.append(_LABEL_VALUE_MSG)
    return errs


def dns1123_label(v: str) -> list[str]:
    """IsDNS1123Label: namespace names, most "name" fields of sub-objects (containers, ports, volumes)."""
    errs: list[str] = []
    if byte_len(v) > DNS1123_LABEL_MAX_LENGTH:
        errs.append(_MAX_LEN_63)
    if not _DNS1123_LABEL_RE.fullmatch(v):
        if _DNS1123_SUBDOMAIN_RE.fullmatch(v):
            # A valid subdomain but not a valid label: the length was checked above, so it must be the dots.
            errs.append("must not contain dots")
        else:
            errs.append(_DNS1123_LABEL_MSG)
    return errs


def dns1123_subdomain(v: str) -> list[str]:
    """IsDNS1123Subdomain: the name rule of most kinds."""
    errs: list[str] = []
    if byte_len(v) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(_MAX_LEN_253)
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(v):
        errs.append(_DNS1123_SUBDOMAIN_MSG)
    return errs


def dns1035_label(v: str) -> list[str]:
    """IsDNS1035Label: Service names (they become DNS names that must start with a letter)."""
    errs: list[str] = []
    if byte_len(v) > DNS1035_LABEL_MAX_LENGTH:
        errs.append(_MAX_LEN_63)
    if not _DNS1035_LABEL_RE.fullmatch(v):
        errs.append(_DNS1035_LABEL_MSG)
    return errs


def wildcard_dns1123_subdomain(v: str) -> list[str]:
    """IsWildcardDNS1123Subdomain: ``*.example.com`` (Ingress hosts)."""
    errs: list[str] = []
    if byte_len(v) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(_MAX_LEN_253)
    if not _WILDCARD_DNS1123_SUBDOMAIN_RE.fullmatch(v):
        errs.append(_WILDCARD_DNS1123_SUBDOMAIN_MSG)
    return errs


def c_identifier(v: str) -> list[str]:
    """IsCIdentifier: format only, no length limit."""
    return [] if _C_IDENTIFIER_RE.fullmatch(v) else [_C_IDENTIFIER_MSG]


def port_num(n: int) -> list[str]:
    """IsValidPortNum: 1..65535."""
    return [] if 1 <= n <= 65535 else [inclusive_range_error(1, 65535)]


def in_range(value: int, lo: int, hi: int) -> list[str]:
    """IsInRange."""
    return [] if lo <= value <= hi else [inclusive_range_error(lo, hi)]


_MAX_ID = 2**31 - 1


def user_id(uid: int) -> list[str]:
    """IsValidUserID: 0..2^31-1 (libcontainer's limit)."""
    return [] if 0 <= uid <= _MAX_ID else [inclusive_range_error(0, _MAX_ID)]


def group_id(gid: int) -> list[str]:
    """IsValidGroupID: 0..2^31-1."""
    return [] if 0 <= gid <= _MAX_ID else [inclusive_range_error(0, _MAX_ID)]


def port_name(v: str) -> list[str]:
    """IsValidPortName (IANA service name): ≤15 chars of ``[-a-z0-9]``, a letter, no ``--``, no edge hyphen."""
    errs: list[str] = []
    if byte_len(v) > 15:
        errs.append(max_len_error(15))
    if not _PORT_NAME_CHARSET_RE.fullmatch(v):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _PORT_NAME_LETTER_RE.search(v):
        errs.append("must contain at least one letter (a-z)")
    if "--" in v:
        errs.append("must not contain consecutive hyphens")
    if v and (v[0] == "-" or v[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def percent(v: str) -> list[str]:
    """IsValidPercent: digits then ``%`` (no sign, no fraction)."""
    return [] if _PERCENT_RE.fullmatch(v) else [_PERCENT_MSG]


def http_header_name(v: str) -> list[str]:
    """IsHTTPHeaderName."""
    return [] if _HTTP_HEADER_NAME_RE.fullmatch(v) else [_HTTP_HEADER_NAME_MSG]


def _chdir_prefix(v: str) -> list[str]:
    if v == ".":
        return ["must not be '.'"]
    if v == "..":
        return ["must not be '..'"]
    if v.startswith(".."):
        return ["must not start with '..'"]
    return []


def env_var_name(v: str) -> list[str]:
    """IsEnvVarName (the strict rule; 1.33 pods use :func:`relaxed_env_var_name` by default)."""
    errs = [] if _ENV_VAR_NAME_RE.fullmatch(v) else [_ENV_VAR_NAME_MSG]
    errs.extend(_chdir_prefix(v))
    return errs


def relaxed_env_var_name(v: str) -> list[str]:
    """IsRelaxedEnvVarName: printable ASCII except ``=`` (RelaxedEnvironmentVariableValidation, on in 1.33)."""
    errs: list[str] = []
    if not v:
        errs.append("environment variable name " + EMPTY_ERROR)
    for ch in v:
        if not (" " <= ch <= "~") or ch == "=":
            errs.append(_RELAXED_ENV_VAR_NAME_MSG)
            break
    return errs


def config_map_key(v: str) -> list[str]:
    """IsConfigMapKey: keys of ConfigMap/Secret data (they become file names, hence the ``..`` rules)."""
    errs: list[str] = []
    if byte_len(v) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(_MAX_LEN_253)
    if not _CONFIG_MAP_KEY_RE.fullmatch(v):
        errs.append(_CONFIG_MAP_KEY_MSG)
    errs.extend(_chdir_prefix(v))
    return errs


def path_segment_name(name: str, prefix: bool = False) -> list[str]:
    """ValidatePathSegmentName: the generic rule for any name that appears in a URL path.

    Usable as a name function (``prefix`` true for a generateName, which may be ``.``-like but not contain
    ``/`` or ``%``).
    """
    if not prefix:
        if name == ".":
            return ["may not be '.'"]
        if name == "..":
            return ["may not be '..'"]
    errs: list[str] = []
    if "/" in name:
        errs.append("may not contain '/'")
    if "%" in name:
        errs.append("may not contain '%'")
    return errs


# ---------------------------------------------------------------------------------------------------------------
# Name functions (upstream ValidateNameFunc): (name, is_generate_name_prefix) -> messages.


def mask_trailing_dash(name: str) -> str:
    """What upstream validates instead of a generateName ending in ``-``.

    A generateName is a prefix, so a trailing dash is fine; upstream replaces the last *two* characters by ``a``
    (``"abc-"`` → ``"aba"``) — an upstream quirk kept on purpose, as it changes which prefixes pass.
    """
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    return dns1123_subdomain(mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    return dns1123_label(mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    return dns1035_label(mask_trailing_dash(name) if prefix else name)


validate_namespace_name = name_is_dns_label
validate_service_account_name = name_is_dns_subdomain


# ---------------------------------------------------------------------------------------------------------------
# IP addresses and CIDRs (ip.go). Upstream parses with a "sloppy" parser that accepts IPv4 octets with leading
# zeros (read as decimal); strict validation rejects those and IPv4-mapped IPv6 addresses. In 1.33 the
# StrictIPCIDRValidation gate is alpha (off), so existing fields use the legacy, non-strict rule.

_IP_MSG = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
_CIDR_MSG = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
_DIGITS = re.compile("[0-9]+")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _v4_sloppy(s: str) -> tuple[ipaddress.IPv4Address, bool] | None:
    """Parse dotted IPv4 allowing leading zeros; returns (address, had_leading_zero)."""
    parts = s.split(".")
    if len(parts) != 4:
        return None
    octets = []
    leading = False
    for p in parts:
        if not _DIGITS.fullmatch(p):
            return None
        n = int(p)
        if n > 255:
            return None
        leading = leading or (len(p) > 1 and p[0] == "0")
        octets.append(n)
    return ipaddress.IPv4Address(bytes(octets)), leading


def _parse_ip(s: str) -> tuple[IPAddress, bool] | None:
    """Upstream ParseIPSloppy: the address and whether it had IPv4 leading zeros (strict parsers refuse those)."""
    if not s or "%" in s or "/" in s:
        return None
    if ":" not in s:
        return _v4_sloppy(s)
    head, _, tail = s.rpartition(":")
    leading = False
    if "." in tail:  # IPv6 with an embedded dotted IPv4 tail
        v4 = _v4_sloppy(tail)
        if v4 is None:
            return None
        s = f"{head}:{v4[0]}"
        leading = v4[1]
    try:
        return ipaddress.IPv6Address(s), leading
    except ValueError:
        return None


def ip_string(ip: IPAddress) -> str:
    """Go's ``net.IP.String()``: IPv4-mapped IPv6 addresses print as dotted IPv4."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def valid_ip(v: str, *, strict: bool = False) -> list[str]:
    """IP address check; messages as upstream.

    ``strict=False`` is ``IsValidIPForLegacyField`` without strict validation: what 1.33 applies to existing
    fields (pod IPs, clusterIPs, endpoints). ``strict=True`` is ``IsValidIP``: no leading zeros, no IPv4-mapped
    IPv6, canonical form.
    """
    parsed = _parse_ip(v)
    if parsed is None:
        return [_IP_MSG]
    if not strict:
        return []
    ip, leading = parsed
    errs: list[str] = []
    if leading:
        errs.append("must not have leading 0s")
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        errs.append("must not be an IPv4-mapped IPv6 address")
    if errs:
        return errs
    if v != ip_string(ip):
        return [f'must be in canonical form ("{ip_string(ip)}")']
    return []


def ip_warnings(path: Path | str, v: str) -> list[str]:
    """GetWarningsForIP: warnings for legacy IP fields holding non-standard forms (1.33 returns these)."""
    parsed = _parse_ip(v)
    if parsed is None:
        return []
    ip, leading = parsed
    if leading or (isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None):
        return [f'{path}: non-standard IP address "{v}" will be considered invalid in a future Kubernetes '
                f'release: use "{ip_string(ip)}"']
    if isinstance(ip, ipaddress.IPv6Address) and str(ip) != v:
        return [f'{path}: IPv6 address "{v}" should be in RFC 5952 canonical format ("{ip}")']
    return []


def _parse_cidr(v: str) -> tuple[IPAddress, int, bool, bool] | None:
    """ParseCIDRSloppy: (address, prefix length, leading zeros anywhere, address is IPv6-form)."""
    addr, sep, plen = v.partition("/")
    if not sep or not _DIGITS.fullmatch(plen):
        return None
    parsed = _parse_ip(addr)
    if parsed is None:
        return None
    ip, leading = parsed
    bits = 32 if ":" not in addr else 128
    prefix = int(plen)
    if prefix > bits:
        return None
    return ip, prefix, leading or (len(plen) > 1 and plen[0] == "0"), bits == 128


def _mask(ip: IPAddress, prefix: int, v6: bool) -> int:
    bits = 128 if v6 else 32
    return int(ip) & (((1 << bits) - 1) ^ ((1 << (bits - prefix)) - 1))


def _ipnet_string(masked: int, prefix: int, v6: bool) -> str:
    """Go's ``IPNet.String()``: the masked address, an IPv4-mapped network shown as IPv4."""
    if not v6:
        return f"{ipaddress.IPv4Address(masked)}/{prefix}"
    net6 = ipaddress.IPv6Address(masked)
    if net6.ipv4_mapped is not None:
        return f"{net6.ipv4_mapped}/{max(prefix - 96, 0)}"
    return f"{net6}/{prefix}"


def valid_cidr(v: str, *, strict: bool = False) -> list[str]:
    """CIDR check; ``strict=False`` is the 1.33 legacy rule, ``strict=True`` is ``IsValidCIDR``."""
    parsed = _parse_cidr(v)
    if parsed is None:
        return [_CIDR_MSG]
    if not strict:
        return []
    ip, prefix, leading, v6 = parsed
    if leading:
        return ["must not have leading 0s in IP or prefix length"]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ["must not have an IPv4-mapped IPv6 address"]
    masked = _mask(ip, prefix, v6)
    if masked != int(ip):
        return ["must not have bits set beyond the prefix length"]
    canonical = _ipnet_string(masked, prefix, v6)
    if v != canonical:
        return [f'must be in canonical form ("{canonical}")']
    return []


def cidr_warnings(path: Path | str, v: str) -> list[str]:
    """GetWarningsForCIDR: ambiguous (host bits set) or non-standard CIDR values in legacy fields."""
    parsed = _parse_cidr(v)
    if parsed is None:
        return []
    ip, prefix, leading, v6 = parsed
    masked = _mask(ip, prefix, v6)
    net = _ipnet_string(masked, prefix, v6)
    warnings: list[str] = []
    if masked != int(ip):
        single = f"{ip_string(ip)}/{128 if v6 else 32}"
        warnings.append(f'{path}: CIDR value "{v}" is ambiguous in this context (should be "{net}" or "{single}"?)')
    if leading or (isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None):
        warnings.append(f'{path}: non-standard CIDR value "{v}" will be considered invalid in a future Kubernetes '
                        f'release: use "{net}"')
    if not warnings and v6 and f"{ip}/{prefix}" != v:
        warnings.append(f'{path}: IPv6 CIDR value "{v}" should be in RFC 5952 canonical format ("{ip}/{prefix}")')
    return warnings


# ---------------------------------------------------------------------------------------------------------------
# Field-error validators for maps and names (objectmeta.go, meta/v1/validation).

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


def type_invalid(path: Path | str, value: Any, expected: str) -> FieldError:
    """A value of the wrong JSON type (upstream fails to decode it; we report it in place)."""
    return FieldError(ErrorType.TYPE_INVALID, str(path), value, f"must be of type {expected}")


def validate_label_name(name: str, path: Path) -> list[FieldError]:
    """ValidateLabelName: a label key must be a qualified name."""
    msgs = qualified_name(name)
    return [invalid(path, name, m) for m in msgs] if msgs else []


def validate_labels(labels: Any, path: Path) -> list[FieldError]:
    """ValidateLabels: every key a qualified name, every value a label value; errors on the map's path."""
    if not labels:
        return []
    if not isinstance(labels, Mapping):
        return [type_invalid(path, labels, "object")]
    errs: list[FieldError] = []
    for k, v in labels.items():
        if not isinstance(v, str):
            errs.append(type_invalid(path.key(k), v, "string"))
            continue
        if not (_QUALIFIED_NAME_RE.fullmatch(k) and len(k) <= QUALIFIED_NAME_MAX_LENGTH):  # fast path: no prefix
            errs.extend(validate_label_name(k, path))
        if v and not (len(v) <= LABEL_VALUE_MAX_LENGTH and _LABEL_VALUE_RE.fullmatch(v)):
            errs.extend(invalid(path, v, m) for m in label_value(v))
    return errs


def validate_annotations(annotations: Any, path: Path) -> list[FieldError]:
    """ValidateAnnotations: keys are qualified names (checked lower-cased), total size ≤ 256 KiB."""
    if not annotations:
        return []
    if not isinstance(annotations, Mapping):
        return [type_invalid(path, annotations, "object")]
    errs: list[FieldError] = []
    total = 0
    for k, v in annotations.items():
        if not isinstance(v, str):
            errs.append(type_invalid(path.key(k), v, "string"))
            continue
        errs.extend(invalid(path, k, m) for m in qualified_name(k.lower()))
        total += len(k) + len(v)
    # Characters are a lower bound on bytes; count bytes only when the limit could be near.
    if total * 4 > TOTAL_ANNOTATION_SIZE_LIMIT:
        total = sum(byte_len(k) + byte_len(v) for k, v in annotations.items() if isinstance(v, str))
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(too_long(path, "", TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


def validate_finalizer_name(name: str, path: Path) -> list[FieldError]:
    """ValidateFinalizerName (apimachinery): a finalizer must be a qualified name."""
    return [invalid(path, name, m) for m in qualified_name(name)]
