"""Query names of the cluster zone, read as CoreDNS's kubernetes plugin reads them (``parse.go``), and reverse
names (pure functions).

Inside the zone (``cluster.local``) a name has one of these shapes, right to left::

    <service>.<namespace>.svc.<zone>                    a Service
    <endpoint>.<service>.<namespace>.svc.<zone>         one endpoint of it (hostname or dashed IP)
    _<port>._<proto>.<service>.<namespace>.svc.<zone>   SRV of a named port
    <a-b-c-d>.<namespace>.pod.<zone>                    a pod by its IP

``<namespace>.svc.<zone>``, ``svc.<zone>``, ``pod.<zone>`` and the zone itself exist without records (NODATA);
a last label other than ``svc``/``pod``, or more labels than the longest shape, is a name that cannot exist
(NXDOMAIN). Names are compared in lower case: DNS is case-insensitive and answers keep the asker's spelling.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

SVC = "svc"
POD = "pod"
REVERSE_ZONES = ("in-addr.arpa", "ip6.arpa")


class InvalidName(ValueError):
    """The name cannot exist in the zone: the answer is NXDOMAIN."""


@dataclass(frozen=True, slots=True)
class Request:
    """What a name in the zone asks for; empty fields were not in the name. ``kind`` is ``svc``, ``pod`` or
    ``""`` (an apex-like name that exists without records)."""

    kind: str = ""
    namespace: str = ""
    service: str = ""
    endpoint: str = ""
    port: str = ""
    protocol: str = ""


def normalize(name: str) -> str:
    """Lower case, no trailing dot: the form names are compared in."""
    return name.rstrip(".").lower()


def in_zone(name: str, zone: str) -> bool:
    """``name`` (normalized) is ``zone`` or below it."""
    return name == zone or name.endswith("." + zone)


def trim_zone(name: str, zone: str) -> str:
    """The labels of ``name`` left of ``zone`` (both normalized; ``name`` must be in the zone)."""
    return "" if name == zone else name[: -len(zone) - 1]


def _strip_underscore(label: str) -> str:
    return label[1:] if label.startswith("_") else label


def parse_request(name: str, zone: str) -> Request:
    """The :class:`Request` for ``name`` in ``zone`` (both normalized); raises :class:`InvalidName`."""
    base = trim_zone(name, zone)
    if base in ("", SVC, POD):
        return Request()
    segs = base.split(".")
    kind = segs.pop()
    if kind not in (SVC, POD):
        raise InvalidName(name)
    if not segs:
        return Request()
    namespace = segs.pop()
    if not segs:
        return Request(kind=kind, namespace=namespace)
    service = segs.pop()
    if not segs:
        return Request(kind=kind, namespace=namespace, service=service)
    if len(segs) == 1:
        return Request(kind=kind, namespace=namespace, service=service, endpoint=segs[0])
    if len(segs) == 2:
        return Request(kind=kind, namespace=namespace, service=service, port=_strip_underscore(segs[0]),
                       protocol=_strip_underscore(segs[1]))
    raise InvalidName(name)


def pod_ip_from_label(label: str) -> str:
    """The IP a pod label spells (``10-42-0-5`` → ``10.42.0.5``; dashes for colons in IPv6), or ``""``."""
    if label.count("-") == 3 and "--" not in label:
        text = label.replace("-", ".")
    else:
        text = label.replace("-", ":")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return ""


def endpoint_label(ip: str) -> str:
    """An endpoint's DNS label when it has no hostname: its IP with dashes (``10-42-0-5``; IPv6 colons become
    dashes, and a trailing dash gets a ``0`` so the label never ends in one)."""
    if "." in ip:
        return ip.replace(".", "-")
    if ":" in ip:
        out = ip.replace(":", "-")
        return out + "0" if out.endswith("-") else out
    return ""


def address_from_reverse(name: str) -> str:
    """The IP a reverse name (normalized) stands for — ``5.0.42.10.in-addr.arpa`` → ``10.42.0.5``, nibbles
    under ``ip6.arpa`` — or ``""`` when the name is not a complete address."""
    if name.endswith(".in-addr.arpa"):
        parts = name[: -len(".in-addr.arpa")].split(".")
        if len(parts) != 4 or not all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts):
            return ""
        return ".".join(reversed(parts))
    if name.endswith(".ip6.arpa"):
        nibbles = name[: -len(".ip6.arpa")].split(".")
        if len(nibbles) != 32 or not all(len(n) == 1 and n in "0123456789abcdef" for n in nibbles):
            return ""
        hexed = "".join(reversed(nibbles))
        return str(ipaddress.IPv6Address(int(hexed, 16)))
    return ""


def reverse_name(ip: str) -> str:
    """The PTR owner name of ``ip`` (no trailing dot)."""
    return ipaddress.ip_address(ip).reverse_pointer


def is_reverse(name: str) -> bool:
    return any(in_zone(name, z) for z in REVERSE_ZONES)
