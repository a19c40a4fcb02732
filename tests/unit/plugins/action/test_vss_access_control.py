import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.hyperv.backup.plugins.action.vss_access_control import ActionModule
from tests.unit.plugins.action.actionkit import make_action

FACTS = "hyperv.backup.host_facts"
MODULE = "hyperv.backup.vss_access_control"


def key(values):
    def read(module_args):
        assert module_args == {"gather_subset": ["vss_access_control"]}
        return {"ansible_facts": {"hyperv_backup": {"node": {"Name": "HV01"}, "vss_access_control": dict(values)}}}
    return read


def host(values, fail=(), sids=None):
    """The host: each operation applied to ``values``, each resolve answered from ``sids``."""
    def apply(module_args):
        current = dict(values)
        accounts = []
        for name in module_args["resolve"]:
            item = {"name": name, "status": "ok", "before": current.get(name), "after": current.get(name)}
            if name in (sids or {}):
                item["sid"] = sids[name]
            else:
                item.update(status="failed", error=f"'{name}' does not resolve to a SID on HV01: not found")
            accounts.append(item)
        for op in module_args["operations"]:
            item = next((a for a in accounts if a["name"] == op["name"]), None)
            if item is None:
                item = {"name": op["name"], "status": "ok", "before": current.get(op["name"])}
                accounts.append(item)
            if item["status"] == "failed":
                continue
            if op["name"] in fail:
                item.update(status="failed", after=item["before"], error=f"writing '{op['name']}' failed: denied")
                continue
            if op["action"] == "set":
                current[op["name"]] = op["value"]
            else:
                current.pop(op["name"], None)
            item.update(status="changed", after=current.get(op["name"]))
        return {"changed": True, "accounts": accounts, "values": current}
    return apply


def test_a_denied_account_is_allowed_and_the_result_says_it_was_denied():
    values = {"LAB\\svc-veeam": 0, "LAB\\other": 1}
    action, calls = make_action(ActionModule, {"accounts": ["LAB\\svc-veeam"]}, {FACTS: key(values), MODULE: host(values)},
                                diff=True)
    result = action.run(task_vars={})
    assert calls[1] == (MODULE, {"operations": [{"action": "set", "name": "LAB\\svc-veeam", "value": 1}], "resolve": []})
    entry = result["accounts"][0]
    assert entry["status"] == "changed" and entry["was_denied"] is True and entry["after"] == 1
    assert result["changed"] is True and result["counts"] == {"changed": 1, "ok": 0, "failed": 0}
    assert result["diff"] == {"before": {"LAB\\other": 1, "LAB\\svc-veeam": 0}, "after": {"LAB\\other": 1, "LAB\\svc-veeam": 1}}
    assert result["values"] == {"LAB\\other": 1, "LAB\\svc-veeam": 1} and result["node"] == "HV01"


def test_converged_needs_no_second_round_trip_and_check_mode_none_either():
    values = {"LAB\\svc-veeam": 1}
    for check_mode in (False, True):
        action, calls = make_action(ActionModule, {"accounts": ["lab\\SVC-VEEAM"]}, {FACTS: key(values), MODULE: host(values)},
                                    check_mode=check_mode)
        result = action.run(task_vars={})
        assert [name for name, _ in calls] == [FACTS]
        assert result["changed"] is False and result["accounts"][0]["status"] == "ok"


def test_check_mode_predicts_without_writing():
    values = {"LAB\\old": 1}
    action, calls = make_action(ActionModule, {"accounts": [{"name": "LAB\\svc-veeam", "access": "both"}], "exclusive": True},
                                {FACTS: key(values), MODULE: host(values)}, check_mode=True, diff=True)
    result = action.run(task_vars={})
    assert [name for name, _ in calls] == [FACTS]
    assert result["changed"] is True
    assert result["diff"]["after"] == {"LAB\\svc-veeam": 3}
    assert {a["name"]: a["status"] for a in result["accounts"]} == {"LAB\\svc-veeam": "changed", "LAB\\old": "changed"}


def test_resolve_goes_to_the_host_also_in_check_mode_and_an_unresolved_account_fails_alone():
    values = {}
    action, calls = make_action(ActionModule, {"accounts": ["LAB\\svc-veeam", "LAB\\nobody"], "resolve": True},
                                {FACTS: key(values), MODULE: host(values, sids={"LAB\\svc-veeam": "S-1-5-21-1-2-3-1105"})},
                                check_mode=True)
    result = action.run(task_vars={})
    assert [name for name, _ in calls] == [FACTS, MODULE]
    assert calls[1][1]["resolve"] == ["LAB\\svc-veeam", "LAB\\nobody"]
    by_name = {a["name"]: a for a in result["accounts"]}
    assert by_name["LAB\\svc-veeam"]["sid"] == "S-1-5-21-1-2-3-1105"
    assert result["failed"] is True
    assert result["msg"] == ("vss_access_control: 1 of 2 account(s) failed on HV01, the others were applied: LAB\\nobody: "
                             "'LAB\\nobody' does not resolve to a SID on HV01: not found")


def test_a_write_failure_is_that_accounts_and_the_others_go_on():
    values = {"LAB\\a": 0}
    action, _ = make_action(ActionModule, {"accounts": ["LAB\\a", "LAB\\b"]},
                            {FACTS: key(values), MODULE: host(values, fail=("LAB\\a",))})
    result = action.run(task_vars={})
    assert {a["name"]: a["status"] for a in result["accounts"]} == {"LAB\\a": "failed", "LAB\\b": "changed"}
    assert result["failed"] is True and "LAB\\a: writing 'LAB\\a' failed: denied" in result["msg"]


@pytest.mark.parametrize("args, message", [
    ({"accounts": ["svc-veeam"]}, "accounts\\[0\\]: 'svc-veeam' has no domain part"),
    ({"accounts": [""]}, "accounts\\[0\\]: an empty string is not an account name"),
    ({"accounts": ["LAB\\svc\nx"]}, "control character U\\+000A"),
    ({"accounts": [{"name": "LAB\\x", "access": "admin"}]}, "accounts\\[0\\].access: 'admin' is not an access"),
    ({"accounts": [{"name": "LAB\\x", "access": 1}], "state": "absent"}, "access has no meaning with state=absent"),
    ({"accounts": [], "exclusive": True}, "exclusive: with no accounts listed"),
    ({"accounts": "LAB\\x", "resolve": "maybe"}, "maybe"),
    ({"accounts": ["LAB\\x"], "state": "gone"}, "gone"),
    ({}, "accounts"),
])
def test_bad_arguments_fail_before_any_round_trip(args, message):
    action, calls = make_action(ActionModule, args, {FACTS: key({}), MODULE: host({})})
    with pytest.raises(AnsibleActionFail, match=message):
        action.run(task_vars={})
    assert calls == []
