import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.hyperv.backup.plugins.action.scsi_controller import ActionModule
from tests.unit.factsdata import node, vm
from tests.unit.plugins.action.actionkit import make_action

FACTS = "hyperv.backup.host_facts"
MODULE = "hyperv.backup.scsi_controller"
VMS = [vm("APP01", node_state="Off", ScsiControllers=[]), vm("DB01", ScsiControllers=[]),
       vm("DB02", ScsiControllers=[]), vm("WEB01")]


def gathered(module_args):
    return {"ansible_facts": {"hyperv_backup": node("HV01", VMS)}}


def applied(module_args):
    return {"changed": True, "vms": [
        {"id": op["id"], "name": op["name"], "status": "changed", "restarted": op["restart"],
         "after": {"ScsiControllers": op["count"]}} for op in module_args["operations"]]}


def test_default_skips_running_vms_and_reports_them_pending():
    action, calls = make_action(ActionModule, {}, {FACTS: gathered, MODULE: applied})
    result = action.run(task_vars={})
    assert [name for name, _ in calls] == [FACTS, MODULE]
    assert calls[1][1] == {"operations": [{"id": VMS[0]["Id"], "name": "APP01", "count": 1, "restart": False}],
                           "shutdown_timeout": 300}
    assert [p["name"] for p in result["pending"]] == ["DB01", "DB02"]
    assert result["counts"] == {"selected": 4, "changed": 1, "ok": 1, "pending": 2, "failed": 0}
    assert not result.get("failed")


def test_restart_is_opt_in_and_bounded():
    action, calls = make_action(ActionModule, {"running_vms": "restart", "max_restarts": 1, "shutdown_timeout": 60},
                                {FACTS: gathered, MODULE: applied})
    result = action.run(task_vars={})
    ops = calls[1][1]["operations"]
    assert [(op["name"], op["restart"]) for op in ops] == [("APP01", False), ("DB01", True)]
    assert calls[1][1]["shutdown_timeout"] == 60
    entries = {e["name"]: e for e in result["vms"]}
    assert entries["DB01"]["restarted"] is True
    assert entries["DB02"]["status"] == "pending"


def test_fail_changes_nothing_and_names_the_vms():
    action, calls = make_action(ActionModule, {"running_vms": "fail"}, {FACTS: gathered, MODULE: applied})
    with pytest.raises(AnsibleActionFail, match=r"DB01 \(Running\), DB02 \(Running\)"):
        action.run(task_vars={})
    assert [name for name, _ in calls] == [FACTS]


def test_check_mode_reads_only_and_shows_the_diff():
    action, calls = make_action(ActionModule, {"running_vms": "restart"}, {FACTS: gathered, MODULE: applied},
                                check_mode=True, diff=True)
    result = action.run(task_vars={})
    assert [name for name, _ in calls] == [FACTS]
    assert result["changed"] is True
    assert result["diff"]["after"] == {"APP01": {"ScsiControllers": 1}, "DB01": {"ScsiControllers": 1}}
    assert {e["name"]: e.get("restart") for e in result["vms"]}["DB01"] is True


@pytest.mark.parametrize("args, message", [
    ({"count": 5}, "count: 5 is out of range"),
    ({"running_vms": "force"}, "force"),
    ({"count": "many"}, "many"),
])
def test_bad_arguments_fail_before_any_round_trip(args, message):
    action, calls = make_action(ActionModule, args, {FACTS: gathered, MODULE: applied})
    with pytest.raises(AnsibleActionFail, match=message):
        action.run(task_vars={})
    assert calls == []


def test_a_vm_that_did_not_shut_down_fails_the_task():
    def slow(module_args):
        result = applied(module_args)
        result["vms"][1].update(status="failed", restarted=False, after={"ScsiControllers": 0},
                                error="'DB01' did not shut down within 300 s; it was asked to shut down and is left Running")
        return result

    action, _ = make_action(ActionModule, {"running_vms": "restart"}, {FACTS: gathered, MODULE: slow})
    result = action.run(task_vars={})
    assert result["failed"] is True
    assert "DB01: 'DB01' did not shut down within 300 s" in result["msg"]
    assert result["changed"] is True
