"""CSV placement through real ansible against hvsim: the plan a check run shows is what a real run does,
a second run has nothing to do, a failed move leaves the others done and a re-run finishes, a VM whose CSV
move failed is skipped, progress lines appear as moves complete, the demo's rebalance playbook aligns the
cluster, and what host_facts reports is what the planner reads."""
import re
import time

import pytest
import yaml

from hvsim import world
from hvsim.testing import host_results, run_ansible
from tests.integration.modelkit import model, model_bytes, node, vm

from ansible_collections.hyperv.backup.plugins.plugin_utils._cluster_view import cluster_view
from ansible_collections.hyperv.backup.plugins.plugin_utils._csv_placement import placement_input

pytestmark = pytest.mark.integration

GIB = 2 ** 30
VIEW = ("{{ ansible_play_hosts | map('extract', hostvars, ['ansible_facts', 'hyperv_backup']) "
        "| hyperv.backup.cluster_view }}")
IDS = {"A": "c5a00000-0000-4000-8000-00000000000a", "B": "c5a00000-0000-4000-8000-00000000000b",
       "C": "c5a00000-0000-4000-8000-00000000000c", "D": "c5a00000-0000-4000-8000-00000000000d",
       "O'Brien $(x); `y` \u6570\u636e\u5e93": "c5a00000-0000-4000-8000-00000000000e"}


def on(volume, name, node_name, memory, **extra):
    folder = f"C:\\ClusterStorage\\Volume{volume}\\{name}"
    return vm(name, IDS[name], node_name, memory_startup=memory * GIB, path=folder,
              hard_disks=[{"path": folder + "\\os.vhdx", "controller_type": "SCSI", "controller_number": 0,
                           "controller_location": 0, "shared": False, "file_size": 40 * GIB}], **extra)


def two_csvs():
    """Cluster Disk 1 (owner HV01): A and B (16 GiB) on HV02, C (2 GiB) on HV01 - its best plan moves the CSV to
    HV02 and C after it. Cluster Disk 2 (owner HV02): D (4 GiB) on HV03, migrated on its own."""
    data = model([node("HV01"), node("HV02"), node("HV03")],
                 [on(1, "A", "HV02", 16), on(1, "B", "HV02", 16), on(1, "C", "HV01", 2), on(2, "D", "HV03", 4)])
    data["cluster"]["shared_volumes"].append({"name": "Cluster Disk 2", "path": "C:\\ClusterStorage\\Volume2",
                                              "owner_node": "HV02", "state": "Online"})
    data["cluster"].update(csv_balancer=0, auto_balancer_mode=0)
    return data


def playbook(tmp_path, check=False, **placement):
    """host_facts on every node, then csv_placement once with ``placement`` as its arguments."""
    task = {"name": "Place", "hyperv.backup.csv_placement": {"cluster_view": VIEW, **placement}, "run_once": True}
    if check:
        task["check_mode"] = True
    plays = [{"name": "CSV placement", "hosts": "hv", "gather_facts": False, "tasks": [
        {"name": "Read", "hyperv.backup.host_facts": {"gather_subset": ["cluster", "vms"]}}, task]}]
    path = tmp_path / f"placement-{len(list(tmp_path.glob('placement-*')))}.yml"
    path.write_text(yaml.safe_dump(plays, allow_unicode=True), encoding="utf-8")
    return str(path)


def place(lab, tmp_path, *extra, **placement):
    """Run the placement playbook; returns ``(rc, the csv_placement task's result)``."""
    rc, out = run_ansible(lab, "ansible-playbook", playbook(tmp_path, **placement), *extra)
    assert isinstance(out, dict), out
    task = out["plays"][0]["tasks"][1]
    return rc, next(iter(task["hosts"].values()))


def placement_runs(lab):
    return [entry for entry in lab.journal if entry["module"] == "csv_placement"]


def where(lab):
    """Each VM's node and each CSV's owner in the model."""
    data = lab.read_model()
    return ({v["name"]: v["node"].upper() for v in data["vms"]},
            {c["name"]: c["owner_node"].upper() for c in data["cluster"]["shared_volumes"]})


def off_owner(data):
    """The VMs of the model not running on the owner of the CSV that holds their configuration."""
    owners = [(c["path"], c["owner_node"].upper()) for c in data["cluster"]["shared_volumes"]]
    return sorted(v["name"] for v in data["vms"] for path, owner in owners
                  if world.is_under(v["path"], path) and v["node"].upper() != owner)


