"""The ruleset model: the whole table as one replacing transaction, and diffs ordered so that nothing is
referenced before it exists or deleted while referenced."""

from __future__ import annotations

import pytest

from pybernetes.proxy.nft import Chain, Fragment, SetDecl, plan, render_table

VMAP = SetDecl("map", "type ipv4_addr : verdict;")
AFFINITY = SetDecl("set", "type ipv4_addr; flags dynamic,timeout; timeout 10s;", dynamic=True)


def svc(name: str, ip: str, *endpoints: str) -> Fragment:
    chains = {f"svc-{name}": Chain((f"numgen random mod {len(endpoints)} vmap {{ "
                                    + ", ".join(f"{i} : goto ep-{e}" for i, e in enumerate(endpoints)) + " }",))}
    chains.update({f"ep-{e}": Chain((f"meta l4proto tcp dnat to {e}:80",)) for e in endpoints})
    return Fragment(chains=chains, elements={("vips", ip): f"goto svc-{name}"})


PRE = "type nat hook prerouting priority -100; policy accept;"
BASE = Fragment(chains={"pre": Chain(("ip daddr vmap @vips",), PRE)}, sets={"vips": VMAP})


def test_render_replaces_the_table_atomically() -> None:
    text = render_table("t", [BASE, svc("a", "10.43.0.1", "10.42.0.5")], comment="ours")
    assert text == (
        "add table ip t\n"
        "delete table ip t\n"
        "table ip t {\n"
        '\tcomment "ours"\n'
        "\tmap vips { type ipv4_addr : verdict; }\n"
        "\tchain pre {\n"
        "\t\ttype nat hook prerouting priority -100; policy accept;\n"
        "\t\tip daddr vmap @vips\n"
        "\t}\n"
        "\tchain svc-a {\n"
        "\t\tnumgen random mod 1 vmap { 0 : goto ep-10.42.0.5 }\n"
        "\t}\n"
        "\tchain ep-10.42.0.5 {\n"
        "\t\tmeta l4proto tcp dnat to 10.42.0.5:80\n"
        "\t}\n"
        "}\n"
        "add element ip t vips { 10.43.0.1 : goto svc-a }\n")


def test_render_merges_elements_of_one_map_from_many_fragments() -> None:
    text = render_table("t", [BASE, svc("a", "10.43.0.1", "e1"), svc("b", "10.43.0.2", "e2")])
    assert text.endswith("add element ip t vips { 10.43.0.1 : goto svc-a, 10.43.0.2 : goto svc-b }\n")


def test_no_change_is_an_empty_plan() -> None:
    a = svc("a", "10.43.0.1", "e1")
    assert plan("t", [(a, svc("a", "10.43.0.1", "e1")), (None, None), (a, a)]) == ""


def test_a_new_service_declares_chains_before_rules_and_the_element_last() -> None:
    assert plan("t", [(None, svc("a", "10.43.0.1", "e1"))]) == (
        "add chain ip t svc-a\n"
        "add chain ip t ep-e1\n"
        "add rule ip t svc-a numgen random mod 1 vmap { 0 : goto ep-e1 }\n"
        "add rule ip t ep-e1 meta l4proto tcp dnat to e1:80\n"
        "add element ip t vips { 10.43.0.1 : goto svc-a }\n")


def test_a_removed_service_is_unreferenced_flushed_then_deleted() -> None:
    assert plan("t", [(svc("a", "10.43.0.1", "e1"), None)]) == (
        "delete element ip t vips { 10.43.0.1 }\n"
        "flush chain ip t svc-a\n"
        "flush chain ip t ep-e1\n"
        "delete chain ip t svc-a\n"
        "delete chain ip t ep-e1\n")


def test_an_endpoint_change_rewrites_only_the_service_chain_and_swaps_endpoint_chains() -> None:
    out = plan("t", [(svc("a", "10.43.0.1", "e1", "e2"), svc("a", "10.43.0.1", "e2", "e3"))])
    assert out == (
        "add chain ip t ep-e3\n"
        "flush chain ip t svc-a\n"
        "add rule ip t svc-a numgen random mod 2 vmap { 0 : goto ep-e2, 1 : goto ep-e3 }\n"
        "add rule ip t ep-e3 meta l4proto tcp dnat to e3:80\n"
        "flush chain ip t ep-e1\n"
        "delete chain ip t ep-e1\n")


