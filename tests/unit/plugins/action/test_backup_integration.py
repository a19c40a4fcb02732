import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.hyperv.backup.plugins.action.backup_integration import ActionModule
from tests.unit.factsdata import node, vm
from tests.unit.plugins.action.actionkit import make_action

FACTS = "hyperv.backup.host_facts"
MODULE = "hyperv.backup.backup_integration"
VMS = [vm("APP02", BackupIntegration={"Enabled": False, "PrimaryStatusDescription": "OK"}), vm("SQL01"),
       vm("OLD01", node_state="Off", BackupIntegration={"Enabled": False, "PrimaryStatusDescription": None})]


def gathered(module_args):
    return {"changed": False, "ansible_facts": {"hyperv_backup": node("HV01", VMS)}}


def applied(module_args):
    return {"changed": True, "vms": [
        {"id": op["id"], "name": op["name"], "status": "changed", "before": {"Enabled": not op["enabled"]},
         "after": {"Enabled": op["enabled"]}, "guest_status": "OK"}
        for op in module_args["operations"]]}


def test_one_round_trip_to_read_and_one_to_apply_whatever_the_vm_count():
    action, calls = make_action(ActionModule, {}, {FACTS: gathered, MODULE: applied})
    result = action.run(task_vars={})
    assert [name for name, _ in calls] == [FACTS, MODULE]
    assert calls[0][1] == {"gather_subset": ["cluster", "vms"]}
    assert [(op["name"], op["enabled"]) for op in calls[1][1]["operations"]] == [("APP02", True), ("OLD01", True)]
    assert result["changed"] is True
    assert result["counts"] == {"selected": 3, "changed": 2, "ok": 1, "pending": 0, "failed": 0}
    assert result["notes"] == [] and result["pending"] == [] and not result.get("failed")


def test_check_mode_sends_no_apply_and_predicts_the_changes_with_diff():
    action, calls = make_action(ActionModule, {"vms": ["APP*"]}, {FACTS: gathered, MODULE: applied},
                                check_mode=True, diff=True)
    result = action.run(task_vars={})
    assert [name for name, _ in calls] == [FACTS]
    assert result["changed"] is True
    assert result["diff"] == {"before": {"APP02": {"Enabled": False}}, "after": {"APP02": {"Enabled": True}}}


def test_nothing_to_do_sends_no_apply():
    action, calls = make_action(ActionModule, {"vms": ["SQL01"]}, {FACTS: gathered, MODULE: applied})
    result = action.run(task_vars={})
    assert [name for name, _ in calls] == [FACTS]
    assert result["changed"] is False and result["vms"][0]["status"] == "ok"


@pytest.mark.parametrize("args, message", [
    ({"state": "on"}, "state"),
    ({"vm": ["SQL01"]}, "vm"),
    ({"vms": "SQL01\n"}, "control character"),
])
def test_bad_arguments_fail_before_applying(args, message):
    action, calls = make_action(ActionModule, args, {FACTS: gathered, MODULE: applied})
    with pytest.raises(AnsibleActionFail, match=message):
        action.run(task_vars={})
    assert MODULE not in [name for name, _ in calls]


def test_an_unknown_vm_fails_after_reading_without_applying():
    action, calls = make_action(ActionModule, {"vms": ["NOPE01"]}, {FACTS: gathered, MODULE: applied})
    with pytest.raises(AnsibleActionFail, match="backup_integration: vms: 'NOPE01' matches no VM on HV01"):
        action.run(task_vars={})
    assert [name for name, _ in calls] == [FACTS]


def test_a_vm_that_failed_on_the_host_fails_the_task_naming_it():
    def one_failed(module_args):
        result = applied(module_args)
        result["vms"][0].update(status="failed", after={"Enabled": False},
                                error="enabling the Backup integration service of 'APP02' failed: busy")
        return result
    action, _ = make_action(ActionModule, {}, {FACTS: gathered, MODULE: one_failed})
    result = action.run(task_vars={})
    assert result["failed"] is True
    assert result["msg"] == ("backup_integration: 1 of 3 VM(s) failed, the others were applied: APP02: enabling the "
                             "Backup integration service of 'APP02' failed: busy")
