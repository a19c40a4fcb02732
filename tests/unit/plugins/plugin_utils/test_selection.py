import pytest

from ansible_collections.hyperv.backup.plugins.plugin_utils._selection import (
    SelectionError,
    parse_entry,
    select_vms,
)
from tests.unit.factsdata import node, vm


def facts(**overrides):
    vms = [
        vm("SQL01"),
        vm("sql02", node_state="Off", Generation=1),
        vm("WEB01"),
        vm("FILE01", node_state="Saved"),
    ]
    return node("HV01", vms, **overrides)


def names(result):
    return [v["Name"] for v in result["selected"]]


def test_default_is_every_vm_of_the_node_in_name_order():
    assert names(select_vms(facts())) == ["FILE01", "SQL01", "sql02", "WEB01"]


def test_an_empty_list_selects_nothing_not_everything():
    assert select_vms(facts(), vms=[])["selected"] == []


def test_names_are_matched_without_regard_to_case():
    assert names(select_vms(facts(), vms=["web01", "SQL02"])) == ["sql02", "WEB01"]


def test_globs_are_case_insensitive_and_may_match_nothing():
    assert names(select_vms(facts(), vms=["sql*", "DC*"])) == ["SQL01", "sql02"]


def test_ids_with_braces_and_upper_case_select_the_vm():
    target = facts()["vms"][2]
    result = select_vms(facts(), vms=["{" + target["Id"].upper() + "}"])
    assert names(result) == ["WEB01"]


def test_a_vm_matched_twice_is_selected_once():
    assert names(select_vms(facts(), vms=["SQL01", "SQL*"])) == ["SQL01", "sql02"]


@pytest.mark.parametrize("value", ["NOPE01", "0f8fad5b-d9cb-469f-a165-70867728950e"])
def test_a_name_or_id_that_matches_nothing_is_an_error_naming_it(value):
    with pytest.raises(SelectionError, match=f"'{value}' matches no VM on HV01"):
        select_vms(facts(), vms=["SQL01", value])


@pytest.mark.parametrize("value", ["d9e0eb0a-5b37-508e-9173", "{SQL01}", "d9e0eb0a5b37508e917367e9ade83acf",
                                   "0f8fad5b-d9cb-469f-a165-70867728950", "{0f8fad5b-d9cb-469f-a165-70867728950e",
                                   "0f8fad5b-d9cb-469f-a165-70867728950e}"])
def test_a_malformed_id_is_an_error_naming_it(value):
    with pytest.raises(SelectionError, match="looks like a VM ID but is not one") as err:
        select_vms(facts(), vms=[value])
    assert value in str(err.value)


DATA_NAMES = ["O'Brien $(test); x", 'say "hi"', "a;b", "tick`s `$x", "$env:x", "‘typographic’",
              "Ünïcödé-VM", "数据库", "SQL01'; Remove-Item C:\\ -Recurse"]


def named(*extra):
    return node("HV01", [vm("SQL01")] + [vm(name) for name in extra])


@pytest.mark.parametrize("name", DATA_NAMES)
def test_names_are_data_selected_exactly_by_name(name):
    assert parse_entry(name) == ("name", name)
    result = select_vms(named(name, name + "2"), vms=[name])
    assert names(result) == [name]
    assert result["selected"][0]["Name"] == name


@pytest.mark.parametrize("name", DATA_NAMES)
def test_names_are_data_in_patterns_and_exclude(name):
    data = named(name)
    assert names(select_vms(data, vms=[name[:-1] + "?"])) == [name]
    assert names(select_vms(data, exclude=[name])) == ["SQL01"]
    assert names(select_vms(data, query="[?Name!='SQL01'].Name")) == [name]


def test_non_ascii_names_compare_without_regard_to_case():
    data = named("Ünïcödé-VM")
    assert names(select_vms(data, vms=["üNÏCÖDÉ-vm"])) == ["Ünïcödé-VM"]


def test_a_name_with_pattern_characters_selects_itself():
    data = named("Web [old]", "Web o")
    assert names(select_vms(data, vms=["Web [old]"])) == ["Web [old]", "Web o"]
    assert names(select_vms(data, vms=["Web [[]old]"])) == ["Web [old]"]


def test_names_are_matched_exactly_spaces_included():
    data = named("SQL02 ")
    assert names(select_vms(data, vms=["SQL02 "])) == ["SQL02 "]
    with pytest.raises(SelectionError, match="'SQL02' matches no VM"):
        select_vms(data, vms=["SQL02"])


@pytest.mark.parametrize("value", ["a\nb", "tab\there", "nul\x00", "del\x7f", "c1\x85", "\x1b[31mred"])
def test_control_characters_are_refused_pointing_to_the_vm_id(value):
    with pytest.raises(SelectionError, match="control character U\\+00.*select that VM by its ID"):
        parse_entry(value)
    with pytest.raises(SelectionError, match="exclude: .*control character"):
        select_vms(named(), exclude=[value])


@pytest.mark.parametrize("value, kind", [(42, "an integer"), (None, "null"), (["a"], "a list"), ({"a": 1}, "a mapping")])
def test_a_value_that_is_not_a_string_is_named_with_its_type_in_users_words(value, kind):
    with pytest.raises(SelectionError, match=f"is {kind}, not a string"):
        parse_entry(value)


