"""hyperv.backup.cluster_config_store through real ansible processes against hvsim."""
import copy
import json

import pytest

from hvsim.testing import host_results, run_ansible
from tests.integration import modelkit
from tests.integration.modelkit import model, model_bytes, node, vm

pytestmark = pytest.mark.integration

STORE = "C:\\ClusterStorage\\Volume1\\Hyper-V\\ConfigStore"
OTHER = "C:\\ClusterStorage\\Volume2\\Store"

MODEL = model([node("HV01"), node("HV02")], [vm("SQL01", "d9e0eb0a-5b37-508e-9173-67e9ade83acf", "HV01")])
MODEL["cluster"]["shared_volumes"].append({"name": "Cluster Disk 2", "path": "C:\\ClusterStorage\\Volume2",
                                           "owner_node": "HV02", "state": "Online"})


@pytest.fixture
def lab(lab_of):
    return lab_of(copy.deepcopy(MODEL))


def adhoc(lab, module_args, *extra, hosts="HV01"):
    return modelkit.adhoc(lab, "cluster_config_store", module_args, *extra, hosts=hosts)


def args(**values):
    return json.dumps(values)


def store(lab):
    return lab.read_model()["cluster"]["parameters"]["ConfigStoreRootPath"]


def set_in_model(lab, value, folders=()):
    data = lab.read_model()
    data["cluster"]["parameters"]["ConfigStoreRootPath"] = value
    for folder in folders:
        data["folders"][folder] = {"nodes": "all", "owner": "S-1-5-32-544", "access": []}
    lab.write_model(data)


def test_converge_creates_the_folder_sets_the_value_and_a_rerun_changes_nothing(lab):
    rc, results = adhoc(lab, args(path=STORE))
    assert rc == 0, results
    result = results["HV01"]
    assert result["changed"] is True and result["status"] == "changed" and result["folder_created"] is True
    assert result["before"] == {"ConfigStoreRootPath": ""} and result["after"] == {"ConfigStoreRootPath": STORE}
    assert result["shared_volume"]["Name"] == "Cluster Disk 1"
    assert store(lab) == STORE
    assert {STORE, "C:\\ClusterStorage\\Volume1\\Hyper-V"} <= set(lab.read_model()["folders"])
    assert lab.round_trips() == {("HV01", "host_facts"): 1, ("HV01", "cluster_config_store"): 1}

    converged = model_bytes(lab)
    lab.clear_journal()
    # the same folder, spelt otherwise, from the other node
    rc, results = adhoc(lab, args(path=STORE.lower().replace("\\", "/") + "/"), hosts="HV02")
    assert rc == 0, results
    assert results["HV02"]["changed"] is False and results["HV02"]["status"] == "ok"
    assert model_bytes(lab) == converged
    assert lab.round_trips() == {("HV02", "host_facts"): 1}


def test_check_mode_predicts_exactly_what_the_real_run_does(lab):
    untouched = model_bytes(lab)
    rc, predicted = adhoc(lab, args(path=STORE), "--check", "--diff")
    assert rc == 0, predicted
    assert model_bytes(lab) == untouched
    assert ("HV01", "cluster_config_store") not in lab.round_trips()

    rc, actual = adhoc(lab, args(path=STORE), "--diff")
    assert rc == 0, actual
    for key in ("changed", "status", "before", "after", "path", "shared_volume", "diff"):
        assert predicted["HV01"][key] == actual["HV01"][key], key
    assert actual["HV01"]["diff"] == {"before": {"ConfigStoreRootPath": ""}, "after": {"ConfigStoreRootPath": STORE}}
    assert store(lab) == STORE


def test_ad_hoc_on_every_node_sets_it_once(lab):
    rc, results = adhoc(lab, f"path={STORE}", hosts="hv")
    assert rc == 0, results
    assert sorted(r["status"] for r in results.values()) == ["changed", "ok"]
    assert sum(r["changed"] for r in results.values()) == 1
    assert store(lab) == STORE


def test_a_value_already_set_elsewhere_is_reported_and_left_alone(lab):
    set_in_model(lab, OTHER, folders=[OTHER])
    untouched = model_bytes(lab)
    rc, results = adhoc(lab, args(path=STORE), "--diff")
    assert rc == 0, results
    result = results["HV01"]
    assert result["changed"] is False and result["status"] == "conflict" and not result.get("failed")
    assert result["after"] == {"ConfigStoreRootPath": OTHER} and result["diff"] == {"before": {}, "after": {}}
    [warning] = [w for w in result["warnings"] if "ConfigStoreRootPath" in w]
    assert f"already '{OTHER}'" in warning and f"'{STORE}' was not set" in warning
    assert model_bytes(lab) == untouched
    assert ("HV01", "cluster_config_store") not in lab.round_trips()


def test_on_conflict_fail_fails_and_leaves_the_model_untouched(lab):
    set_in_model(lab, OTHER, folders=[OTHER])
    modelkit.fails_leaving_model_untouched(lab, "cluster_config_store", args(path=STORE, on_conflict="fail"),
                                           f"on_conflict: fail: ConfigStoreRootPath of the failover cluster HVCIT is "
                                           f"already '{OTHER}'")


