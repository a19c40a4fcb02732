import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.hyperv.backup.plugins.action.host_facts import ActionModule
from ansible_collections.hyperv.backup.plugins.plugin_utils._events import event_queries
from tests.unit.factsdata import node, vm
from tests.unit.plugins.action.actionkit import make_action

MODULE = "hyperv.backup.host_facts"


def recorded(module_args):
    facts = node("HV01", [vm("SQL01")])
    facts["gather_subset"] = module_args["gather_subset"]
    return {"changed": False, "ansible_facts": {"hyperv_backup": facts},
            "invocation": {"module_args": module_args}}


def test_defaults_gather_everything_in_one_call():
    action, calls = make_action(ActionModule, {}, {MODULE: recorded})
    result = action.run(task_vars={})
    assert calls == [(MODULE, {"gather_subset": ["cluster", "vms", "checkpoints", "vss_access_control", "vss_writers",
                                                 "vhd_set_acls", "events"],
                               "acl_paths": [], "events_days": 7, "events_max": 200, "event_queries": event_queries()})]
    assert result["ansible_facts"]["hyperv_backup"]["vms"][0]["Name"] == "SQL01"
    assert result["changed"] is False
    assert "invocation" not in result


def test_subset_forms_are_expanded_on_the_controller():
    action, calls = make_action(ActionModule, {"gather_subset": ["!vss_writers", "!checkpoints", "!events"],
                                               "acl_paths": ["C:\\ClusterStorage\\Volume1\\GC"]}, {MODULE: recorded})
    action.run(task_vars={})
    assert calls[0][1] == {"gather_subset": ["cluster", "vms", "vss_access_control", "vhd_set_acls"],
                           "acl_paths": ["C:\\ClusterStorage\\Volume1\\GC"]}


def test_the_controller_says_which_events_the_host_reads():
    action, calls = make_action(ActionModule, {"gather_subset": ["min", "events"], "events_days": 2, "events_max": 5},
                                {MODULE: recorded})
    action.run(task_vars={})
    args = calls[0][1]
    assert (args["gather_subset"], args["events_days"], args["events_max"]) == (["events"], 2, 5)
    assert [(q["log_name"], q["provider_name"], q["ids"]) for q in args["event_queries"]] == [
        ("Microsoft-Windows-Hyper-V-VMMS-Admin", None, [10102, 10103, 19100]),
        ("Microsoft-Windows-Hyper-V-Worker-Admin", None, [18590]),
        ("Application", "VSS", [8193, 8194, 12289])]


@pytest.mark.parametrize(
    "args, message",
    [
        ({"gather_subset": ["vms", "vmz"]}, "unknown value 'vmz'"),
        ({"gather_subset": ["checkpoints", "!vms"]}, "'checkpoints' needs 'vms'"),
        ({"gather_subsets": ["vms"]}, "gather_subsets"),
        ({"events_days": 0}, "events_days 0 is out of range; give 1 to 365 days"),
        ({"events_days": 400}, "events_days 400 is out of range"),
        ({"events_max": 0}, "events_max 0 is out of range; give 1 to 10000 events per log"),
        ({"events_days": "a week"}, "events_days"),
    ],
)
def test_bad_arguments_fail_before_any_round_trip(args, message):
    action, calls = make_action(ActionModule, args, {MODULE: recorded})
    with pytest.raises(AnsibleActionFail, match=message):
        action.run(task_vars={})
    assert calls == []


def test_a_failed_module_result_is_passed_on():
    failure = {"failed": True, "msg": "host_facts: acl_paths item 'C:\\nope' does not exist on HV01"}
    action, _ = make_action(ActionModule, {"acl_paths": ["C:\\nope"]}, {MODULE: failure})
    result = action.run(task_vars={})
    assert result["failed"] is True and "C:\\nope" in result["msg"]


def test_an_unsupported_argument_names_the_module_as_users_know_it():
    action, calls = make_action(ActionModule, {"gather": ["vms"]}, {MODULE: recorded})
    with pytest.raises(AnsibleActionFail, match=r"^Unsupported parameters for \(hyperv\.backup\.host_facts\) module"):
        action.run(task_vars={})
    assert calls == []
