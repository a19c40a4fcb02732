"""The csv_placement action plugin with recorded module results: plan, batches, progress, failures, diff."""
import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.hyperv.backup.plugins.action.csv_placement import ActionModule
from ansible_collections.hyperv.backup.plugins.plugin_utils._cluster_view import cluster_view
from tests.unit.factsdata import node, vm
from tests.unit.plugins.action.actionkit import make_action

MODULE = "hyperv.backup.csv_placement"
G = 2 ** 30


def view():
    """Cluster Disk 1 (owner HV01): A and B (16 GiB each) on HV02, C (2 GiB) on HV01; Cluster Disk 2 (owner
    HV02): D (4 GiB) on HV01. The best plan moves Cluster Disk 1 to HV02, then C after it, and D to HV02."""
    hv01 = [vm("C", MemoryAssigned=2 * G), vm("D", volume=2, MemoryAssigned=4 * G)]
    hv02 = [vm("A", MemoryAssigned=16 * G), vm("B", MemoryAssigned=16 * G)]
    facts = [node("HV01", hv01), node("HV02", hv02)]
    for f in facts:
        f["cluster"].update(CsvBalancer=0, AutoBalancerMode=0, AutoBalancerLevel=1)
    return cluster_view(facts)


def moved(module_args):
    return {"changed": True, "moves": [
        {**m, "id": m.get("id"), "status": "moved", "method": "ownership" if m["kind"] == "csv" else "live",
         "seconds": 3.0, "owner": m["to"]} for m in module_args["moves"]]}


def failing(names, message="The cluster node is busy."):
    def apply(module_args):
        result = moved(module_args)
        for item in result["moves"]:
            if item["name"] in names:
                item.update(status="failed", owner=item["from"], error=message)
        return result
    return apply


def names(plan_moves):
    return [(m["kind"], m["name"], m["to"]) for m in plan_moves]


def test_check_mode_returns_the_plan_and_its_table_without_a_round_trip():
    action, calls = make_action(ActionModule, {"cluster_view": view()}, {MODULE: moved}, check_mode=True, diff=True)
    result = action.run(task_vars={})
    assert calls == []
    assert names(result["plan"]["moves"]) == [("vm", "D", "HV02"), ("csv", "Cluster Disk 1", "HV02"), ("vm", "C", "HV02")]
    assert result["plan"]["moves"][2]["depends_on"] == "Cluster Disk 1"
    assert result["changed"] is True and [m["status"] for m in result["moves"]] == ["planned"] * 3
    assert result["table"][0].startswith("CSV placement, strategy auto: 1 of 4 VMs")
    assert result["diff"] == {"before": {"VM D": "HV01", "CSV Cluster Disk 1": "HV01", "VM C": "HV01"},
                              "after": {"VM D": "HV02", "CSV Cluster Disk 1": "HV02", "VM C": "HV02"}}
    assert result["counts"] == {"planned": 3, "moved": 0, "ok": 0, "failed": 0, "skipped": 0, "deferred": 0}


def test_one_module_run_per_move_with_progress_on_the_controller(capsys):
    action, calls = make_action(ActionModule, {"cluster_view": view(), "timeout": 600}, {MODULE: moved})
    result = action.run(task_vars={})
    assert [len(args["moves"]) for _, args in calls] == [1, 1, 1]
    assert calls[0][1] == {"moves": [{"kind": "vm", "name": "D", "from": "HV01", "to": "HV02", "id": vm("D")["Id"]}],
                           "cluster": "HVC01", "migration_type": "live", "timeout": 600}
    assert calls[1][1]["moves"] == [{"kind": "csv", "name": "Cluster Disk 1", "from": "HV01", "to": "HV02"}]
    out = capsys.readouterr().out
    assert "csv_placement: [1/3] VM D HV01 -> HV02: moved (live, 3 s)" in out
    assert "csv_placement: [2/3] CSV Cluster Disk 1 HV01 -> HV02: moved (ownership, 3 s)" in out
    assert result["changed"] is True and not result.get("failed")
    assert result["counts"]["moved"] == 3


