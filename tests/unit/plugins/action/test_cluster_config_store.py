import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.hyperv.backup.plugins.action.cluster_config_store import ActionModule
from tests.unit.factsdata import node
from tests.unit.plugins.action.actionkit import make_action

FACTS = "hyperv.backup.host_facts"
MODULE = "hyperv.backup.cluster_config_store"
STORE = "C:\\ClusterStorage\\Volume1\\Hyper-V\\ConfigStore"


def gathered_with(value):
    def gathered(module_args):
        facts = node("HV01", [])
        facts["cluster"]["Parameters"]["ConfigStoreRootPath"] = value
        return {"changed": False, "ansible_facts": {"hyperv_backup": facts}}
    return gathered


def applied(module_args):
    return {"changed": True, "status": "changed", "resource": "Virtual Machine Cluster WMI",
            "before": {"ConfigStoreRootPath": ""}, "after": {"ConfigStoreRootPath": module_args["path"]},
            "folder_created": True}


def run(args, value="", check_mode=False, diff=False, apply=applied):
    action, calls = make_action(ActionModule, args, {FACTS: gathered_with(value), MODULE: apply},
                                check_mode=check_mode, diff=diff)
    return action.run(task_vars={}), calls


def test_unset_is_set_in_one_round_trip_to_read_the_cluster_and_one_to_apply():
    result, calls = run({"path": "c:/ClusterStorage/Volume1/Hyper-V/ConfigStore/"}, diff=True)
    assert calls == [(FACTS, {"gather_subset": ["cluster"]}),
                     (MODULE, {"path": "c:\\ClusterStorage\\Volume1\\Hyper-V\\ConfigStore", "create_folder": True})]
    assert result["changed"] is True and result["status"] == "changed" and result["folder_created"] is True
    assert result["diff"] == {"before": {"ConfigStoreRootPath": ""},
                              "after": {"ConfigStoreRootPath": "c:\\ClusterStorage\\Volume1\\Hyper-V\\ConfigStore"}}
    assert not result.get("failed") and "warnings" not in result


def test_check_mode_sends_nothing_and_predicts_the_change():
    result, calls = run({"path": STORE, "create_folder": False}, check_mode=True, diff=True)
    assert [name for name, _ in calls] == [FACTS]
    assert result["changed"] is True and result["status"] == "changed"
    assert result["after"] == {"ConfigStoreRootPath": STORE} and "folder_created" not in result
    assert result["diff"]["after"] == {"ConfigStoreRootPath": STORE}


def test_the_same_folder_sends_nothing():
    result, calls = run({"path": STORE}, value=STORE.lower())
    assert [name for name, _ in calls] == [FACTS]
    assert result["changed"] is False and result["status"] == "ok"


def test_another_folder_warns_and_sends_nothing_by_default():
    result, calls = run({"path": STORE}, value="C:\\ClusterStorage\\Volume2\\Store")
    assert [name for name, _ in calls] == [FACTS]
    assert result["changed"] is False and result["status"] == "conflict" and not result.get("failed")
    [warning] = result["warnings"]
    assert warning.startswith("cluster_config_store: ConfigStoreRootPath of the failover cluster HVC01 is already")


def test_another_folder_fails_with_on_conflict_fail_and_sends_nothing():
    result, calls = run({"path": STORE, "on_conflict": "fail"}, value="C:\\ClusterStorage\\Volume2\\Store")
    assert [name for name, _ in calls] == [FACTS]
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"].startswith("cluster_config_store: on_conflict: fail: ConfigStoreRootPath of")


@pytest.mark.parametrize("args, message", [
    ({}, "missing required arguments: path"),
    ({"path": "Hyper-V\\ConfigStore"}, "cluster_config_store: path: 'Hyper-V\\\\ConfigStore' is not an absolute path"),
    ({"path": "C:\\ClusterStorage\\Volume1\\a\rb"}, "control character U\\+000D"),
    ({"path": STORE, "on_conflict": "ignore"}, "on_conflict"),
    ({"path": STORE, "create": True}, "Unsupported parameters for \\(hyperv.backup.cluster_config_store\\) module: create"),
])
def test_bad_arguments_fail_before_any_round_trip(args, message):
    action, calls = make_action(ActionModule, args, {FACTS: gathered_with(""), MODULE: applied})
    with pytest.raises(AnsibleActionFail, match=message):
        action.run(task_vars={})
    assert calls == []


def test_a_path_off_the_csvs_fails_after_reading_and_sends_nothing():
    result, calls = run({"path": "D:\\Store"})
    assert [name for name, _ in calls] == [FACTS]
    assert result["failed"] is True and "is not on a Cluster Shared Volume of HVC01" in result["msg"]


def test_a_node_whose_read_failed_fails_with_the_hosts_message():
    action, calls = make_action(ActionModule, {"path": STORE},
                                {FACTS: {"failed": True, "msg": "host_facts: HV01 runs the cluster service but ..."},
                                 MODULE: applied})
    result = action.run(task_vars={})
    assert result["failed"] is True
    assert result["msg"] == "cluster_config_store: reading the host failed: host_facts: HV01 runs the cluster service but ..."
    assert [name for name, _ in calls] == [FACTS]


def test_a_stopped_cluster_service_fails_with_the_read_warning():
    def stopped(module_args):
        return {"changed": False, "warnings": ["host_facts: the cluster service (ClusSvc) is Stopped on HV01, ..."],
                "ansible_facts": {"hyperv_backup": node("HV01", [], cluster=False)}}
    action, _ = make_action(ActionModule, {"path": STORE}, {FACTS: stopped, MODULE: applied})
    result = action.run(task_vars={})
    assert result["failed"] is True and "HV01 is not a node of a running failover cluster" in result["msg"]
    assert result["warnings"] == ["host_facts: the cluster service (ClusSvc) is Stopped on HV01, ..."]


def test_an_apply_that_fails_fails_the_task_with_the_hosts_message():
    def failing(module_args):
        return {"failed": True, "changed": False,
                "msg": "cluster_config_store: setting ConfigStoreRootPath of 'Virtual Machine Cluster WMI' failed: x",
                "before": {"ConfigStoreRootPath": ""}, "after": {"ConfigStoreRootPath": ""}, "folder_created": False}
    result, _ = run({"path": STORE}, apply=failing)
    assert result["failed"] is True and result["status"] == "failed" and result["changed"] is False
    assert result["msg"] == ("cluster_config_store: setting ConfigStoreRootPath on the host failed: "
                             "cluster_config_store: setting ConfigStoreRootPath of 'Virtual Machine Cluster WMI' failed: x")


def test_the_hosts_warnings_are_passed_on():
    def warning(module_args):
        result = applied(module_args)
        result["warnings"] = ["cluster_config_store: Set-ClusterParameter on HV01: take the resource offline"]
        return result
    result, _ = run({"path": STORE}, apply=warning)
    assert result["warnings"] == ["cluster_config_store: Set-ClusterParameter on HV01: take the resource offline"]
