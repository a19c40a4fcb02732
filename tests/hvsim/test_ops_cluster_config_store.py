"""hvsim's cluster_config_store: Set-ClusterParameter's refusal, the resource's absence, the folder rule, the
module's arguments and results."""
import copy

import pytest

from hvsim import ops, world
from hvsim.model import load_file
from hvsim.testing import model_path

STORE = "C:\\ClusterStorage\\Volume1\\Hyper-V\\ConfigStore"

ops.load_all()


@pytest.fixture
def data():
    return load_file(model_path("minimal"))


def run(data, path=STORE, node="HV01", check_mode=False, **args):
    return ops.run("cluster_config_store", node, data, dict(path=path, _ansible_check_mode=check_mode, **args))


def value(data):
    return data["cluster"]["parameters"]["ConfigStoreRootPath"]


def test_unset_is_set_creating_the_missing_folders_with_inherited_access(data):
    result = run(data)
    assert result["changed"] is True and result["status"] == "changed" and result["folder_created"] is True
    assert result["before"] == {"ConfigStoreRootPath": ""} and result["after"] == {"ConfigStoreRootPath": STORE}
    assert result["resource"] == "Virtual Machine Cluster WMI"
    assert value(data) == STORE
    created = data["folders"]["C:\\ClusterStorage\\Volume1\\Hyper-V"]
    assert created["access"] == [{"sid": "S-1-5-32-544", "rights": "FullControl", "type": "Allow",
                                  "inheritance": "ContainerInherit, ObjectInherit", "propagation": "None",
                                  "inherited": True}]
    assert STORE in data["folders"]
    # every node sees the folder on the CSV
    assert world.folder_exists(data, "HV02", STORE)


def test_an_existing_folder_is_used_as_it_is(data):
    data["folders"][STORE] = {"nodes": "all", "owner": "S-1-5-18", "access": []}
    before = copy.deepcopy(data["folders"])
    result = run(data)
    assert result["folder_created"] is False and value(data) == STORE
    assert data["folders"] == before


def test_the_csv_folder_itself_exists_without_being_listed(data):
    data["folders"] = {}
    result = run(data, path="C:\\ClusterStorage\\Volume1")
    assert result["status"] == "changed" and result["folder_created"] is False
    assert data["folders"] == {}


def test_the_same_folder_is_ok_and_changes_nothing(data):
    data["cluster"]["parameters"]["ConfigStoreRootPath"] = STORE.lower() + "\\"
    before = copy.deepcopy(data)
    result = run(data)
    assert result["changed"] is False and result["status"] == "ok"
    assert data == before


def test_another_value_is_a_conflict_and_set_cluster_parameter_is_not_called(data):
    data["cluster"]["parameters"]["ConfigStoreRootPath"] = "C:\\ClusterStorage\\Volume1\\Old"
    # a fault on Set-ClusterParameter would fail the run if it were called
    data["faults"]["cmdlets"] = [{"cmdlet": "Set-ClusterParameter", "message": "called"}]
    before = copy.deepcopy(data)
    result = run(data)
    assert result["changed"] is False and result["status"] == "conflict" and "failed" not in result
    assert "already 'C:\\ClusterStorage\\Volume1\\Old'" in result["msg"]
    assert data == before


def test_set_cluster_parameter_refuses_a_value_once_set_as_windows_does(data):
    world.set_config_store_root_path(data, "HV01", "C:\\ClusterStorage\\Volume1")
    with pytest.raises(world.WorldError, match="^The request is not supported.$"):
        world.set_config_store_root_path(data, "HV01", "C:\\ClusterStorage\\Volume1")
    assert value(data) == "C:\\ClusterStorage\\Volume1"


def test_set_cluster_parameter_refuses_a_folder_that_does_not_exist(data):
    with pytest.raises(world.WorldError, match="^The system cannot find the path specified.$"):
        world.set_config_store_root_path(data, "HV01", STORE)
    assert value(data) == ""


def test_a_missing_folder_without_create_folder_fails_and_changes_nothing(data):
    before = copy.deepcopy(data)
    result = run(data, create_folder=False)
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == (f"cluster_config_store: the folder '{STORE}' does not exist on HV01; ConfigStoreRootPath "
                             "must name a folder that exists, so nothing was set: create it, or let the task create it "
                             "(create_folder: true)")
    assert data == before


def test_check_mode_reports_and_changes_nothing(data):
    before = copy.deepcopy(data)
    result = run(data, check_mode=True)
    assert result["changed"] is True and result["status"] == "changed" and result["folder_created"] is True
    assert result["after"] == {"ConfigStoreRootPath": STORE}
    assert data == before


