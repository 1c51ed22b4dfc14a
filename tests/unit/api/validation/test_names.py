"""Name and value formats: cases ported from upstream apimachinery validation_test.go / ip_test.go."""

from __future__ import annotations

import pytest

from pybernetes.api.field import Path
from pybernetes.api.validation import names as n

DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
    "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation "
    "is '[a-z]([-a-z0-9]*[a-z0-9])?')")
QNAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
    "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")


def _good_and_bad(fn, good, bad):
    return [pytest.param(fn, v, True, id=f"{fn.__name__}-ok-{v[:20]!r}") for v in good] + [
        pytest.param(fn, v, False, id=f"{fn.__name__}-bad-{v[:20]!r}") for v in bad]


CASES = (
    _good_and_bad(
        n.dns1123_label,
        ["a", "ab", "abc", "a1", "a-1", "a--1--2--b", "0", "01", "012", "1a", "1-a", "1--a--b--2", "a" * 63],
        ["", "A", "ABC", "aBc", "A1", "A-1", "1-A", "-", "a-", "-a", "1-", "-1", "_", "a_", "_a", "a_b", "1_",
         "_1", "1_2", ".", "a.", ".a", "a.b", "1.", ".1", "1.2", " ", "a ", " a", "a b", "1 ", " 1", "1 2",
         "a" * 64, "a\n"])
    + _good_and_bad(
        n.dns1123_subdomain,
        ["a", "ab", "abc", "a1", "a-1", "a--1--2--b", "0", "01", "012", "1a", "1-a", "1--a--b--2", "a.a", "ab.a",
         "abc.a", "a1.a", "a-1.a", "a--1--2--b.a", "a.1", "ab.1", "abc.1", "a1.1", "a-1.1", "a--1--2--b.1", "0.a",
         "01.a", "012.a", "1a.a", "1-a.a", "0.1", "01.1", "012.1", "1a.1", "1-a.1", "1--a--b--2.1", "a.b.c.d.e",
         "aa.bb.cc.dd.ee", "1.2.3.4.5", "11.22.33.44.55", "a" * 253],
        ["", "A", "ABC", "aBc", "A1", "A-1", "1-A", "-", "a-", "-a", "1-", "-1", "_", "a_", "_a", "a_b", "1_",
         "_1", "1_2", ".", "a.", ".a", "a..b", "1.", ".1", "1..2", " ", "a ", " a", "a b", "1 ", " 1", "1 2",
         "A.a", "aB.a", "ab.A", "A1.a", "a1.A", "A.1", "aB.1", "A1.1", "1A.1", "0.A", "01.A", "012.A", "1A.a",
         "1a.A", "A.B.C.D.E", "AA.BB.CC.DD.EE", "a.B.c.d.e", "aa.bB.cc.dd.ee", "a@b", "a,b", "a;b", "a:b", "a%b",
         "a?b", "a$b", "a" * 254])
    + _good_and_bad(
        n.dns1035_label,
        ["a", "ab", "abc", "a1", "a-1", "a--1--2--b", "a" * 63],
        ["0", "01", "012", "1a", "1-a", "1--a--b--2", "", "A", "ABC", "aBc", "A1", "A-1", "1-A", "-", "a-", "-a",
         "1-", "-1", "_", "a_", "_a", "a_b", "1_", "_1", "1_2", ".", "a.", ".a", "a.b", "1.", ".1", "1.2", " ",
         "a ", " a", "a b", "1 ", " 1", "1 2", "a" * 64])
    + _good_and_bad(
        n.c_identifier,
        ["a", "ab", "abc", "a1", "_a", "a_", "a_b", "a_1", "a__1__2__b", "__abc_123", "A", "AB", "AbC", "A1", "_A",
         "A_", "A_B", "A_1", "A__1__2__B", "__123_ABC"],
        ["", "1", "123", "1a", "-", "a-", "-a", "1-", "-1", "1_", "1_2", ".", "a.", ".a", "a.b", "1.", ".1", "1.2",
         " ", "a ", " a", "a b", "1 ", " 1", "1 2", "#a#"])
    + _good_and_bad(
        n.port_name,
        ["telnet", "re-mail-ck", "pop3", "a", "a-1", "1-a", "a-1-b-2-c", "1-a-2-b-3"],
        ["longerthan15characters", "", "a" * 16, "12345", "1-2-3-4", "-begin", "end-", "two--hyphens", "whois++"])
    + _good_and_bad(
        n.qualified_name,
        ["simple", "now-with-dashes", "1-starts-with-num", "1234", "simple/simple", "now-with-dashes/simple",
         "now-with-dashes/now-with-dashes", "now.with.dots/simple", "now-with.dashes-and.dots/simple",
         "1-num.2-num/3-num", "1234/5678", "1.2.3.4/5678", "Uppercase_Is_OK_123", "example.com/Uppercase_Is_OK_123",
         "requests.storage-foo", "a" * 63, "a" * 253 + "/" + "b" * 63],
        ["nospecialchars%^=@", "cantendwithadash-", "-cantstartwithadash-", "only/one/slash", "Example.com/abc",
         "example_com/abc", "example.com/", "/simple", "a" * 64, "a" * 254 + "/abc"])
    + _good_and_bad(
        n.label_value,
        ["simple", "now-with-dashes", "1-starts-with-num", "end-with-num-1", "1234", "a" * 63, ""],
        ["nospecialchars%^=@", "Tama-nui-te-rā.is.Māori.sun", "\\backslashes\\are\\bad", "-starts-with-dash",
         "ends-with-dash-", ".starts.with.dot", "ends.with.dot.", "a" * 64])
    + _good_and_bad(
        n.http_header_name,
        ["Accept-Encoding", "Host", "If-Modified-Since", "X-Forwarded-For", "a", "ab", "abc", "a1", "-a", "a-",
         "a-b", "a-1", "a--1--2--b", "--abc-123", "A", "AB", "AbC", "A1", "-A", "A-", "A-B", "A-1", "A--1--2--B",
         "--123-ABC"],
        ["Host:", "X-Forwarded-For:", "X-@Home", "", "_", "a_", "_a", "1_", "1_2", ".", "a.", ".a", "a.b", "1.",
         ".1", "1.2", " ", "a ", " a", "a b", "1 ", " 1", "1 2", "#a#", "^", ",", ";", "=", "<", "?", "@", "{"])
    + _good_and_bad(
        n.percent,
        ["0%", "00000%", "1%", "01%", "99%", "100%", "101%"],
        ["", "0", "100", "0.0%", "99.9%", "hundred", " 1%", "1% ", "-0%", "-1%", "+1%"])
    + _good_and_bad(
        n.config_map_key,
        ["a", "good", "good-good", "still.good", "this.is.also.good", ".so.is.this", "THIS_IS_GOOD",
         "so_is_this_17"],
        [".", "..", "..bad", "b*d", "bad!&bad"])
    + _good_and_bad(
        n.wildcard_dns1123_subdomain,
        ["*.example.com", "*.bar.com", "*.foo.bar.com"],
        ["*.*.bar.com", "*.foo.*.com", "*bar.com", "f*.bar.com", "*"])
    + _good_and_bad(
        n.relaxed_env_var_name,
        ["-", ":", "_", "+a", ">a", "<a", "a.", "a..", "*a", "%a", "?a", "a:a", "a_a", "aAz", "~a", "|a", "a0a",
         "a9", "/a", "a ", "#a", "0a", "0 a", "'a", "(a", "@a"],
        ["", "=", "a=", "1=a", "a=b", "#%=&&", "\x01abc", "\x82abc", "Ç ç", "Ä ä", "Ñ ñ", "Ø ø"])
    + _good_and_bad(
        n.env_var_name,
        ["a", "A", "_a", "my.env-name", "MY_ENV.NAME", "MyEnvName1", ".a", "-a"],
        ["", "1a", "a=b", "a b", ".", "..", "..a"])
)


