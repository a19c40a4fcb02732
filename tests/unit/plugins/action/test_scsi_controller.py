import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.hyperv.backup.plugins.action.scsi_controller import ActionModule
from tests.unit.factsdata import node, vm
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_action import plain_message
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
                           "shutdown_timeout": 300, "shutdown_grace": 300}
    assert [p["name"] for p in result["pending"]] == ["DB01", "DB02"]
    assert result["counts"] == {"selected": 4, "changed": 1, "ok": 1, "pending": 2, "failed": 0,
                                "restarted": 0, "shutdown_unfinished": 0}
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
    ({"shutdown_grace": -5}, "shutdown_grace: -5"),
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


def test_a_guest_still_shutting_down_is_a_change_with_the_hosts_warning():
    def unfinished(module_args):
        result = applied(module_args)
        reason = "'DB01' was asked to shut down and is still Running after 300 s and 300 s of grace"
        result["vms"][0].update(status="changed", restarted=False, shutdown="unfinished", state="Running",
                                after={"ScsiControllers": 0}, reason=reason)
        result["warnings"] = [f"scsi_controller: {reason}"]
        return result

    action, _ = make_action(ActionModule, {"running_vms": "restart", "vms": ["DB01"]},
                            {FACTS: gathered, MODULE: unfinished})
    result = action.run(task_vars={})
    assert not result.get("failed")
    assert result["changed"] is True
    assert result["counts"]["shutdown_unfinished"] == 1 and result["counts"]["restarted"] == 0
    assert result["vms"][0]["shutdown"] == "unfinished" and "still Running" in result["vms"][0]["msg"]
    assert any("still Running" in w for w in result["warnings"])


def test_the_hosts_message_is_shown_when_the_module_failed_after_listing_vms():
    def broken(module_args):
        return {"failed": True, "changed": False, "vms": [],
                "msg": "scsi_controller: shutdown_grace -1 must be 0 or more seconds"}   # vms set before failing

    action, _ = make_action(ActionModule, {}, {FACTS: gathered, MODULE: broken})
    result = action.run(task_vars={})
    assert result["failed"] is True
    assert result["msg"] == "scsi_controller: applying on the host failed: scsi_controller: shutdown_grace -1 must be 0 or more seconds"
    assert result["vms"][0]["msg"].startswith("no result for this VM: the module failed on the host: scsi_controller: "
                                              "shutdown_grace")


def test_warnings_of_the_read_reach_the_user():
    def partial(module_args):
        facts = gathered(module_args)
        facts["warnings"] = ["host_facts: VM 'DB02' (...) on HV01 is reported in part, with null for what could not be read"]
        return facts

    action, _ = make_action(ActionModule, {}, {FACTS: partial, MODULE: applied})
    result = action.run(task_vars={})
    assert result["warnings"] == ["host_facts: VM 'DB02' (...) on HV01 is reported in part, with null for what "
                                  "could not be read"]


@pytest.mark.parametrize("args, message", [
    ({"bogus": 1}, r"^Unsupported parameters for \(hyperv\.backup\.scsi_controller\) module: bogus\."),
    ({"vms": {"a": 1}}, r"^argument 'vms' is of type dict and we were unable to convert to list: dict cannot"),
])
def test_argument_errors_name_the_module_as_users_know_it(args, message):
    action, calls = make_action(ActionModule, args, {FACTS: gathered, MODULE: applied})
    with pytest.raises(AnsibleActionFail, match=message) as err:
        action.run(task_vars={})
    assert "ansible_collections" not in str(err.value) and "_Ansible" not in str(err.value)
    assert calls == []


@pytest.mark.parametrize("text, plain", [
    ("<class 'ansible.module_utils._internal._datatag._AnsibleTaggedDict'> cannot be converted to a list",
     "dict cannot be converted to a list"),
    ("value of type _AnsibleLazyTemplateDict", "value of type dict"),
    ("<class 'ansible._internal._templating._lazy_containers._AnsibleLazyTemplateList'>", "list"),
    ("Unsupported parameters for (ansible_collections.hyperv.backup.plugins.action.scsi_controller) module",
     "Unsupported parameters for (hyperv.backup.scsi_controller) module"),
    ("nothing internal here: AnsibleActionFail", "nothing internal here: AnsibleActionFail"),
])
def test_plain_message(text, plain):
    assert plain_message(text) == plain
