import pytest

from ansible_collections.hyperv.backup.plugins.plugin_utils import _checkpoint_type as planner
from ansible_collections.hyperv.backup.plugins.plugin_utils._selection import SelectionError
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_plan import PlanError, diff
from tests.unit.factsdata import node, vm


def facts(**node_overrides):
    data = node("HV01", [
        vm("SQL01", CheckpointType="Standard", AutomaticCheckpointsEnabled=True),
        vm("WEB01", CheckpointType="Production", AutomaticCheckpointsEnabled=False),
        vm("APP01", node_state="Off", CheckpointType="Disabled", AutomaticCheckpointsEnabled=False),
    ])
    data["node"].update(node_overrides)
    return data


def by_name(entries):
    return {e["name"]: e for e in entries}


def test_only_vms_that_differ_get_an_operation_with_only_what_differs():
    plan = planner.plan(facts(), {"checkpoint_type": "Production", "automatic_checkpoints": False})
    ops = {op["name"]: op for op in plan["operations"]}
    assert set(ops) == {"SQL01", "APP01"}
    assert ops["SQL01"] == {"id": ops["SQL01"]["id"], "name": "SQL01", "checkpoint_type": "Production",
                            "automatic_checkpoints": False}
    assert ops["APP01"] == {"id": ops["APP01"]["id"], "name": "APP01", "checkpoint_type": "Production"}
    entries = by_name(plan["vms"])
    assert entries["WEB01"]["status"] == "ok"
    assert entries["SQL01"]["before"] == {"CheckpointType": "Standard", "AutomaticCheckpointsEnabled": True}
    assert entries["SQL01"]["after"] == {"CheckpointType": "Production", "AutomaticCheckpointsEnabled": False}
    assert [e["name"] for e in plan["vms"]] == ["APP01", "SQL01", "WEB01"]


def test_unset_automatic_checkpoints_is_left_alone():
    plan = planner.plan(facts(), {"checkpoint_type": "Standard"})
    assert [op["name"] for op in plan["operations"]] == ["APP01", "WEB01"]
    assert all("automatic_checkpoints" not in op for op in plan["operations"])
    assert all(set(e["before"]) == {"CheckpointType"} for e in plan["vms"])


def test_converged_vms_plan_nothing():
    plan = planner.plan(facts(), {"checkpoint_type": "Production", "vms": ["WEB01"]})
    assert plan["operations"] == []
    final = planner.merge(plan, None)
    assert final["changed"] is False and final["counts"]["ok"] == 1


def test_automatic_checkpoints_on_an_old_host_fails_naming_the_build():
    with pytest.raises(PlanError, match="HV01 runs Windows build 14393.*16299"):
        planner.plan(facts(OsBuild=14393, AutomaticCheckpointsSupported=False), {"automatic_checkpoints": False})


def test_checkpoint_type_alone_works_on_an_old_host():
    plan = planner.plan(facts(OsBuild=14393, AutomaticCheckpointsSupported=False), {"checkpoint_type": "Production"})
    assert [op["name"] for op in plan["operations"]] == ["APP01", "SQL01"]


@pytest.mark.parametrize("options, message", [
    ({}, "give checkpoint_type, automatic_checkpoints or both"),
    ({"checkpoint_type": "Snapshot"}, "unknown value 'Snapshot'"),
])
def test_bad_options(options, message):
    with pytest.raises(PlanError, match=message):
        planner.plan(facts(), options)


def test_selection_errors_propagate():
    with pytest.raises(SelectionError, match="'NOPE' matches no VM"):
        planner.plan(facts(), {"checkpoint_type": "Production", "vms": ["NOPE"]})


def test_merge_takes_the_hosts_read_back_and_per_vm_failures():
    plan = planner.plan(facts(), {"checkpoint_type": "Production", "automatic_checkpoints": False})
    ids = {e["name"]: e["id"] for e in plan["vms"]}
    applied = {"changed": True, "vms": [
        {"id": ids["APP01"], "name": "APP01", "status": "failed", "error": "Set-VM: access denied",
         "before": {"CheckpointType": "Disabled", "AutomaticCheckpointsEnabled": False},
         "after": {"CheckpointType": "Disabled", "AutomaticCheckpointsEnabled": False}},
        {"id": ids["SQL01"], "name": "SQL01", "status": "changed",
         "after": {"CheckpointType": "Production", "AutomaticCheckpointsEnabled": False}},
    ]}
    final = planner.merge(plan, applied)
    entries = by_name(final["vms"])
    assert entries["APP01"]["status"] == "failed" and entries["APP01"]["msg"] == "Set-VM: access denied"
    assert entries["APP01"]["after"] == {"CheckpointType": "Disabled", "AutomaticCheckpointsEnabled": False}
    assert entries["SQL01"]["status"] == "changed"
    assert final["counts"] == {"selected": 3, "changed": 1, "ok": 1, "pending": 0, "failed": 1}
    assert final["changed"] is True


def test_a_vm_the_host_did_not_report_is_failed():
    plan = planner.plan(facts(), {"checkpoint_type": "Production", "vms": ["SQL01"]})
    final = planner.merge(plan, {"vms": []})
    assert final["vms"][0]["status"] == "failed"
    assert final["vms"][0]["after"] == final["vms"][0]["before"]


def test_diff_shows_only_vms_that_change_keyed_by_name():
    plan = planner.plan(facts(), {"checkpoint_type": "Production"})
    assert diff(planner.merge(plan, None)["vms"]) == {
        "before": {"APP01": {"CheckpointType": "Disabled"}, "SQL01": {"CheckpointType": "Standard"}},
        "after": {"APP01": {"CheckpointType": "Production"}, "SQL01": {"CheckpointType": "Production"}},
    }


def test_module_args_carry_only_the_operations():
    plan = planner.plan(facts(), {"checkpoint_type": "Production", "vms": ["SQL01"]})
    assert planner.module_args(plan, {}) == {"operations": plan["operations"]}
