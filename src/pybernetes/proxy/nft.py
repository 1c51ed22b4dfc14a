"""The ruleset model of our one nftables table, and the two ways to write it: whole, or as a diff.

The desired state is a set of :class:`Fragment` s — one for the table's fixed structure, one per Service, one
per NetworkPolicy-isolated pod — each holding the chains, sets/maps and map elements it owns. Names are unique
across fragments (they carry the owning object's name and a hash), so fragments never fight over an object; only
elements of the shared maps (``service-ips``, ``np-ingress``, ...) come from many fragments, keyed by
``(map, key)``.

:func:`render_table` writes the whole table as one transaction that first deletes whatever table is there
(``add table`` + ``delete table`` + the definition): the kernel applies it atomically, so a restarted proxy
converges on exactly the desired state and nothing stale survives.

:func:`plan` writes the difference between two versions of some fragments as one transaction, ordered so that
every object exists before it is referenced and is unreferenced before it is deleted: declarations, element
deletions, chain rewrites (``flush chain`` + rules), element additions, chain deletions, set deletions. A chain
that goes away is flushed before it is deleted (``delete chain`` refuses a chain that still holds rules). A
change that cannot be made in place (a set's type or a base chain's hook changed) returns ``None`` and the
caller rewrites the whole table instead. Sets marked ``dynamic`` (session affinity) are filled by the kernel:
their elements are never written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

FAMILY = "ip"


@dataclass(frozen=True, slots=True)
class Chain:
    """A chain: ``hook`` is the base-chain spec (``type nat hook output priority -100; policy accept;``) or
    empty for a regular chain; ``rules`` are nft rule statements in order."""

    rules: tuple[str, ...] = ()
    hook: str = ""


@dataclass(frozen=True, slots=True)
class SetDecl:
    """A set or map: ``kind`` is ``set`` or ``map``; ``spec`` the body (``type ipv4_addr; flags interval;``).
    ``dynamic`` sets are written by rules (``update @set``), so their elements are the kernel's, not ours."""

    kind: str
    spec: str
    dynamic: bool = False


@dataclass(frozen=True, slots=True)
class Fragment:
    """What one owner (the table skeleton, a Service, a pod) puts into the table.

    ``elements`` maps ``(set or map name, key)`` to the element's value (``""`` for a set element)."""

    chains: Mapping[str, Chain] = field(default_factory=dict)
    sets: Mapping[str, SetDecl] = field(default_factory=dict)
    elements: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.chains or self.sets or self.elements)


EMPTY = Fragment()


# ---------------------------------------------------------------------------------------------------- rendering

def _element(key: str, value: str) -> str:
    return f"{key} : {value}" if value else key


def _decl(kind: str, name: str, spec: str) -> str:
    return f"{kind} {name} {{ {spec} }}"


def _chain_decl(name: str, chain: Chain) -> str:
    return f"chain {name} {{ {chain.hook} }}" if chain.hook else f"chain {name}"


