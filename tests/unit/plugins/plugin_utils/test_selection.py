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
                                   "0f8fad5b-d9cb-469f-a165-70867728950"])
def test_a_malformed_id_is_an_error_naming_it(value):
    with pytest.raises(SelectionError, match="looks like a VM ID but is not one") as err:
        select_vms(facts(), vms=[value])
    assert value in str(err.value)


@pytest.mark.parametrize("value", ["SQL01'; Remove-Item C:\\ -Recurse", 'a"b', "a;b", "a`b", "$env:x", "a\nb",
                                   "a\u2019b"])
def test_names_with_quotes_or_separators_are_rejected(value):
    with pytest.raises(SelectionError, match="are not accepted in VM names"):
        parse_entry(value)


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