def test_parallel_batches_never_hold_a_vm_with_its_csv_move():
    action, calls = make_action(ActionModule, {"cluster_view": view(), "parallel": 4}, {MODULE: moved})
    action.run(task_vars={})
    assert [[m["name"] for m in args["moves"]] for _, args in calls] == [["D", "Cluster Disk 1"], ["C"]]


def test_a_failed_csv_move_skips_its_vms_the_others_go_on_and_the_task_fails_naming_it(capsys):
    action, calls = make_action(ActionModule, {"cluster_view": view()},
                                {MODULE: failing({"Cluster Disk 1"}, "The cluster node HV02 is Paused.")})
    result = action.run(task_vars={})
    assert [len(args["moves"]) for _, args in calls] == [1, 1]  # C is not sent
    assert [(m["name"], m["status"]) for m in result["moves"]] == [("D", "moved"), ("Cluster Disk 1", "failed"),
                                                                     ("C", "skipped")]
    assert result["failed"] is True and result["changed"] is True
    assert "CSV Cluster Disk 1 HV01 -> HV02: The cluster node HV02 is Paused." in result["msg"]
    assert "VM C skipped: it depends on the move of Cluster Disk 1 to HV02, which failed" in result["msg"]
    assert "[3/3] VM C HV01 -> HV02: SKIPPED: it depends on" in capsys.readouterr().out


def test_a_module_failing_as_a_whole_stops_the_run():
    def broken(module_args):
        return {"failed": True, "msg": "csv_placement: the cluster service (ClusSvc) is Stopped on HV01; run it elsewhere"}
    action, calls = make_action(ActionModule, {"cluster_view": view()}, {MODULE: broken})
    result = action.run(task_vars={})
    assert len(calls) == 1
    assert [m["status"] for m in result["moves"]] == ["failed", "skipped", "skipped"]
    assert "the module failed on the host: csv_placement: the cluster service (ClusSvc) is Stopped" in result["msg"]
    assert result["moves"][1]["error"].startswith("not attempted: the module failed on the host")


def test_an_aligned_cluster_makes_no_round_trip():
    aligned = cluster_view([node("HV01", [vm("A"), vm("B")]), node("HV02", [vm("C", volume=2)])])
    action, calls = make_action(ActionModule, {"cluster_view": aligned}, {MODULE: moved})
    result = action.run(task_vars={})
    assert calls == [] and result["changed"] is False and result["moves"] == []


def test_an_incomplete_view_is_refused_saying_how_to_get_a_complete_one():
    incomplete = cluster_view([node("HV01", [vm("A")])])  # HV02 is Up and sent nothing
    action, calls = make_action(ActionModule, {"cluster_view": incomplete}, {MODULE: moved})
    with pytest.raises(AnsibleActionFail, match="incomplete: HV02 is Up but reported no facts.*csv_affinity role and "
                                                "playbooks/rebalance_csv.yml"):
        action.run(task_vars={})
    assert calls == []


@pytest.mark.parametrize("args, message", [
    ({"parallel": 0}, "parallel: 0 must be from 1 to 16"),
    ({"timeout": 0}, "timeout: 0 must be from 1 to 86400 seconds"),
    ({"strategy": "fastest"}, "strategy"),
    ({"memory_headroom": "lots"}, "memory_headroom: 'lots' must be a number of bytes or a percentage"),
    ({"max_moves": -1}, "max_moves: -1 must be a whole number of 0 or more"),
    ({"exclude": ["0a000000-0000-4000-8000-00000000000"]}, "exclude"),
])
def test_bad_arguments_are_refused_naming_the_value(args, message):
    action, calls = make_action(ActionModule, {"cluster_view": view(), **args}, {MODULE: moved})
    with pytest.raises(AnsibleActionFail, match=message):
        action.run(task_vars={})
    assert calls == []


def test_a_byte_count_given_as_text_is_a_number():
    action, _ = make_action(ActionModule, {"cluster_view": view(), "memory_headroom": "1073741824"}, {MODULE: moved},
                            check_mode=True)
    assert action.run(task_vars={})["plan"]["moves"]


def test_max_moves_defers_the_rest():
    action, calls = make_action(ActionModule, {"cluster_view": view(), "max_moves": 1}, {MODULE: moved})
    result = action.run(task_vars={})
    assert len(calls) == 1 and result["counts"]["deferred"] == 2