def test_the_check_run_shows_exactly_what_the_real_run_does_and_a_second_run_does_nothing(lab_of, tmp_path):
    lab = lab_of("demo")
    untouched = model_bytes(lab)
    rc, check = place(lab, tmp_path, "--diff", check=True)
    assert rc == 0 and check["changed"] is True
    assert placement_runs(lab) == [] and model_bytes(lab) == untouched
    planned = [(m["kind"], m["name"], m["id"], m["from"], m["to"]) for m in check["plan"]["moves"]]
    assert planned and check["table"][0].startswith("CSV placement, strategy auto: 22 of 30 VMs")
    assert check["diff"]["after"] == {f"VM {m[1]}": m[4] for m in planned}

    rc, real = place(lab, tmp_path)
    assert rc == 0 and real["changed"] is True
    made = [(m["kind"], m["name"], m.get("id", m["name"]), m["from"], m["to"])
            for run in placement_runs(lab) for m in run["args"]["moves"]]
    assert made == planned  # what was sent, in order, one module run per move
    assert len(placement_runs(lab)) == len(planned)
    assert [m["status"] for m in real["moves"]] == ["moved"] * len(planned)
    vms, _ = where(lab)
    assert all(vms[name] == to for kind, name, _, _, to in planned)

    lab.clear_journal()
    rc, again = place(lab, tmp_path)
    assert rc == 0 and again["changed"] is False and again["moves"] == []
    assert placement_runs(lab) == []  # no apply round trip


def test_a_move_that_fails_leaves_the_rest_done_and_a_rerun_finishes(lab_of, tmp_path):
    lab = lab_of("demo")
    data = lab.read_model()
    data["faults"]["fail_move"] = ["EXCH02"]
    lab.write_model(data)
    rc, first = place(lab, tmp_path, parallel=2)
    assert rc != 0 and first["failed"] is True
    statuses = {m["name"]: m["status"] for m in first["moves"]}
    assert statuses.pop("EXCH02") == "failed" and set(statuses.values()) == {"moved"}
    assert re.search(r"1 of 7 move\(s\) failed .*VM EXCH02 HV01 -> HV02: The migration of 'EXCH02' to HV02 failed",
                     first["msg"]), first["msg"]
    assert off_owner(lab.read_model()) == ["EXCH02", "GC-SQL-N2"]

    data = lab.read_model()
    data["faults"]["fail_move"] = []
    lab.write_model(data)
    lab.clear_journal()
    rc, second = place(lab, tmp_path)
    assert rc == 0 and [(m["name"], m["status"]) for m in second["moves"]] == [("EXCH02", "moved")]
    assert off_owner(lab.read_model()) == ["GC-SQL-N2"]  # kept off HV02 by its anti-affinity with GC-SQL-N1
    assert second["plan"]["unaligned"][0]["reason"] == "anti-affinity class 'GC-SQL': GC-SQL-N1 runs on HV02"


def test_a_vm_whose_csv_move_failed_is_skipped_and_reported(lab_of, tmp_path):
    data = two_csvs()
    data["faults"]["fail_move"] = ["Cluster Disk 1"]
    lab = lab_of(data)
    rc, result = place(lab, tmp_path)
    assert rc != 0
    assert [(m["kind"], m["name"], m["status"]) for m in result["moves"]] == [
        ("vm", "D", "moved"), ("csv", "Cluster Disk 1", "failed"), ("vm", "C", "skipped")]
    assert result["moves"][2]["depends_on"] == "Cluster Disk 1"
    assert "Moving the Cluster Shared Volume 'Cluster Disk 1' to HV02 failed" in result["msg"]
    assert "VM C skipped: it depends on the move of Cluster Disk 1 to HV02, which failed" in result["msg"]
    assert [m["name"] for run in placement_runs(lab) for m in run["args"]["moves"]] == ["D", "Cluster Disk 1"]
    vms, csvs = where(lab)
    assert (vms["C"], vms["D"], csvs["Cluster Disk 1"]) == ("HV01", "HV02", "HV01")

    fixed = lab.read_model()
    fixed["faults"]["fail_move"] = []
    lab.write_model(fixed)
    rc, rerun = place(lab, tmp_path)
    assert rc == 0 and [(m["name"], m["status"]) for m in rerun["moves"]] == [("Cluster Disk 1", "moved"), ("C", "moved")]
    assert off_owner(lab.read_model()) == []


def test_progress_lines_appear_on_the_controller_as_moves_complete(lab_of, tmp_path):
    lab = lab_of(two_csvs())
    rc, out = run_ansible(lab, "ansible-playbook", playbook(tmp_path), json_output=False)
    assert rc == 0, out
    task = out.index("TASK [Place]")
    lines = [out.index(text) for text in (
        "csv_placement: [1/3] VM D HV03 -> HV02: moved (live, 6 s)",
        "csv_placement: [2/3] CSV Cluster Disk 1 HV01 -> HV02: moved (ownership, 2 s)",
        "csv_placement: [3/3] VM C HV01 -> HV02: moved (live, 4 s)")]
    assert task < lines[0] < lines[1] < lines[2] < out.index("changed: [HV01]", task)


def test_parallel_moves_go_in_batches(lab_of, tmp_path):
    lab = lab_of("demo")
    rc, result = place(lab, tmp_path, parallel=3)
    assert rc == 0
    assert [len(run["args"]["moves"]) for run in placement_runs(lab)] == [3, 3, 1]
    assert result["counts"] == {"planned": 7, "moved": 7, "ok": 0, "failed": 0, "skipped": 0, "deferred": 0}


