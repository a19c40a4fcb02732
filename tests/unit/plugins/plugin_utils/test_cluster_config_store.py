"""The cluster_config_store planner: the path's rules, set only when empty, the same folder is ok, another one
is a conflict, and the result after an apply."""
import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.hyperv.backup.plugins.plugin_utils import _cluster_config_store as planner
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_plan import PlanError
from tests.unit.factsdata import CSVS, node

STORE = "C:\\ClusterStorage\\Volume1\\Hyper-V\\ConfigStore"


def facts(value="", csvs=None, cluster=True):
    data = node("HV01", [], cluster=cluster, csvs=csvs)
    if cluster:
        data["cluster"]["Parameters"]["ConfigStoreRootPath"] = value
    return data


def plan(value="", **options):
    options.setdefault("path", STORE)
    return planner.plan(facts(value), options)


# --- the path ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("given_path, expected", [
    (STORE, STORE),
    ("c:/ClusterStorage/Volume1/Hyper-V/ConfigStore/", "c:\\ClusterStorage\\Volume1\\Hyper-V\\ConfigStore"),
    ("C:\\ClusterStorage\\\\Volume1\\Store\\\\", "C:\\ClusterStorage\\Volume1\\Store"),
    ("  C:\\ClusterStorage\\Volume1  ", "C:\\ClusterStorage\\Volume1"),
    ("C:\\ClusterStorage\\Volume1\\O'Brien $(x); `tick`", "C:\\ClusterStorage\\Volume1\\O'Brien $(x); `tick`"),
    ("C:\\ClusterStorage\\Volume1\\Конфигурация\\データ", "C:\\ClusterStorage\\Volume1\\Конфигурация\\データ"),
])
def test_a_valid_path_is_normalized_for_setting_keeping_its_case_and_characters(given_path, expected):
    assert planner.check_path(given_path) == expected


@pytest.mark.parametrize("bad, message", [
    (None, "null, not a string"),
    (["C:\\x"], "a list, not a string"),
    ("", "an empty string is not a folder"),
    ("   ", "an empty string is not a folder"),
    ("C:\\ClusterStorage\\Volume1\\a\nb", "control character U\\+000A"),
    ("C:\\ClusterStorage\\Volume1\\a\tb", "control character U\\+0009"),
    ("ClusterStorage\\Volume1\\Store", "is not an absolute path on a drive"),
    ("C:ClusterStorage\\Volume1", "is not an absolute path on a drive"),
    ("\\ClusterStorage\\Volume1", "is not an absolute path on a drive"),
    ("\\\\fs01\\share\\Store", "is not an absolute path on a drive"),
    ("1:\\ClusterStorage", "is not an absolute path on a drive"),
    ("C:\\ClusterStorage\\Volume1\\..\\Volume2", "has a '..' segment"),
    ("C:\\ClusterStorage\\.\\Volume1", "has a '.' segment"),
    ("C:\\ClusterStorage\\Volume1\\Store?", "contains '\\?'"),
    ("C:\\ClusterStorage\\Volume1\\a:b", "contains ':'"),
    ("C:\\ClusterStorage\\Volume1\\a|b", "contains '\\|'"),
    ("C:\\ClusterStorage\\Volume1\\Store.", "ending in a space or a dot"),
    ("C:\\ClusterStorage\\Volume1\\Store \\x", "ending in a space or a dot"),
])
def test_a_bad_path_is_refused_naming_it(bad, message):
    with pytest.raises(PlanError, match=message):
        planner.check_path(bad)


def test_a_bad_path_is_refused_before_the_facts_are_looked_at():
    with pytest.raises(PlanError, match="is not an absolute path"):
        planner.plan({}, {"path": "Store"})


def test_an_unknown_on_conflict_is_refused():
    with pytest.raises(PlanError, match="on_conflict: unknown value 'maybe'"):
        planner.check_options({"path": STORE, "on_conflict": "maybe"})


_SEGMENT = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters='<>"|?*:\\/'),
                   min_size=1, max_size=8).filter(lambda s: s.strip(" .") == s and s not in (".", ".."))


