import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.hyperv.backup.plugins.action.checkpoint_type import ActionModule
from tests.unit.factsdata import node, vm
from tests.unit.plugins.action.actionkit import make_action

FACTS = "hyperv.backup.host_facts"
MODULE = "hyperv.backup.checkpoint_type"
VMS = [vm("SQL01", CheckpointType="Standard"), vm("WEB01"), vm("APP01", CheckpointType="Disabled")]


def gathered(module_args):
    return {"changed": False, "ansible_facts": {"hyperv_backup": node("HV01", VMS)}}


def applied(module_args):
    return {"changed": True, "vms": [
        {"id": op["id"], "name": op["name"], "status": "changed",
         "after": {"CheckpointType": op["checkpoint_type"], "AutomaticCheckpointsEnabled": False}}
        for op in module_args["operations"]]}


def test_one_round_trip_to_read_and_one_to_apply_whatever_the_vm_count():
    action, calls = make_action(ActionModule, {"checkpoint_type": "Production"}, {FACTS: gathered, MODULE: applied})
    result = action.run(task_vars={})
    assert [name for name, _ in calls] == [FACTS, MODULE]
    assert calls[0][1] == {"gather_subset": ["cluster", "vms"]}
    assert [op["name"] for op in calls[1][1]["operations"]] == ["APP01", "SQL01"]
    assert result["changed"] is True
    assert result["counts"] == {"selected": 3, "changed": 2, "ok": 1, "pending": 0, "failed": 0}
    assert "diff" not in result and not result.get("failed")


def test_check_mode_sends_no_apply_and_predicts_the_changes_with_diff():
    action, calls = make_action(ActionModule, {"checkpoint_type": "Production"}, {FACTS: gathered, MODULE: applied},
                                check_mode=True, diff=True)
    result = action.run(task_vars={})
    assert [name for name, _ in calls] == [FACTS]
    assert result["changed"] is True
    assert result["diff"] == {"before": {"APP01": {"CheckpointType": "Disabled"}, "SQL01": {"CheckpointType": "Standard"}},
                              "after": {"APP01": {"CheckpointType": "Production"}, "SQL01": {"CheckpointType": "Production"}}}


def test_nothing_to_do_sends_no_apply():
    action, calls = make_action(ActionModule, {"checkpoint_type": "Production", "vms": ["WEB01"]},
                                {FACTS: gathered, MODULE: applied})
    result = action.run(task_vars={})
    assert [name for name, _ in calls] == [FACTS]
    assert result["changed"] is False and result["vms"][0]["status"] == "ok"


@pytest.mark.parametrize("args, message", [
    ({"checkpoint_type": "Snapshot"}, "Snapshot"),
    ({}, "one of the following is required: checkpoint_type, automatic_checkpoints"),
    ({"checkpoint_type": "Production", "vm": ["SQL01"]}, "vm"),
])
def test_bad_arguments_fail_before_any_round_trip(args, message):
    action, calls = make_action(ActionModule, args, {FACTS: gathered, MODULE: applied})
    with pytest.raises(AnsibleActionFail, match=message):
        action.run(task_vars={})
    assert calls == []


@pytest.mark.parametrize("args, message", [
    ({"checkpoint_type": "Production", "vms": ["NOPE01"]}, "'NOPE01' matches no VM on HV01"),
    ({"checkpoint_type": "Production", "vms": ["d9e0eb0a-5b37-508e"]}, "'d9e0eb0a-5b37-508e' looks like a VM ID"),
    ({"checkpoint_type": "Production", "query": "[?"}, "query: '\\[\\?' is not a valid JMESPath"),
])
def test_selection_errors_fail_after_reading_without_applying(args, message):
    action, calls = make_action(ActionModule, args, {FACTS: gathered, MODULE: applied})
    with pytest.raises(AnsibleActionFail, match=message):
        action.run(task_vars={})
    assert [name for name, _ in calls] == [FACTS]


def test_automatic_checkpoints_on_an_old_host_are_left_alone_with_a_note():
    def old_host(module_args):
        facts = node("HV01", VMS)
        facts["node"].update(OsBuild=14393, AutomaticCheckpointsSupported=False)
        for entry in facts["vms"]:
            entry["AutomaticCheckpointsEnabled"] = None
        return {"ansible_facts": {"hyperv_backup": facts}}

    action, calls = make_action(ActionModule, {"automatic_checkpoints": False}, {FACTS: old_host, MODULE: applied})
    result = action.run(task_vars={})
    assert not result.get("failed") and result["changed"] is False
    assert "HV01 (Windows build 14393) has no automatic checkpoints" in result["notes"][0]
    assert len(calls) == 1


def test_a_per_vm_failure_fails_the_task_but_keeps_the_others():
    def partly(module_args):
        result = applied(module_args)
        result["vms"][0].update(status="failed", error="Set-VM: the operation failed",
                                after={"CheckpointType": "Disabled", "AutomaticCheckpointsEnabled": False})
        return result

    action, _ = make_action(ActionModule, {"checkpoint_type": "Production"}, {FACTS: gathered, MODULE: partly})
    result = action.run(task_vars={})
    assert result["failed"] is True and result["changed"] is True
    assert "APP01: Set-VM: the operation failed" in result["msg"]
    assert {e["name"]: e["status"] for e in result["vms"]} == {"APP01": "failed", "SQL01": "changed", "WEB01": "ok"}


def test_a_failed_read_is_reported():
    action, calls = make_action(ActionModule, {"checkpoint_type": "Production"},
                                {FACTS: {"failed": True, "msg": "host_facts: the Hyper-V PowerShell module is not available"}})
    result = action.run(task_vars={})
    assert result["failed"] is True and "Hyper-V PowerShell module" in result["msg"]
    assert len(calls) == 1


def test_a_module_level_apply_failure_is_reported():
    action, _ = make_action(ActionModule, {"checkpoint_type": "Production"},
                            {FACTS: gathered, MODULE: {"failed": True, "msg": "checkpoint_type: no Hyper-V module"}})
    result = action.run(task_vars={})
    assert result["failed"] is True and "applying on the host failed: checkpoint_type: no Hyper-V module" in result["msg"]
