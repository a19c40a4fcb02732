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


OLD_HOST = {"OsBuild": 14393, "AutomaticCheckpointsSupported": False}


def test_automatic_checkpoints_on_an_old_host_are_left_alone_with_a_note():
    plan = planner.plan(facts(**OLD_HOST), {"checkpoint_type": "Production", "automatic_checkpoints": False})
    assert [op["name"] for op in plan["operations"]] == ["APP01", "SQL01"]
    assert all("automatic_checkpoints" not in op for op in plan["operations"])
    assert all(set(e["before"]) == {"CheckpointType"} for e in plan["vms"])
    [note] = plan["notes"]
    assert note.startswith("automatic_checkpoints: HV01 (Windows build 14393) has no automatic checkpoints")
    assert planner.merge(plan, None)["notes"] == [note]


def test_automatic_checkpoints_alone_on_an_old_host_change_nothing():
    plan = planner.plan(facts(**OLD_HOST), {"automatic_checkpoints": False})
    assert plan["operations"] == [] and {e["status"] for e in plan["vms"]} == {"ok"}
    final = planner.merge(plan, None)
    assert final["changed"] is False and len(final["notes"]) == 1


def test_a_host_with_automatic_checkpoints_has_no_notes():
    assert planner.plan(facts(), {"automatic_checkpoints": False})["notes"] == []


def test_checkpoint_type_alone_works_on_an_old_host():
    plan = planner.plan(facts(**OLD_HOST), {"checkpoint_type": "Production"})
    assert [op["name"] for op in plan["operations"]] == ["APP01", "SQL01"]
    assert plan["notes"] == []


@pytest.mark.parametrize("options, message", [
    ({}, "give checkpoint_type, automatic_checkpoints or both"),
    ({"checkpoint_type": "Snapshot"}, "unknown checkpoint type 'Snapshot'"),
    ({"automatic_checkpoints": False, "compliant_types": ["Production"]}, "give checkpoint_type too"),
    ({"checkpoint_type": "Production", "compliant_types": ["ProductionOnly"]},
     "does not include checkpoint_type Production"),
    ({"checkpoint_type": "Production", "compliant_types": "Production"}, "is a string; give a list"),
    ({"checkpoint_type": "Production", "compliant_types": ["Production", "Snap"]}, "unknown checkpoint type 'Snap'"),
    ({"checkpoint_type": "Production", "compliant_types": []}, "an empty list accepts no checkpoint type"),
])
def test_bad_options(options, message):
    with pytest.raises(PlanError, match=message):
        planner.plan(facts(), options)
    with pytest.raises(PlanError, match=message):
        planner.check_options(options)


def mixed():
    return node("HV01", [
        vm("ONLY01", CheckpointType="ProductionOnly"),
        vm("PROD01", CheckpointType="Production"),
        vm("STD01", CheckpointType="Standard"),
        vm("OFF01", CheckpointType="Disabled"),
    ])


def test_production_leaves_production_only_alone_by_default():
    plan = planner.plan(mixed(), {"checkpoint_type": "Production"})
    statuses = {e["name"]: e["status"] for e in plan["vms"]}
    assert statuses == {"ONLY01": "ok", "PROD01": "ok", "STD01": "changed", "OFF01": "changed"}
    only = by_name(plan["vms"])["ONLY01"]
    assert only["before"] == only["after"] == {"CheckpointType": "ProductionOnly"}
    assert {op["name"]: op["checkpoint_type"] for op in plan["operations"]} == {"OFF01": "Production",
                                                                               "STD01": "Production"}


def test_production_only_upgrades_production_and_standard_is_exact():
    plan = planner.plan(mixed(), {"checkpoint_type": "ProductionOnly"})
    assert sorted(op["name"] for op in plan["operations"]) == ["OFF01", "PROD01", "STD01"]
    plan = planner.plan(mixed(), {"checkpoint_type": "Standard"})
    assert sorted(op["name"] for op in plan["operations"]) == ["OFF01", "ONLY01", "PROD01"]


def test_compliant_types_say_what_is_left_alone():
    plan = planner.plan(mixed(), {"checkpoint_type": "production", "compliant_types": ["Production", "disabled"]})
    assert {op["name"]: op["checkpoint_type"] for op in plan["operations"]} == {"ONLY01": "Production",
                                                                               "STD01": "Production"}
    plan = planner.plan(mixed(), {"checkpoint_type": "Production",
                                  "compliant_types": ["Production", "ProductionOnly", "Standard", "Disabled"]})
    assert plan["operations"] == []