@pytest.mark.parametrize("module_args, message", [
    (args(path="D:\\Hyper-V\\ConfigStore"), "path: 'D:\\Hyper-V\\ConfigStore' is not on a Cluster Shared Volume of HVCIT"),
    (args(path="C:\\ClusterStorage\\Volume10\\Store"), "is not on a Cluster Shared Volume of HVCIT (its CSVs: "
                                                       "C:\\ClusterStorage\\Volume1, C:\\ClusterStorage\\Volume2)"),
    (args(path="Hyper-V\\ConfigStore"), "path: 'Hyper-V\\ConfigStore' is not an absolute path on a drive"),
    (args(path="\\\\fs01\\share\\ConfigStore"), "is not an absolute path on a drive"),
    (args(path="C:\\ClusterStorage\\Volume1\\Conf\nigStore"), "contains the control character U+000A"),
    (args(path="C:\\ClusterStorage\\Volume1\\..\\Volume2"), "has a '..' segment"),
    (args(path=STORE, create_folder="maybe"), "create_folder"),
    ("path=" + STORE + " bogus=1", "Unsupported parameters for (hyperv.backup.cluster_config_store) module: bogus"),
])
def test_bad_input_fails_clearly_and_leaves_the_model_untouched(lab, module_args, message):
    modelkit.fails_leaving_model_untouched(lab, "cluster_config_store", module_args, message)
    assert ("HV01", "cluster_config_store") not in lab.round_trips()


def test_a_csv_that_is_offline_is_refused(lab):
    data = lab.read_model()
    data["cluster"]["shared_volumes"][1]["state"] = "Offline"
    lab.write_model(data)
    modelkit.fails_leaving_model_untouched(lab, "cluster_config_store", args(path=OTHER),
                                           "on the Cluster Shared Volume 'Cluster Disk 2' (C:\\ClusterStorage\\Volume2), "
                                           "which is Offline, not Online")


def test_a_cluster_without_the_resource_is_refused_saying_what_creates_it(lab):
    data = lab.read_model()
    data["cluster"]["parameters"] = None
    lab.write_model(data)
    modelkit.fails_leaving_model_untouched(lab, "cluster_config_store", args(path=STORE),
                                           "HVCIT has no resource of type 'Virtual Machine Cluster WMI'")


def test_a_node_whose_cluster_service_is_stopped_is_refused_with_the_reads_warning(lab):
    data = lab.read_model()
    data["nodes"][0]["cluster_service"] = "Stopped"
    lab.write_model(data)
    results = modelkit.fails_leaving_model_untouched(lab, "cluster_config_store", args(path=STORE),
                                                     "HV01 is not a node of a running failover cluster")
    assert any("ClusSvc) is Stopped on HV01" in w for w in results["HV01"].get("warnings", []))


def test_a_missing_folder_without_create_folder_fails_before_setting(lab):
    modelkit.fails_leaving_model_untouched(lab, "cluster_config_store", args(path=STORE, create_folder=False),
                                           f"the folder '{STORE}' does not exist on HV01")
    assert lab.round_trips()[("HV01", "cluster_config_store")] == 1

    set_in_model(lab, "", folders=[STORE])
    rc, results = adhoc(lab, args(path=STORE, create_folder=False))
    assert rc == 0, results
    assert results["HV01"]["folder_created"] is False and store(lab) == STORE


def test_a_set_that_fails_leaves_no_folder_behind(lab):
    data = lab.read_model()
    data["faults"]["cmdlets"] = [{"cmdlet": "Set-ClusterParameter", "message": "The cluster database is busy."}]
    lab.write_model(data)
    rc, results = adhoc(lab, args(path=STORE))
    assert rc != 0
    result = results["HV01"]
    assert result["failed"] is True and result["status"] == "failed" and result["changed"] is False
    assert result["msg"] == ("cluster_config_store: setting ConfigStoreRootPath on the host failed: cluster_config_store: "
                             "setting ConfigStoreRootPath of 'Virtual Machine Cluster WMI' to "
                             f"'{STORE}' on HV01 failed: The cluster database is busy.; the folder this run created was "
                             "removed again")
    after = lab.read_model()
    assert after["folders"] == {} and after["cluster"]["parameters"]["ConfigStoreRootPath"] == ""


def test_a_path_with_quotes_dollar_semicolon_backticks_and_non_ascii_arrives_as_data(lab):
    path = "C:\\ClusterStorage\\Volume1\\O'Brien $(Get-Date); `tick` Ünïcödé データ"
    rc, results = adhoc(lab, args(path=path))
    assert rc == 0, results
    [run] = [entry for entry in lab.journal if entry["module"] == "cluster_config_store"]
    assert run["args"]["path"] == path
    assert store(lab) == path and path in lab.read_model()["folders"]


def test_a_playbook_with_run_once_sets_it_once_for_the_cluster(lab, tmp_path):
    playbook = tmp_path / "site.yml"
    playbook.write_text(
        "- hosts: hv\n  gather_facts: false\n  tasks:\n"
        "    - hyperv.backup.cluster_config_store:\n"
        f"        path: '{STORE}'\n"
        "      run_once: true\n", encoding="utf-8")
    rc, out = run_ansible(lab, "ansible-playbook", str(playbook))
    assert rc == 0, out
    assert [r["status"] for r in host_results(out).values()] == ["changed"]
    assert [key for key in lab.round_trips() if key[1] == "cluster_config_store"] == [("HV01", "cluster_config_store")]
    assert store(lab) == STORE