def test_a_failed_set_removes_the_folders_this_run_created(data):
    data["faults"]["cmdlets"] = [{"cmdlet": "Set-ClusterParameter", "message": "The cluster is busy."}]
    before = copy.deepcopy(data)
    result = run(data)
    assert result["failed"] is True and result["changed"] is False and result["folder_created"] is False
    assert result["msg"] == (f"cluster_config_store: setting ConfigStoreRootPath of 'Virtual Machine Cluster WMI' to "
                             f"'{STORE}' on HV01 failed: The cluster is busy.; the folder this run created was removed again")
    assert data["folders"] == before["folders"] and value(data) == ""


def test_a_folder_that_cannot_be_created_sets_nothing(data):
    data["faults"]["cmdlets"] = [{"cmdlet": "New-Item", "after": 1, "message": "Access to the path is denied."}]
    before = copy.deepcopy(data)
    result = run(data)
    assert result["failed"] is True
    assert result["msg"] == (f"cluster_config_store: creating the folder '{STORE}' on HV01 failed: Access to the path "
                             "is denied.; nothing was set")
    assert data["folders"] == before["folders"] and value(data) == ""


@pytest.mark.parametrize("winner, status", [(STORE, "ok"), ("C:\\ClusterStorage\\Volume1", "conflict")])
def test_a_value_set_meanwhile_by_another_node_is_read_again_after_the_refusal(data, monkeypatch, winner, status):
    def another_node_won(model, node, value):
        model["cluster"]["parameters"]["ConfigStoreRootPath"] = winner
        raise world.WorldError(world.REQUEST_NOT_SUPPORTED)

    monkeypatch.setattr(world, "set_config_store_root_path", another_node_won)
    folders = copy.deepcopy(data["folders"])
    result = run(data)
    assert "failed" not in result and result["status"] == status
    assert result["before"] == result["after"] == {"ConfigStoreRootPath": winner}
    if status == "conflict":
        assert "was set to 'C:\\ClusterStorage\\Volume1' meanwhile" in result["msg"]
        assert "The request is not supported." in result["msg"]
        # the folders created for the losing value are removed again
        assert data["folders"] == folders and result["folder_created"] is False and result["changed"] is False
    else:
        assert STORE in data["folders"]


def test_a_value_that_did_not_take_fails_on_the_read_back(data):
    data["faults"]["cmdlets"] = [{"cmdlet": "Set-ClusterParameter", "ignore": True}]
    result = run(data)
    assert result["failed"] is True and result["changed"] is True
    assert result["msg"] == (f"cluster_config_store: Set-ClusterParameter returned without an error on HV01, but "
                             f"ConfigStoreRootPath is '' (asked: '{STORE}')")


def test_a_cluster_without_the_resource_fails_naming_its_type(data):
    data["cluster"]["parameters"] = None
    result = run(data)
    assert result["failed"] is True
    assert "has no resource of type 'Virtual Machine Cluster WMI'" in result["msg"]
    assert data["cluster"]["parameters"] is None


@pytest.mark.parametrize("change, message", [
    ({"cluster_service": None}, "HV01 is not a node of a failover cluster (it has no cluster service)"),
    ({"cluster_service": "Stopped"}, "the cluster service (ClusSvc) is Stopped on HV01"),
    ({"failover_clusters_module": False}, "Install-WindowsFeature RSAT-Clustering-PowerShell"),
])
def test_a_node_that_cannot_answer_for_the_cluster_fails(data, change, message):
    data["nodes"][0].update(change)
    result = run(data)
    assert result["failed"] is True and message in result["msg"] and value(data) == ""


@pytest.mark.parametrize("path, message", [
    ("Hyper-V\\ConfigStore", "is not an absolute path on a drive"),
    ("C:\\ClusterStorage\\Volume1\\..\\x", "has a . or .. segment"),
    ("C:\\ClusterStorage\\Volume1\\a\x07b", "contains a control character"),
])
def test_a_host_refuses_what_is_not_an_absolute_folder(data, path, message):
    result = run(data, path=path)
    assert result["failed"] is True and message in result["msg"] and "before" not in result


def test_a_path_with_quotes_dollar_and_non_ascii_is_set_as_given(data):
    path = "C:\\ClusterStorage\\Volume1\\O'Brien $(x); `t` Ünïcödé データ"
    result = run(data, path=path)
    assert result["status"] == "changed" and value(data) == path and path in data["folders"]


def test_the_spec_mirrors_the_module():
    assert set(ops.load_all()["cluster_config_store"].spec["options"]) == {"path", "create_folder"}