@pytest.mark.parametrize(("fn", "value", "ok"), CASES)
def test_format(fn, value, ok):
    msgs = fn(value)
    assert (msgs == []) is ok, msgs
    assert all(isinstance(m, str) and m for m in msgs)


@pytest.mark.parametrize(("fn", "value", "expected"), [
    (n.dns1123_label, "My_Name", [DNS1123_LABEL_MSG]),
    (n.dns1123_label, "a.b", ["must not contain dots"]),
    (n.dns1123_label, "a" * 64, ["must be no more than 63 characters"]),
    (n.dns1123_label, "A" * 64, ["must be no more than 63 characters", DNS1123_LABEL_MSG]),
    (n.dns1123_subdomain, "Foo", [DNS1123_SUBDOMAIN_MSG]),
    (n.dns1123_subdomain, "a" * 254, ["must be no more than 253 characters"]),
    (n.dns1035_label, "1abc", [DNS1035_MSG]),
    (n.qualified_name, "", ["name part must be non-empty", "name part " + QNAME_MSG]),
    (n.qualified_name, "/simple", ["prefix part must be non-empty"]),
    (n.qualified_name, "example.com/", ["name part must be non-empty", "name part " + QNAME_MSG]),
    (n.qualified_name, "a" * 64, ["name part must be no more than 63 characters"]),
    (n.qualified_name, "Example.com/abc", ["prefix part " + DNS1123_SUBDOMAIN_MSG]),
    (n.qualified_name, "a/b/c", ["a qualified name " + QNAME_MSG
                                 + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]),
    (n.label_value, "a" * 64, ["must be no more than 63 characters"]),
    (n.label_value, "-x", [LABEL_VALUE_MSG]),
    (n.port_num, 0, ["must be between 1 and 65535, inclusive"]),
    (n.port_num, 65536, ["must be between 1 and 65535, inclusive"]),
    (n.port_num, 80, []),
    (n.user_id, 2**31, ["must be between 0 and 2147483647, inclusive"]),
    (n.group_id, -1, ["must be between 0 and 2147483647, inclusive"]),
    (n.port_name, "", ["must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                       "must contain at least one letter (a-z)"]),
    (n.port_name, "-a--", ["must not contain consecutive hyphens", "must not begin or end with a hyphen"]),
    (n.port_name, "a" * 16, ["must be no more than 15 characters"]),
    (n.config_map_key, "..", ["must not be '..'"]),
    (n.config_map_key, "..a", ["must not start with '..'"]),
    (n.config_map_key, "b*d", ["a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
                               "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
                               "'[-._a-zA-Z0-9]+')"]),
    (n.env_var_name, "1a", ["a valid environment variable name must consist of alphabetic characters, digits, '_', "
                            "'-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or "
                            "'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"]),
    (n.env_var_name, ".", ["must not be '.'"]),
    (n.relaxed_env_var_name, "", ["environment variable name must be non-empty"]),
    (n.relaxed_env_var_name, "a=b", ["a valid environment variable name must consist only of printable ASCII "
                                     "characters other than '='"]),
    (n.percent, "1", ["a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or "
                      "'93%', regex used for validation is '[0-9]+%')"]),
    (n.path_segment_name, ".", ["may not be '.'"]),
    (n.path_segment_name, "..", ["may not be '..'"]),
    (n.path_segment_name, "a/b%c", ["may not contain '/'", "may not contain '%'"]),
    (n.path_segment_name, "a..b", []),
])
def test_exact_messages(fn, value, expected):
    assert fn(value) == expected


def test_length_counts_utf8_bytes_like_go():
    # 32 two-byte characters are 64 bytes: over the 63-byte limit even though there are only 32 characters.
    assert "must be no more than 63 characters" in n.label_value("é" * 32)
    assert n.byte_len("é") == 2


@pytest.mark.parametrize(("fn", "name", "prefix", "ok"), [
    (n.name_is_dns_subdomain, "abc-", True, True),     # generateName prefixes may end in '-'
    (n.name_is_dns_subdomain, "abc-", False, False),
    (n.name_is_dns_subdomain, "a-", True, True),
    (n.name_is_dns_subdomain, "-", True, False),       # a lone dash is not masked
    (n.name_is_dns_subdomain, "Abc-", True, False),
    (n.name_is_dns_label, "my.pod-", True, False),
    (n.name_is_dns_label, "my-pod-", True, True),
    (n.name_is_dns1035_label, "svc-", True, True),
    (n.name_is_dns1035_label, "1svc-", True, False),
    (n.path_segment_name, "..", True, True),           # a prefix may be '..' (a suffix follows)
    (n.path_segment_name, "a/", True, False),
])
def test_name_functions(fn, name, prefix, ok):
    assert (fn(name, prefix) == []) is ok


def test_mask_trailing_dash_quirk():
    # Upstream drops two characters and appends 'a': the character before the dash is never checked.
    assert n.mask_trailing_dash("abc-") == "aba"
    assert n.mask_trailing_dash("a-") == "a"
    assert n.mask_trailing_dash("-") == "-"
    assert n.name_is_dns_subdomain("ab_-", True) == []


IP_INVALID = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


@pytest.mark.parametrize(("value", "strict_err", "legacy_err"), [
    ("1.2.3.4", "", ""),
    ("0.0.0.0", "", ""),
    ("255.255.255.255", "", ""),
    ("1234::abcd", "", ""),
    ("::", "", ""),
    ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "", ""),
    ("0:0:0:0:0:0:0:0", 'must be in canonical form ("::")', ""),
    ("0001:002:03:4::", 'must be in canonical form ("1:2:3:4::")', ""),
    ("1234::ABCD", 'must be in canonical form ("1234::abcd")', ""),
    ("1.1.1.01", "must not have leading 0s", ""),
    ("::ffff:1.1.1.1", "must not be an IPv4-mapped IPv6 address", ""),
    ("", IP_INVALID, IP_INVALID),
    ("aaaaaaa", IP_INVALID, IP_INVALID),
    ("myhost.mydomain", IP_INVALID, IP_INVALID),
    ("1.2.3.0/24", IP_INVALID, IP_INVALID),
    ("1.2.3.400", IP_INVALID, IP_INVALID),
    ("-1.0.0.0", IP_INVALID, IP_INVALID),
    ("2001:db8::10005", IP_INVALID, IP_INVALID),
    ("1.2.3.4:80", IP_INVALID, IP_INVALID),
    ("[2001:db8::1]", IP_INVALID, IP_INVALID),
    ("[2001:db8::1]:80", IP_INVALID, IP_INVALID),
    ("example.com:80", IP_INVALID, IP_INVALID),
    ("1234::abcd%eth0", IP_INVALID, IP_INVALID),
    ("169.254.0.0%eth0", IP_INVALID, IP_INVALID),
    ("1.2.3.٤", IP_INVALID, IP_INVALID),   # non-ASCII digits are not digits to Go
])
def test_valid_ip(value, strict_err, legacy_err):
    assert n.valid_ip(value, strict=True) == ([strict_err] if strict_err else [])
    assert n.valid_ip(value) == ([legacy_err] if legacy_err else [])


CIDR_INVALID = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"


@pytest.mark.parametrize(("value", "strict_err", "legacy_err"), [
    ("1.0.0.0/8", "", ""),
    ("0.0.0.0/0", "", ""),
    ("1.1.1.1/32", "", ""),
    ("2001:4860:4860::/48", "", ""),
    ("::/0", "", ""),
    ("::1/128", "", ""),
    ("2a00:79e0:2:0::/64", 'must be in canonical form ("2a00:79e0:2::/64")', ""),
    ("2001:DB8::/64", 'must be in canonical form ("2001:db8::/64")', ""),
    ("1.1.01.0/24", "must not have leading 0s in IP or prefix length", ""),
    ("::ffff:1.1.1.0/24", "must not have an IPv4-mapped IPv6 address", ""),
    ("::ffff:1.1.1.0/120", "must not have an IPv4-mapped IPv6 address", ""),
    ("1.2.3.4/24", "must not have bits set beyond the prefix length", ""),
    ("2001:db8::1/64", "must not have bits set beyond the prefix length", ""),
    ("192.168.0.0/016", "must not have leading 0s in IP or prefix length", ""),
    ("", CIDR_INVALID, CIDR_INVALID),
    ("aaaaaaa", CIDR_INVALID, CIDR_INVALID),
    ("1.2.3.4", CIDR_INVALID, CIDR_INVALID),
    ("192.168.0.1/healthz", CIDR_INVALID, CIDR_INVALID),
    ("192.168.0.1/0/99", CIDR_INVALID, CIDR_INVALID),
    ("192.168.0.0/-16", CIDR_INVALID, CIDR_INVALID),
    ("192.168.0.0/+16", CIDR_INVALID, CIDR_INVALID),
    ("192.168.0.0/33", CIDR_INVALID, CIDR_INVALID),
])
def test_valid_cidr(value, strict_err, legacy_err):
    assert n.valid_cidr(value, strict=True) == ([strict_err] if strict_err else [])
    assert n.valid_cidr(value) == ([legacy_err] if legacy_err else [])


@pytest.mark.parametrize(("path", "value", "expected"), [
    ("spec.clusterIPs[0]", "192.12.2.2", []),
    ("spec.clusterIPs[0]", "2001:db8::2", []),
    ("spec.clusterIPs[0]", "192.012.2.2", ['spec.clusterIPs[0]: non-standard IP address "192.012.2.2" will be '
                                           'considered invalid in a future Kubernetes release: use "192.12.2.2"']),
    ("spec.clusterIPs[0]", "::ffff:192.12.2.2", ['spec.clusterIPs[0]: non-standard IP address "::ffff:192.12.2.2" '
                                                 'will be considered invalid in a future Kubernetes release: use '
                                                 '"192.12.2.2"']),
    ("spec.loadBalancerIP", "2001:db8:0:0::2", ['spec.loadBalancerIP: IPv6 address "2001:db8:0:0::2" should be in '
                                                'RFC 5952 canonical format ("2001:db8::2")']),
])
def test_ip_warnings(path, value, expected):
    assert n.ip_warnings(path, value) == expected


P = "spec.loadBalancerSourceRanges[0]"


@pytest.mark.parametrize(("value", "expected"), [
    ("192.12.2.0/24", []),
    ("2001:db8::/64", []),
    ("192.012.2.0/24", [f'{P}: non-standard CIDR value "192.012.2.0/24" will be considered invalid in a future '
                        'Kubernetes release: use "192.12.2.0/24"']),
    ("192.12.2.0/024", [f'{P}: non-standard CIDR value "192.12.2.0/024" will be considered invalid in a future '
                        'Kubernetes release: use "192.12.2.0/24"']),
    ("::ffff:192.12.2.0/120", [f'{P}: non-standard CIDR value "::ffff:192.12.2.0/120" will be considered invalid in '
                               'a future Kubernetes release: use "192.12.2.0/24"']),
    ("192.12.2.8/24", [f'{P}: CIDR value "192.12.2.8/24" is ambiguous in this context (should be "192.12.2.0/24" '
                       'or "192.12.2.8/32"?)']),
    ("192.012.2.8/24", [f'{P}: CIDR value "192.012.2.8/24" is ambiguous in this context (should be "192.12.2.0/24" '
                        'or "192.12.2.8/32"?)',
                        f'{P}: non-standard CIDR value "192.012.2.8/24" will be considered invalid in a future '
                        'Kubernetes release: use "192.12.2.0/24"']),
    ("2001:db8:0:0::/64", [f'{P}: IPv6 CIDR value "2001:db8:0:0::/64" should be in RFC 5952 canonical format '
                           '("2001:db8::/64")']),
])
def test_cidr_warnings(value, expected):
    assert n.cidr_warnings(P, value) == expected


def test_validate_labels():
    path = Path("metadata", "labels")
    assert n.validate_labels(None, path) == []
    assert n.validate_labels({"app": "web", "example.com/tier": "", "a": "b" * 63}, path) == []
    errs = n.validate_labels({"Bad Key": "ok", "ok": "bad value"}, path)
    assert [str(e) for e in errs] == [
        'metadata.labels: Invalid value: "Bad Key": name part ' + QNAME_MSG,
        'metadata.labels: Invalid value: "bad value": ' + LABEL_VALUE_MSG,
    ]
    assert [e.reason for e in errs] == ["FieldValueInvalid", "FieldValueInvalid"]
    errs = n.validate_labels({"k": "v" * 64}, path)
    assert [e.body() for e in errs] == ['Invalid value: "' + "v" * 64 + '": must be no more than 63 characters']
    assert n.validate_labels({"a/b/c": "x"}, path)[0].field == "metadata.labels"
    assert n.validate_labels({"k": 1}, path)[0].field == "metadata.labels[k]"
    assert n.validate_labels(["x"], path)[0].field == "metadata.labels"


def test_validate_annotations():
    path = Path("metadata", "annotations")
    limit = n.TOTAL_ANNOTATION_SIZE_LIMIT
    assert n.validate_annotations({"a": "b" * (limit - 1)}, path) == []
    assert n.validate_annotations({"a": "b" * (limit // 2 - 1), "c": "d" * (limit // 2 - 1)}, path) == []
    # Keys are checked lower-cased, so upper-case DNS prefixes pass (as upstream).
    assert n.validate_annotations({"Example.com/Key": "x"}, path) == []
    errs = n.validate_annotations({"a": "b" * limit}, path)
    assert [str(e) for e in errs] == ["metadata.annotations: Too long: may not be more than 262144 bytes"]
    errs = n.validate_annotations({"a": "b" * (limit // 2), "c": "d" * (limit // 2)}, path)
    assert [e.reason for e in errs] == ["FieldValueTooLong"]
    # The limit is in bytes: 'é' is two.
    assert n.validate_annotations({"a": "é" * (limit // 2)}, path)[0].reason == "FieldValueTooLong"
    errs = n.validate_annotations({"a@b": "x", "only/one/slash": "y"}, path)
    assert [e.value for e in errs] == ["a@b", "only/one/slash"]


def test_validate_finalizer_name():
    path = Path("metadata", "finalizers")
    assert n.validate_finalizer_name("example.com/cleanup", path) == []
    assert n.validate_finalizer_name("kubernetes", path) == []
    errs = n.validate_finalizer_name("a/b/c", path)
    assert len(errs) == 1 and errs[0].field == "metadata.finalizers" and errs[0].value == "a/b/c"