def test_a_changed_element_value_is_deleted_then_added() -> None:
    old = Fragment(elements={("vips", "10.43.0.1"): "goto x"})
    new = Fragment(elements={("vips", "10.43.0.1"): "drop"})
    assert plan("t", [(old, new)]) == ("delete element ip t vips { 10.43.0.1 }\n"
                                      "add element ip t vips { 10.43.0.1 : drop }\n")


def test_an_element_moving_between_owners_is_deleted_before_it_is_added() -> None:
    out = plan("t", [(None, svc("b", "10.43.0.1", "e2")), (svc("a", "10.43.0.1", "e1"), None)])
    assert out is not None
    lines = out.splitlines()
    assert lines.index("delete element ip t vips { 10.43.0.1 }") < lines.index(
        "add element ip t vips { 10.43.0.1 : goto svc-b }")


def test_sets_are_declared_first_and_deleted_last_without_touching_dynamic_elements() -> None:
    old = Fragment(chains={"ep": Chain(("update @aff { ip saddr }",))}, sets={"aff": AFFINITY},
                   elements={("aff", "1.2.3.4"): ""})
    new_set = Fragment(chains={"ep2": Chain(("update @aff2 { ip saddr }",))}, sets={"aff2": AFFINITY},
                       elements={("aff2", "1.2.3.4"): ""})
    assert plan("t", [(old, new_set)]) == (
        "add set ip t aff2 { type ipv4_addr; flags dynamic,timeout; timeout 10s; }\n"
        "add chain ip t ep2\n"
        "add rule ip t ep2 update @aff2 { ip saddr }\n"
        "flush chain ip t ep\n"
        "delete chain ip t ep\n"
        "delete set ip t aff\n")


def test_elements_of_a_dying_set_are_not_deleted_one_by_one() -> None:
    old = Fragment(sets={"s": SetDecl("set", "type ipv4_addr;")}, elements={("s", "1.1.1.1"): ""})
    assert plan("t", [(old, None)]) == "delete set ip t s\n"


@pytest.mark.parametrize("old, new", [
    (Fragment(sets={"s": SetDecl("set", "type ipv4_addr;")}), Fragment(sets={"s": SetDecl("set", "type mark;")})),
    (Fragment(chains={"c": Chain((), "type filter hook input priority 0;")}),
     Fragment(chains={"c": Chain((), "type filter hook output priority 0;")})),
])
def test_changes_that_cannot_be_made_in_place_ask_for_a_full_rewrite(old: Fragment, new: Fragment) -> None:
    assert plan("t", [(old, new)]) is None


def test_a_new_base_chain_is_declared_with_its_hook() -> None:
    assert plan("t", [(None, BASE)]).splitlines()[:2] == [
        "add map ip t vips { type ipv4_addr : verdict; }",
        "add chain ip t pre { type nat hook prerouting priority -100; policy accept; }"]


def test_claims_give_a_contested_element_to_the_smallest_key_and_hand_it_over() -> None:
    from pybernetes.proxy.nft import Claims
    a = Fragment(elements={("vips", "1.1.1.1"): "goto a", ("vips", "2.2.2.2"): "goto a"})
    b = Fragment(elements={("vips", "1.1.1.1"): "goto b"})
    c = Claims()
    assert c.update("svc:b", b) == set()
    assert c.effective("svc:b") is b                                 # uncontested: the fragment itself
    assert c.update("svc:a", a) == {"svc:b"}                         # b may lose its element
    assert c.effective("svc:a") == a
    assert c.effective("svc:b") == Fragment()
    assert c.contested() == [("vips", "1.1.1.1")]
    assert c.update("svc:a", None) == {"svc:b"}                      # a goes: b gets the element back
    assert c.effective("svc:b") == b and c.effective("svc:a") is None and c.contested() == []