def test_a_name_that_looks_like_a_mistyped_id_selects_the_vm_so_named():
    data = named("{SQL01}", "deadbeef-legacy")
    assert names(select_vms(data, vms=["{SQL01}"])) == ["{SQL01}"]
    assert names(select_vms(data, vms=["DEADBEEF-legacy"])) == ["deadbeef-legacy"]
    assert names(select_vms(data, exclude=["{sql01}"])) == ["deadbeef-legacy", "SQL01"]


def test_names_with_dashes_are_names_not_ids():
    assert parse_entry("db-01") == ("name", "db-01")
    assert parse_entry("web-cafe") == ("name", "web-cafe")


def test_exclude_removes_and_may_match_nothing():
    assert names(select_vms(facts(), exclude=["sql*", "NOTHERE"])) == ["FILE01", "WEB01"]


def test_a_malformed_exclude_is_an_error():
    with pytest.raises(SelectionError, match="exclude: 'abcdef01-' looks like a VM ID"):
        select_vms(facts(), exclude=["abcdef01-"])


def test_query_filters_the_selection():
    result = select_vms(facts(), query="[?Generation==`2` && State=='Running']")
    assert names(result) == ["SQL01", "WEB01"]
    result = select_vms(facts(), vms=["SQL*"], query="[?State=='Running']")
    assert names(result) == ["SQL01"]


def test_query_may_return_names_or_ids():
    assert names(select_vms(facts(), query="[?State=='Off'].Name")) == ["sql02"]
    assert names(select_vms(facts(), query="[?State=='Saved'].Id")) == ["FILE01"]


def test_query_returning_nothing_selects_nothing():
    assert select_vms(facts(), query="[?Generation==`3`]")["selected"] == []


@pytest.mark.parametrize("query, message", [
    ("[?Generation==", "is not a valid JMESPath expression"),
    ("length(@)", "must return a list of VMs"),
    ("[].Generation", "it returned 2"),
])
def test_bad_queries_are_errors_naming_the_query(query, message):
    with pytest.raises(SelectionError, match="query: ") as err:
        select_vms(facts(), query=query)
    assert query in str(err.value) and message in str(err.value)


def test_a_clustered_vm_of_another_node_is_elsewhere_not_an_error():
    data = facts()
    data["cluster"]["VMRoles"] = [{"Name": "APP01", "VMId": "0f8fad5b-d9cb-469f-a165-70867728950e",
                                   "OwnerNode": "HV02", "State": "Online", "AntiAffinityClassNames": []}]
    result = select_vms(data, vms=["app01", "SQL01"])
    assert names(result) == ["SQL01"]
    assert result["elsewhere"] == [{"name": "APP01", "node": "HV02"}]
    by_id = select_vms(data, vms=["{0F8FAD5B-D9CB-469F-A165-70867728950E}"])
    assert names(by_id) == []
    assert by_id["elsewhere"] == [{"name": "APP01", "node": "HV02"}]


def test_without_cluster_facts_an_unknown_name_is_an_error():
    with pytest.raises(SelectionError, match="'APP01' matches no VM on HV01$"):
        select_vms(facts(cluster=False), vms=["APP01"])


def twins():
    first = vm("DUP", Id="11111111-1111-4111-8111-111111111111")
    second = vm("dup", Id="22222222-2222-4222-8222-222222222222", State="Off")
    return node("HV01", [vm("SQL01"), second, first])


def test_a_name_shared_by_two_vms_selects_both_told_apart_by_id():
    result = select_vms(twins(), vms=["DUP"])
    assert [(v["Name"], v["Id"][:8]) for v in result["selected"]] == [("DUP", "11111111"), ("dup", "22222222")]
    assert len(select_vms(twins(), vms=["D*"])["selected"]) == 2
    assert len(select_vms(twins(), query="[?starts_with(Name, 'SQL') == `false`].Name")["selected"]) == 2
    assert names(select_vms(twins(), exclude=["dup"])) == ["SQL01"]
    assert [v["Id"][:8] for v in select_vms(twins(), vms=["{22222222-2222-4222-8222-222222222222}"])["selected"]] \
        == ["22222222"]


def test_two_clustered_vms_of_one_name_elsewhere_are_both_reported():
    data = facts()
    data["cluster"]["VMRoles"] = [
        {"Name": "APP01", "VMId": "0f8fad5b-d9cb-469f-a165-70867728950e", "OwnerNode": "HV02"},
        {"Name": "APP01", "VMId": "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "OwnerNode": "HV02"},
    ]
    result = select_vms(data, vms=["APP01", "{0F8FAD5B-D9CB-469F-A165-70867728950E}"])
    assert result["elsewhere"] == [{"name": "APP01", "node": "HV02"}, {"name": "APP01", "node": "HV02"}]
    excluded = select_vms(data, vms=["APP01"], exclude=["3f2504e0-4f89-11d3-9a0c-0305e82c3301"])
    assert excluded["elsewhere"] == [{"name": "APP01", "node": "HV02"}]