@given(st.lists(_SEGMENT, min_size=1, max_size=4), st.sampled_from(["\\", "/"]), st.booleans())
def test_normalizing_is_idempotent_and_keeps_the_folder(segments, sep, trailing):
    path = "C:" + sep + sep.join(segments) + (sep if trailing else "")
    once = planner.check_path(path)
    assert planner.check_path(once) == once
    assert planner.same_path(once, path)
    assert "/" not in once and not once.endswith("\\")


# --- the plan ----------------------------------------------------------------------------------------------

def test_unset_is_set_and_the_folder_is_created_by_default():
    the_plan = plan("")
    assert the_plan["status"] == "changed"
    assert the_plan["before"] == {"ConfigStoreRootPath": ""} and the_plan["after"] == {"ConfigStoreRootPath": STORE}
    assert the_plan["operation"] == {"path": STORE, "create_folder": True}
    assert the_plan["shared_volume"] == {"Name": "Cluster Disk 1", "Path": "C:\\ClusterStorage\\Volume1",
                                         "OwnerNode": "HV01", "State": "Online"}
    assert plan("", create_folder=False)["operation"]["create_folder"] is False


@pytest.mark.parametrize("current", [STORE, STORE.upper(), STORE.lower() + "\\", STORE.replace("\\", "/")])
def test_the_same_folder_in_another_spelling_is_ok_and_nothing_is_sent(current):
    the_plan = plan(current)
    assert the_plan["status"] == "ok" and the_plan["operation"] is None and the_plan["warnings"] == []
    assert the_plan["before"] == the_plan["after"] == {"ConfigStoreRootPath": current}


def test_another_folder_is_a_conflict_left_alone_with_a_warning_naming_both():
    current = "C:\\ClusterStorage\\Volume2\\Store"
    the_plan = plan(current)
    assert the_plan["status"] == "conflict" and the_plan["operation"] is None
    assert the_plan["after"] == {"ConfigStoreRootPath": current}
    [warning] = the_plan["warnings"]
    assert f"already '{current}'" in warning and f"'{STORE}' was not set" in warning
    assert "KB 4488568" in warning and "not on a Cluster Shared Volume" not in warning


def test_a_conflict_with_a_value_off_the_csvs_says_so():
    [warning] = plan("D:\\Old\\Store")["warnings"]
    assert "'D:\\Old\\Store' is not on a Cluster Shared Volume of HVC01" in warning


def test_on_conflict_fail_fails_with_the_same_message():
    with pytest.raises(PlanError, match="on_conflict: fail: ConfigStoreRootPath of the failover cluster HVC01 is "
                                        "already 'C:.+Volume2.+Store'"):
        plan("C:\\ClusterStorage\\Volume2\\Store", on_conflict="fail")
    assert plan(STORE, on_conflict="fail")["status"] == "ok"
    assert plan("", on_conflict="fail")["status"] == "changed"


def test_a_node_without_a_cluster_is_refused():
    with pytest.raises(PlanError, match="HV01 is not a node of a running failover cluster"):
        planner.plan(facts(cluster=False), {"path": STORE})


def test_a_cluster_without_the_resource_is_refused_saying_what_creates_it():
    data = facts()
    data["cluster"]["Parameters"]["ConfigStoreRootPath"] = None
    with pytest.raises(PlanError, match="HVC01 has no resource of type 'Virtual Machine Cluster WMI'.*Windows "
                                        "Server 2016 and later.*Update-ClusterFunctionalLevel"):
        planner.plan(data, {"path": STORE})


@pytest.mark.parametrize("path", [
    "C:\\ClusterStorage\\Volume10\\Store",   # not inside Volume1
    "C:\\ClusterStorage",
    "C:\\ClusterStorageX\\Volume1",
    "D:\\Hyper-V\\ConfigStore",
])
def test_a_path_not_on_a_csv_is_refused_listing_the_csvs(path):
    with pytest.raises(PlanError, match=r"is not on a Cluster Shared Volume of HVC01 \(its CSVs: "
                                        r"C:\\ClusterStorage\\Volume1, C:\\ClusterStorage\\Volume2\)"):
        plan(path=path)