def test_an_incomplete_view_is_refused_and_nothing_moves(lab_of, tmp_path):
    lab = lab_of("demo")
    untouched = model_bytes(lab)
    rc, result = place(lab, tmp_path, "--limit", "HV01,HV02")
    assert rc != 0
    assert "the cluster view is incomplete: HV03 is Up but reported no facts" in result["msg"]
    assert "csv_affinity role and playbooks/rebalance_csv.yml" in result["msg"]
    assert placement_runs(lab) == [] and model_bytes(lab) == untouched


def test_a_node_of_another_cluster_refuses_the_plan(lab_of, tmp_path):
    lab = lab_of(two_csvs())
    untouched = model_bytes(lab)
    other = VIEW[:-2] + " | combine({'cluster': {'Name': 'HVC-OTHER'}}, recursive=true) }}"
    rc, result = place(lab, tmp_path, cluster_view=other)
    assert rc != 0
    assert "HV01 is a node of cluster HVCIT, not of HVC-OTHER whose placement was planned" in result["msg"]
    assert model_bytes(lab) == untouched


def test_a_vm_name_that_looks_like_code_reaches_the_host_byte_for_byte(lab_of, tmp_path):
    name = "O'Brien $(x); `y` \u6570\u636e\u5e93"
    lab = lab_of(model([node("HV01"), node("HV02")], [on(1, name, "HV02", 2)]))
    rc, result = place(lab, tmp_path)
    assert rc == 0 and result["moves"][0]["name"] == name
    [run] = placement_runs(lab)
    assert run["args"]["moves"] == [{"kind": "vm", "name": name, "id": IDS[name], "from": "HV02", "to": "HV01"}]
    assert where(lab)[0][name] == "HV01"


def test_host_facts_placement_keys_are_reported_and_read_by_the_planner(lab_of):
    data = two_csvs()
    data["nodes"][0]["memory_capacity"] = 96 * GIB
    data["nodes"][2]["drain_status"] = "InProgress"
    data["cluster"].update(csv_balancer=1, auto_balancer_mode=2, auto_balancer_level=3)
    data["vms"][0].update(possible_owners=["HV02"], preferred_owners=["HV02", "HV01"], auto_failback=1)
    data["vms"][3]["state"] = "Off"
    lab = lab_of(data)
    rc, out = run_ansible(lab, "hv", "-m", "hyperv.backup.host_facts", "-a", "gather_subset=cluster,vms")
    assert rc == 0, out
    facts = [result["ansible_facts"]["hyperv_backup"] for result in host_results(out).values()]
    problem = placement_input(cluster_view(facts))
    nodes = {n["name"]: n for n in problem["nodes"]}
    assert nodes["HV01"]["memory_capacity"] == 96 * GIB and nodes["HV02"]["memory_capacity"] == world.DEFAULT_MEMORY_CAPACITY
    assert nodes["HV03"]["drain_status"] == "InProgress"
    vms = {v["name"]: v for v in problem["vms"]}
    assert (vms["A"]["memory"], vms["D"]["memory"]) == (16 * GIB, 0)  # MemoryAssigned: D is Off
    assert vms["A"]["csv"] == "Cluster Disk 1" and "disk bytes" in vms["A"]["csv_reason"]  # FileSize was read
    assert (vms["A"]["possible_owners"], vms["A"]["preferred_owners"], vms["A"]["auto_failback"]) == \
        (["HV02"], ["HV02", "HV01"], True)
    assert vms["B"]["possible_owners"] == ["HV01", "HV02", "HV03"]
    assert problem["balancer"] == {"CsvBalancer": 1, "AutoBalancerMode": 2, "AutoBalancerLevel": 3}


def test_the_rebalance_playbook_shows_the_plan_then_aligns_the_demo_cluster(lab_of):
    lab = lab_of("demo")
    before = lab.read_model()
    assert len(off_owner(before)) == 8
    rc, out = run_ansible(lab, "ansible-playbook", "playbooks/rebalance_csv.yml", "--check", json_output=False)
    assert rc == 0, out
    assert "CSV placement, strategy auto: 22 of 30 VMs on a CSV run on its owner now, 29 after 7 move(s)" in out
    assert "GC-SQL-N2 on HV03 (Cluster Disk 2, owner HV02): anti-affinity class 'GC-SQL'" in out
    assert lab.read_model() == before

    started = time.monotonic()
    rc, out = run_ansible(lab, "ansible-playbook", "playbooks/rebalance_csv.yml", json_output=False)
    elapsed = time.monotonic() - started
    assert rc == 0, out
    assert out.count("csv_placement: [") == 7
    after = lab.read_model()
    assert off_owner(after) == ["GC-SQL-N2"]  # the one VM its anti-affinity class keeps off HV02
    print(f"demo rebalance: {elapsed:.1f} s wall time for 7 moves")  # reported in the closing note

    rc, out = run_ansible(lab, "ansible-playbook", "playbooks/rebalance_csv.yml", json_output=False)
    assert rc == 0 and "nothing to move" in out and "changed=1" not in out
    assert lab.read_model() == after