def old_versions():
    return node("HV01", [
        vm("V50", CheckpointType="Standard", Version="5.0", AutomaticCheckpointsEnabled=True),
        vm("V62", CheckpointType="Standard", Version="6.2"),
        vm("V10", CheckpointType="Standard", Version="10.0"),
        vm("UNKNOWN", CheckpointType="Standard", Version=None),
        vm("V50STD", CheckpointType="Standard", Version="5.0"),
    ])


@pytest.mark.parametrize("target", ["Production", "ProductionOnly"])
def test_a_vm_older_than_6_2_is_pending_for_production_and_nothing_is_sent_for_it(target):
    plan = planner.plan(old_versions(), {"checkpoint_type": target, "automatic_checkpoints": False})
    entries = by_name(plan["vms"])
    assert entries["V50"]["status"] == "pending"
    assert entries["V50"]["after"] == entries["V50"]["before"]
    assert "configuration version 5.0" in entries["V50"]["msg"] and "6.2" in entries["V50"]["msg"]
    assert "Update-VMVersion" in entries["V50"]["msg"] and "must be off" in entries["V50"]["msg"]
    assert sorted(op["name"] for op in plan["operations"]) == ["UNKNOWN", "V10", "V62"]
    final = planner.merge(plan, None)
    assert final["counts"]["pending"] == 2 and final["changed"] is True
    assert [p["name"] for p in final["pending"]] == ["V50", "V50STD"]


def test_an_old_vm_can_still_get_standard_or_disabled():
    plan = planner.plan(old_versions(), {"checkpoint_type": "Disabled"})
    assert len(plan["operations"]) == 5 and plan["pending"] == []


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


def twins():
    return node("HV01", [
        vm("DUP", Id="11111111-1111-4111-8111-111111111111", CheckpointType="Standard"),
        vm("dup", Id="22222222-2222-4222-8222-222222222222", CheckpointType="Disabled"),
        vm("SQL01", CheckpointType="Standard"),
    ])


def test_two_vms_of_one_name_are_planned_reported_and_diffed_apart():
    plan = planner.plan(twins(), {"checkpoint_type": "Production", "vms": ["DUP"]})
    assert [(op["name"], op["id"][:8]) for op in plan["operations"]] == [("DUP", "11111111"), ("dup", "22222222")]
    final = planner.merge(plan, {"vms": [
        {"id": "11111111-1111-4111-8111-111111111111", "status": "changed", "after": {"CheckpointType": "Production"}},
        {"id": "22222222-2222-4222-8222-222222222222", "status": "failed", "error": "Set-VM: denied",
         "after": {"CheckpointType": "Disabled"}},
    ]})
    assert [(e["name"], e["status"]) for e in final["vms"]] == [("DUP", "changed"), ("dup", "failed")]
    assert final["counts"] == {"selected": 2, "changed": 1, "ok": 0, "pending": 0, "failed": 1}
    assert diff(planner.merge(plan, None)["vms"]) == {
        "before": {"DUP (11111111-1111-4111-8111-111111111111)": {"CheckpointType": "Standard"},
                   "dup (22222222-2222-4222-8222-222222222222)": {"CheckpointType": "Disabled"}},
        "after": {"DUP (11111111-1111-4111-8111-111111111111)": {"CheckpointType": "Production"},
                  "dup (22222222-2222-4222-8222-222222222222)": {"CheckpointType": "Production"}},
    }


def test_a_shared_name_is_keyed_by_id_even_when_only_one_of_them_changes():
    plan = planner.plan(twins(), {"checkpoint_type": "Disabled"})
    assert set(diff(planner.merge(plan, None)["vms"])["after"]) == {"DUP (11111111-1111-4111-8111-111111111111)",
                                                                     "SQL01"}


def test_a_vm_in_a_critical_state_is_pending_and_nothing_is_sent_for_it():
    data = node("HV01", [
        vm("LOST", node_state="OffCritical", CheckpointType="Standard", AutomaticCheckpointsEnabled=True),
        vm("GONE", node_state="RunningCritical", CheckpointType="Production", AutomaticCheckpointsEnabled=False),
        vm("FINE", CheckpointType="Standard", AutomaticCheckpointsEnabled=False),
    ])
    plan = planner.plan(data, {"checkpoint_type": "Production", "automatic_checkpoints": False})
    entries = by_name(plan["vms"])
    assert [op["name"] for op in plan["operations"]] == ["FINE"]
    assert entries["LOST"]["status"] == "pending" and entries["LOST"]["after"] == entries["LOST"]["before"]
    assert entries["LOST"]["msg"].startswith("OffCritical: the storage") and "run this again" in entries["LOST"]["msg"]
    assert entries["GONE"]["status"] == "ok"   # compliant already: nothing to refuse
    assert [p["name"] for p in planner.merge(plan, None)["pending"]] == ["LOST"]