def _elements_by_set(fragments: Iterable[Fragment]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for frag in fragments:
        for (name, key), value in frag.elements.items():
            out.setdefault(name, []).append(_element(key, value))
    return out


def render_table(table: str, fragments: Iterable[Fragment], *, comment: str = "") -> str:
    """The whole table as one atomic transaction that replaces whatever table of that name exists."""
    frags = list(fragments)
    lines = [f"add table {FAMILY} {table}", f"delete table {FAMILY} {table}", f"table {FAMILY} {table} {{"]
    if comment:
        lines.append(f'\tcomment "{comment}"')
    for frag in frags:
        for name, s in frag.sets.items():
            lines.append(f"\t{_decl(s.kind, name, s.spec)}")
    for frag in frags:
        for name, chain in frag.chains.items():
            lines.append(f"\tchain {name} {{")
            if chain.hook:
                lines.append(f"\t\t{chain.hook}")
            lines.extend(f"\t\t{r}" for r in chain.rules)
            lines.append("\t}")
    lines.append("}")
    for name, elems in _elements_by_set(frags).items():
        lines.append(f"add element {FAMILY} {table} {name} {{ {', '.join(elems)} }}")
    return "\n".join(lines) + "\n"


class NeedsFullSync(Exception):
    """The change cannot be made in place; rewrite the table."""


def plan(table: str, changes: Iterable[tuple[Fragment | None, Fragment | None]]) -> str | None:
    """One transaction taking each ``old`` fragment to its ``new`` one (``None`` = absent); ``""`` when nothing
    changes, ``None`` when only a full rewrite can do it."""
    try:
        return _plan(table, changes)
    except NeedsFullSync:
        return None


def _plan(table: str, changes: Iterable[tuple[Fragment | None, Fragment | None]]) -> str:
    t = f"{FAMILY} {table}"
    declare: list[str] = []
    del_elems: dict[str, list[str]] = {}
    rewrite: list[str] = []
    add_elems: dict[str, list[str]] = {}
    del_chains: list[str] = []
    del_sets: list[str] = []
    dying_sets: set[str] = set()
    dynamic: set[str] = set()
    for old, new in changes:
        old, new = old or EMPTY, new or EMPTY
        if old is new or old == new:
            continue
        for name, s in new.sets.items():
            if s.dynamic:
                dynamic.add(name)
            was = old.sets.get(name)
            if was is None:
                declare.append(f"add {s.kind} {t} {name} {{ {s.spec} }}")
            elif was != s:
                raise NeedsFullSync(name)
        for name, s in old.sets.items():
            if s.dynamic:
                dynamic.add(name)
            if name not in new.sets:
                dying_sets.add(name)
                del_sets.append(f"delete {s.kind} {t} {name}")
        for name, chain in new.chains.items():
            was_chain = old.chains.get(name)
            if was_chain is None:
                declare.append(f"add chain {t} {name}" + (f" {{ {chain.hook} }}" if chain.hook else ""))
            elif was_chain.hook != chain.hook:
                raise NeedsFullSync(name)
            elif was_chain.rules == chain.rules:
                continue
            else:
                rewrite.append(f"flush chain {t} {name}")
            rewrite.extend(f"add rule {t} {name} {r}" for r in chain.rules)
        for name in old.chains:
            if name not in new.chains:
                rewrite.append(f"flush chain {t} {name}")
                del_chains.append(f"delete chain {t} {name}")
        for (sname, key), value in old.elements.items():
            if new.elements.get((sname, key)) != value and sname not in dying_sets:
                del_elems.setdefault(sname, []).append(key)
        for (sname, key), value in new.elements.items():
            if old.elements.get((sname, key)) != value:
                add_elems.setdefault(sname, []).append(_element(key, value))
    for name in dynamic:
        del_elems.pop(name, None)
        add_elems.pop(name, None)
    lines = declare
    lines.extend(f"delete element {t} {name} {{ {', '.join(keys)} }}" for name, keys in del_elems.items())
    lines.extend(rewrite)
    lines.extend(f"add element {t} {name} {{ {', '.join(elems)} }}" for name, elems in add_elems.items())
    lines.extend(del_chains)
    lines.extend(del_sets)
    return "\n".join(lines) + "\n" if lines else ""


def quote(text: str) -> str:
    """A string literal for nft comments (no quotes or backslashes inside, as nft has no escapes)."""
    return '"' + text.replace('"', "'").replace("\\", "/")[:128] + '"'


class Claims:
    """One owner per shared-map element: two Services may both ask for ``192.0.2.9 . tcp . 80`` (externalIPs are
    not allocated) and two pod objects may briefly share an IP; a map holds each key once, and a transaction
    adding it twice fails whole. The owner is the smallest fragment key that wants the element; the others'
    *effective* fragments leave it out, and get it when the owner lets it go."""

    def __init__(self) -> None:
        self.raw: dict[str, Fragment] = {}
        self.wanted: dict[tuple[str, str], set[str]] = {}

    def update(self, key: str, frag: Fragment | None) -> set[str]:
        """Record ``key``'s fragment as computed; returns the *other* fragment keys whose effective fragment may
        have changed with it (those sharing an element with its old or new version)."""
        touched: list[tuple[str, str]] = []
        old = self.raw.pop(key, None)
        if old is not None:
            for ek in old.elements:
                owners = self.wanted.get(ek)
                if owners is not None:
                    owners.discard(key)
                    if not owners:
                        del self.wanted[ek]
                    else:
                        touched.append(ek)
        if frag is not None:
            self.raw[key] = frag
            for ek in frag.elements:
                owners = self.wanted.setdefault(ek, set())
                owners.add(key)
                if len(owners) > 1:
                    touched.append(ek)
        affected: set[str] = set()
        for ek in touched:
            affected.update(self.wanted.get(ek, ()))
        affected.discard(key)
        return affected

    def effective(self, key: str) -> Fragment | None:
        frag = self.raw.get(key)
        if frag is None:
            return None
        if all(len(self.wanted[ek]) == 1 for ek in frag.elements):
            return frag
        return Fragment(chains=frag.chains, sets=frag.sets,
                        elements={ek: v for ek, v in frag.elements.items() if min(self.wanted[ek]) == key})

    def contested(self) -> list[tuple[str, str]]:
        return sorted(ek for ek, owners in self.wanted.items() if len(owners) > 1)
