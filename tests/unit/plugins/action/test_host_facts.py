import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.hyperv.backup.plugins.action.host_facts import ActionModule
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
                                                "vhd_set_acls"],
                               "acl_paths": []})]
    assert result["ansible_facts"]["hyperv_backup"]["vms"][0]["Name"] == "SQL01"
    assert result["changed"] is False
    assert "invocation" not in result


def test_subset_forms_are_expanded_on_the_controller():
    action, calls = make_action(ActionModule, {"gather_subset": ["!vss_writers", "!checkpoints"],
                                               "acl_paths": ["C:\\ClusterStorage\\Volume1\\GC"]}, {MODULE: recorded})
    action.run(task_vars={})
    assert calls[0][1] == {"gather_subset": ["cluster", "vms", "vss_access_control", "vhd_set_acls"],
                           "acl_paths": ["C:\\ClusterStorage\\Volume1\\GC"]}


@pytest.mark.parametrize(
    "args, message",
    [
        ({"gather_subset": ["vms", "vmz"]}, "unknown value 'vmz'"),
        ({"gather_subset": ["checkpoints", "!vms"]}, "'checkpoints' needs 'vms'"),
        ({"gather_subsets": ["vms"]}, "gather_subsets"),
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
