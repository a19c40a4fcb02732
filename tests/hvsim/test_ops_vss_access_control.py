"""hvsim's vss_access_control: the key per node, value names without regard to case, names resolved per node,
each write read back, each account's failure its own (docs/windows-contract.md, vss_access_control)."""
import copy

import pytest
import yaml

from hvsim import ops

N1 = "d9e0eb0a-5b37-508e-9173-67e9ade83acf"   # on HV01
MODEL = f"""
credentials: {{username: u, password: p}}
nodes:
  - name: HV01
    vss_access_control: {{'LAB\\svc-veeam': 0, 'lab\\SVC-SQL': 1, 'LAB\\typed': '1'}}
  - name: HV02
vms:
  - {{id: {N1}, name: GC-N1, node: HV01}}
accounts:
  'LAB\\svc-veeam': S-1-5-21-1-2-3-1105
  'LAB\\svc-sql': S-1-5-21-1-2-3-1106
  'LAB\\O''Brien $(x); `数据': S-1-5-21-1-2-3-1107
"""


@pytest.fixture
def data():
    ops.load_all()
    return yaml.safe_load(MODEL)


def run(data, node="HV01", check_mode=False, **args):
    args.setdefault("operations", [])
    args["_ansible_check_mode"] = check_mode
    return ops.run("vss_access_control", node, data, args)


def key(data, node="HV01"):
    return next(n for n in data["nodes"] if n["name"] == node).get("vss_access_control")


def test_set_changes_a_deny_and_keeps_the_existing_spelling(data):
    result = run(data, operations=[{"action": "set", "name": "LAB\\svc-veeam", "value": 1},
                                   {"action": "set", "name": "LAB\\svc-sql", "value": 1}])
    assert result["changed"] is True
    assert result["accounts"] == [
        {"name": "LAB\\svc-veeam", "status": "changed", "before": 0, "after": 1},
        {"name": "LAB\\svc-sql", "status": "ok", "before": 1, "after": 1}]
    assert key(data) == {"LAB\\svc-veeam": 1, "lab\\SVC-SQL": 1, "LAB\\typed": "1"}
    assert result["values"] == key(data)


def test_a_value_of_another_type_is_rewritten_as_a_dword(data):
    result = run(data, operations=[{"action": "set", "name": "lab\\TYPED", "value": 1}])
    assert result["accounts"][0] == {"name": "lab\\TYPED", "status": "changed", "before": "1", "after": 1}
    assert key(data)["LAB\\typed"] == 1


def test_the_key_is_created_for_a_set_and_a_removal_from_no_key_is_nothing(data):
    before = copy.deepcopy(data)
    result = run(data, node="HV02", operations=[{"action": "remove", "name": "LAB\\svc-veeam"}])
    assert result["changed"] is False and result["accounts"][0]["status"] == "ok" and data == before
    result = run(data, node="HV02", operations=[{"action": "set", "name": "LAB\\svc-veeam", "value": 3}])
    assert result["changed"] is True and key(data, "HV02") == {"LAB\\svc-veeam": 3}


def test_remove_takes_the_value_whatever_its_case(data):
    result = run(data, operations=[{"action": "remove", "name": "LAB\\SVC-SQL"}])
    assert result["accounts"][0] == {"name": "LAB\\SVC-SQL", "status": "changed", "before": 1, "after": None}
    assert "lab\\SVC-SQL" not in key(data)


def test_names_resolve_per_node_and_one_that_does_not_is_not_written(data):
    vm_account = f"NT VIRTUAL MACHINE\\{N1.upper()}"
    ops_ = [{"action": "set", "name": "LAB\\nobody", "value": 1}, {"action": "set", "name": vm_account, "value": 1}]
    result = run(data, operations=ops_, resolve=["LAB\\nobody", vm_account])
    by_name = {a["name"]: a for a in result["accounts"]}
    assert by_name["LAB\\nobody"]["status"] == "failed"
    assert by_name["LAB\\nobody"]["error"].startswith("'LAB\\nobody' does not resolve to a SID on HV01: Some or all "
                                                      "identity references could not be translated")
    assert by_name[vm_account]["status"] == "changed" and by_name[vm_account]["sid"].startswith("S-1-5-83-1-")
    assert "LAB\\nobody" not in key(data) and key(data)[vm_account] == 1
    # the VM's account resolves only where the VM is registered
    result = run(data, node="HV02", resolve=[vm_account])
    assert result["accounts"][0]["status"] == "failed"


def test_a_write_failure_is_that_accounts_and_the_others_go_on(data):
    data["faults"] = {"registry_writes": [{"node": "HV01", "name": "lab\\SVC-VEEAM"}]}
    result = run(data, operations=[{"action": "set", "name": "LAB\\svc-veeam", "value": 1},
                                   {"action": "remove", "name": "LAB\\svc-sql"}])
    first, second = result["accounts"]
    assert first == {"name": "LAB\\svc-veeam", "status": "failed", "before": 0, "after": 0,
                     "error": "writing 'LAB\\svc-veeam' failed: Requested registry access is not allowed."}
    assert second["status"] == "changed"
    assert key(data) == {"LAB\\svc-veeam": 0, "LAB\\typed": "1"}


def test_check_mode_writes_nothing_and_values_are_what_the_key_would_hold(data):
    before = copy.deepcopy(data)
    result = run(data, check_mode=True, operations=[{"action": "set", "name": "LAB\\svc-veeam", "value": 1},
                                                    {"action": "remove", "name": "LAB\\svc-sql"},
                                                    {"action": "set", "name": "LAB\\new", "value": 2}],
                 resolve=["LAB\\svc-veeam"])
    assert data == before
    assert result["changed"] is False  # nothing was written
    assert [a["status"] for a in result["accounts"]] == ["changed", "changed", "changed"]
    assert result["accounts"][0]["sid"] == "S-1-5-21-1-2-3-1105"
    assert result["values"] == {"LAB\\svc-veeam": 1, "LAB\\typed": "1", "LAB\\new": 2}


def test_names_are_data(data):
    name = "LAB\\O'Brien $(x); `数据"
    result = run(data, operations=[{"action": "set", "name": name, "value": 1}], resolve=[name])
    assert result["accounts"][0]["sid"] == "S-1-5-21-1-2-3-1107"
    assert key(data)[name] == 1


@pytest.mark.parametrize("args, msg", [
    ({"operations": [{"action": "set", "name": "LAB\\x", "value": 4}]},
     "vss_access_control: operations[0].value 4 is not a VssAccessControl value (0 deny, 1 writer, 2 requester, 3 both)"),
    ({"operations": [{"action": "set", "name": "LAB\\x"}]}, "operations[0].value None is not a VssAccessControl value"),
    ({"operations": [{"action": "remove", "name": ""}]},
     "vss_access_control: operations[0].name is empty; a VssAccessControl value is named after an account"),
    ({"operations": [], "resolve": [""]}, "vss_access_control: resolve[0] is empty"),
    ({"operations": [{"action": "wipe", "name": "LAB\\x"}]}, "wipe"),
])
def test_bad_arguments_fail_before_anything_changes(data, args, msg):
    before = copy.deepcopy(data)
    result = run(data, **args)
    assert result["failed"] is True and msg in result["msg"]
    assert "accounts" not in result and data == before