def test_the_csv_folder_itself_and_the_deepest_csv_are_accepted():
    assert plan(path="c:\\clusterstorage\\volume2")["shared_volume"]["Name"] == "Cluster Disk 2"
    nested = CSVS + [{"Name": "Mounted", "OwnerNode": "HV02", "State": "Online",
                      "Path": "C:\\ClusterStorage\\Volume1\\Mounted"}]
    the_plan = planner.plan(facts(csvs=nested), {"path": "C:\\ClusterStorage\\Volume1\\Mounted\\Store"})
    assert the_plan["shared_volume"]["Name"] == "Mounted"


def test_a_csv_that_is_not_online_is_refused():
    csvs = copy.deepcopy(CSVS)
    csvs[0]["State"] = "Offline"
    with pytest.raises(PlanError, match="'Cluster Disk 1' .* which is Offline, not Online"):
        planner.plan(facts(csvs=csvs), {"path": STORE})


def test_a_cluster_without_csvs_says_so():
    with pytest.raises(PlanError, match=r"\(its CSVs: none\)"):
        planner.plan(facts(csvs=[]), {"path": STORE})


# --- merge and diff ----------------------------------------------------------------------------------------

def test_merge_without_an_apply_is_the_plan():
    final = planner.merge(plan(""))
    assert final["changed"] is True and final["status"] == "changed" and "folder_created" not in final
    assert planner.diff(final) == {"before": {"ConfigStoreRootPath": ""}, "after": {"ConfigStoreRootPath": STORE}}
    ok = planner.merge(plan(STORE))
    assert ok["changed"] is False and planner.diff(ok) == {"before": {}, "after": {}}


def test_merge_takes_what_the_host_read_back_and_whether_it_created_the_folder():
    applied = {"changed": True, "status": "changed", "before": {"ConfigStoreRootPath": ""},
               "after": {"ConfigStoreRootPath": STORE}, "folder_created": True}
    final = planner.merge(plan(""), applied)
    assert final["status"] == "changed" and final["folder_created"] is True and final["changed"] is True
    assert final["after"] == {"ConfigStoreRootPath": STORE}


def test_merge_of_a_value_set_meanwhile_to_the_same_folder_is_ok_without_a_diff():
    applied = {"changed": False, "status": "ok", "before": {"ConfigStoreRootPath": STORE},
               "after": {"ConfigStoreRootPath": STORE}}
    final = planner.merge(plan(""), applied)
    assert final["status"] == "ok" and final["changed"] is False
    assert planner.diff(final) == {"before": {}, "after": {}}


def test_merge_of_a_value_set_meanwhile_to_another_folder_is_a_conflict_with_the_hosts_message():
    other = "C:\\ClusterStorage\\Volume2\\Store"
    applied = {"changed": False, "status": "conflict", "msg": f"ConfigStoreRootPath is already '{other}' (read on HV01)",
               "before": {"ConfigStoreRootPath": other}, "after": {"ConfigStoreRootPath": other}}
    final = planner.merge(plan(""), applied)
    assert final["status"] == "conflict" and final["changed"] is False
    assert final["warnings"] == [applied["msg"]]


def test_merge_of_a_module_that_failed_keeps_the_value_it_reported_or_before():
    final = planner.merge(plan(""), {"failed": True, "msg": "boom", "changed": False})
    assert final["status"] == "failed" and final["msg"] == "boom" and final["after"] == {"ConfigStoreRootPath": ""}
    assert final["changed"] is False
    final = planner.merge(plan(""), {"failed": True, "msg": "not taken", "changed": True,
                                     "after": {"ConfigStoreRootPath": ""}, "folder_created": True})
    assert final["status"] == "failed" and final["folder_created"] is True and final["changed"] is True


def test_merge_of_an_unknown_status_is_a_failure():
    final = planner.merge(plan(""), {"status": "weird"})
    assert final["status"] == "failed" and final["msg"] == "the host reported no status"
