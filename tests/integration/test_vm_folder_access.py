"""hyperv.backup.vm_folder_access and the role hyperv.backup.vhds_permissions through real ansible processes
against hvsim: a guest cluster whose VMs run on three nodes gets every VM's ACE exactly once, from the role
(applied on one node) and ad hoc on every node at once; other ACEs are never lost or moved."""
import copy
import json

import pytest

from hvsim import world
from hvsim.testing import host_results, run_ansible
from tests.integration import modelkit
from tests.integration.modelkit import model, model_bytes, node, vm

pytestmark = pytest.mark.integration

GC = "C:\\ClusterStorage\\Volume1\\GuestCluster"
QUORUM = "C:\\ClusterStorage\\Volume1\\Quorum"
GUESTS = {"GC-A": ("a3c1a5e0-0001-4a1b-8c2d-000000000001", "HV01"),
          "GC-B": ("a3c1a5e0-0002-4a1b-8c2d-000000000002", "HV02"),
          "GC-C": ("a3c1a5e0-0003-4a1b-8c2d-000000000003", "HV03")}
SIDS = {name: world.vm_sid(vm_id) for name, (vm_id, _) in GUESTS.items()}
STALE = world.vm_sid("a3c1a5e0-00ff-4a1b-8c2d-0000000000ff")
SVC = "S-1-5-21-1-2-3-1105"
OTHER_WRITER = "S-1-5-21-1-2-3-1500"


def ace(sid, rights="FullControl", kind="Allow", inheritance="ContainerInherit, ObjectInherit", propagation="None",
        inherited=False):
    return {"sid": sid, "rights": rights, "type": kind, "inheritance": inheritance, "propagation": propagation,
            "inherited": inherited}


def parent():
    return [ace("S-1-5-18", inherited=True), ace("S-1-5-32-544", inherited=True),
            ace("S-1-3-0", rights="268435456", propagation="InheritOnly", inherited=True),
            ace("S-1-5-83-0", rights="ReadAndExecute, Synchronize", inherited=True)]


def guest(name, extra_disks=()):
    vm_id, host = GUESTS[name]
    disks = [{"path": f"C:\\ClusterStorage\\Volume1\\{name}\\os.vhdx", "controller_type": "SCSI", "controller_number": 0,
              "controller_location": 0, "shared": False},
             {"path": f"{GC}\\data.vhds", "controller_type": "SCSI", "controller_number": 1, "controller_location": 0,
              "shared": True}]
    disks += [{"path": p, "controller_type": "SCSI", "controller_number": 1, "controller_location": 1 + n, "shared": True}
              for n, p in enumerate(extra_disks)]
    return vm(name, vm_id, host, hard_disks=disks, scsi=2)


def build(gc_access=None, extra=None):
    data = model([node("HV01"), node("HV02"), node("HV03")],
                 [guest("GC-A", [f"{QUORUM}\\q.vhds"]), guest("GC-B", [f"{QUORUM}\\q.vhds"]), guest("GC-C"),
                  vm("SQL01", "d9e0eb0a-5b37-508e-9173-67e9ade83acf", "HV01")])
    data["folders"] = {
        GC: {"owner": "S-1-5-32-544", "access": gc_access if gc_access is not None else [ace(SVC, "Modify, Synchronize")] + parent()},
        QUORUM: {"owner": "S-1-5-32-544", "access": parent()},
    }
    data["accounts"] = {"LAB\\svc-backup": SVC}
    data.update(extra or {})
    return data


@pytest.fixture
def lab(lab_of):
    return lab_of(build())


def acl(lab, path=GC):
    return [(a["sid"], a["rights"], a["type"], a.get("inheritance", "None"), a.get("propagation", "None"), a["inherited"])
            for a in lab.read_model()["folders"][path]["access"]]


def granted(sid):
    return (sid, "FullControl", "Allow", "ObjectInherit", "None", False)


def role_playbook(tmp_path, check=False, **role_vars):
    path = tmp_path / "site.yml"
    path.write_text(json.dumps([{"hosts": "hv", "gather_facts": False, "check_mode": check,
                                 "roles": [{"role": "hyperv.backup.vhds_permissions", "vars": role_vars}]}]))
    return str(path)


def applied(out):
    """The result of the role's vm_folder_access task on the node that ran it."""
    task = next(t for t in out["plays"][0]["tasks"] if "Grant each VM" in t["task"]["name"])
    ran = {host: r for host, r in task["hosts"].items() if not r.get("skipped")}
    assert len(ran) == 1, task["hosts"]
    return next(iter(ran.items()))


def test_the_role_grants_a_guest_cluster_across_nodes_on_one_node_then_changes_nothing(lab, tmp_path):
    before = acl(lab)
    rc, out = run_ansible(lab, "ansible-playbook", role_playbook(tmp_path))
    assert rc == 0, out
    host, result = applied(out)
    assert host == "HV01" and result["changed"] is True and result["scope"] == "cluster"
    assert {v["name"]: (v["node"], v["status"]) for v in result["vms"]} == {
        "GC-A": ("HV01", "changed"), "GC-B": ("HV02", "changed"), "GC-C": ("HV03", "changed")}
    # every VM's ACE once, after the explicit ACE that was there, before the inherited ones, nothing else touched
    assert acl(lab) == before[:1] + [granted(SIDS[n]) for n in ("GC-A", "GC-B", "GC-C")] + before[1:]
    assert acl(lab, QUORUM) == [granted(SIDS["GC-A"]), granted(SIDS["GC-B"])] + [tuple(a.values()) for a in parent()]
    # one gather per node (with the folders' ACLs, so the applying node reads none again), and one apply
    assert lab.round_trips() == {("HV01", "host_facts"): 1, ("HV02", "host_facts"): 1, ("HV03", "host_facts"): 1,
                                 ("HV01", "vm_folder_access"): 1}
    lab.clear_journal()
    after = model_bytes(lab)
    rc, out = run_ansible(lab, "ansible-playbook", role_playbook(tmp_path))
    assert rc == 0, out
    assert applied(out)[1]["changed"] is False
    assert ("HV01", "vm_folder_access") not in lab.round_trips()    # nothing to change: no apply round trip
    assert model_bytes(lab) == after


def test_check_mode_predicts_exactly_what_the_real_run_changes(lab, tmp_path):
    untouched = model_bytes(lab)
    rc, out = run_ansible(lab, "ansible-playbook", role_playbook(tmp_path, check=True), "--diff")
    assert rc == 0, out
    _, predicted = applied(out)
    assert model_bytes(lab) == untouched
    assert all(not entry["check_mode"] or entry["module"] == "host_facts" for entry in lab.journal)
    assert ("HV01", "vm_folder_access") not in lab.round_trips()
    rc, out = run_ansible(lab, "ansible-playbook", role_playbook(tmp_path), "--diff")
    assert rc == 0, out
    _, real = applied(out)
    assert predicted["changed"] is real["changed"] is True
    assert [(v["name"], v["status"]) for v in predicted["vms"]] == [(v["name"], v["status"]) for v in real["vms"]]
    for guess, done in zip(predicted["folders"], real["folders"]):
        assert guess["sddl_after"] == done["sddl_after"]
        assert [a["Sid"] for a in guess["after"]] == [a[0] for a in acl(lab, guess["path"])]
    # the diff's lines, ACE by ACE as SDDL (the names beside them are as each side resolves them: the planner names
    # a VM's account, the host shows the SID of a VM registered on another node)
    assert [line.split()[0] for line in predicted["diff"]["after"].splitlines()] == \
        [line.split()[0] for line in real["diff"]["after"].splitlines()]


def test_ad_hoc_on_every_node_at_once_no_ace_is_lost_or_duplicated(lab):
    rc, results = modelkit.adhoc(lab, "vm_folder_access", f"path={GC}", "--forks", "3")
    assert rc == 0, results
    assert {host: r["changed"] for host, r in results.items()} == {"HV01": True, "HV02": True, "HV03": True}
    for host, result in results.items():
        assert result["scope"] == "node" and host in result["note"]
        assert [v["node"] for v in result["vms"]] == [host]
    explicit = [a for a in acl(lab) if not a[-1]]
    assert sorted(explicit) == sorted([(SVC, "Modify, Synchronize", "Allow", "ContainerInherit, ObjectInherit", "None",
                                        False)] + [granted(sid) for sid in SIDS.values()])
    assert acl(lab)[len(explicit):] == [tuple(a.values()) for a in parent()]
    for host in ("HV01", "HV02", "HV03"):
        assert lab.round_trips()[(host, "host_facts")] == 1 and lab.round_trips()[(host, "vm_folder_access")] == 1
    lab.clear_journal()
    rc, results = modelkit.adhoc(lab, "vm_folder_access", f"path={GC}")
    assert rc == 0 and not any(r["changed"] for r in results.values())
    assert {module for _, module in lab.round_trips()} == {"host_facts"}


def test_a_writer_that_undoes_the_change_is_noticed_and_both_aces_are_kept(lab):
    data = lab.read_model()
    data["faults"]["acl_writers"] = [{"path": GC, "sid": OTHER_WRITER, "node": "HV02"}]
    lab.write_model(data)
    rc, results = modelkit.adhoc(lab, "vm_folder_access", f"path={GC}", hosts="HV02")
    assert rc == 0, results
    assert results["HV02"]["folders"][0]["status"] == "changed"
    explicit = [a[0] for a in acl(lab) if not a[-1]]
    assert explicit == [SVC, OTHER_WRITER, SIDS["GC-B"]]
    # the host read back and verified: the ACL it reports is the model's
    assert [a["Sid"] for a in results["HV02"]["folders"][0]["after"]] == [a[0] for a in acl(lab)]
    # a writer that undoes every attempt fails the folder, naming what is missing, and loses nothing of its own
    data = lab.read_model()
    data["faults"]["acl_writers"] = [{"path": GC, "sid": OTHER_WRITER, "node": "HV03", "times": 3}]
    lab.write_model(data)
    rc, results = modelkit.adhoc(lab, "vm_folder_access", f"path={GC}", hosts="HV03")
    assert rc != 0
    assert results["HV03"]["folders"][0]["status"] == "failed"
    assert "lost this module's change 3 times" in results["HV03"]["msg"] and SIDS["GC-C"] in results["HV03"]["msg"]
    assert [a[0] for a in acl(lab) if not a[-1]] == [SVC, OTHER_WRITER, SIDS["GC-B"]]


def test_discover_ad_hoc_reads_the_vhd_set_folders_in_the_one_gather_and_a_folder_failure_is_its_own(lab):
    data = lab.read_model()
    data["folders"][GC]["write_denied"] = True
    lab.write_model(data)
    rc, results = modelkit.adhoc(lab, "vm_folder_access", "discover=true", hosts="HV01")
    assert rc != 0
    result = results["HV01"]
    assert {f["path"]: f["status"] for f in result["folders"]} == {GC: "failed", QUORUM: "changed"}
    assert result["msg"].startswith(f"vm_folder_access: 1 of 2 folder(s) failed, the others were applied: {GC}: writing "
                                    f"the ACL of '{GC}' failed: Attempted to perform an unauthorized operation.")
    assert granted(SIDS["GC-A"]) in acl(lab, QUORUM) and granted(SIDS["GC-A"]) not in acl(lab)
    assert lab.round_trips() == {("HV01", "host_facts"): 1, ("HV01", "vm_folder_access"): 1}
    gather = next(e for e in lab.journal if e["module"] == "host_facts")["args"]
    assert gather["gather_subset"] == ["cluster", "vms", "vhd_set_acls"] and gather["acl_paths"] == []


def test_purge_keeps_every_non_vm_ace_and_refuses_an_incomplete_view(lab_of, tmp_path):
    gc_access = [ace(SVC, "Modify, Synchronize"), ace(STALE, inheritance="ObjectInherit"),
                 ace("S-1-5-83-0", "ReadAndExecute, Synchronize"), ace(STALE, "Write", kind="Deny"),
                 ace(world.vm_sid(GUESTS["GC-A"][0]), inheritance="ObjectInherit")] + parent()
    lab = lab_of(build(gc_access=gc_access))
    untouched = model_bytes(lab)
    rc, out = run_ansible(lab, "ansible-playbook", role_playbook(tmp_path, hyperv_vhds_permissions_purge_stale=True),
                          "--limit", "HV01,HV02")
    assert rc != 0
    _, result = applied(out)
    assert "purge_stale: the view is incomplete, no facts from HV03 (Up)" in result["msg"]
    assert model_bytes(lab) == untouched
    rc, out = run_ansible(lab, "ansible-playbook", role_playbook(tmp_path, hyperv_vhds_permissions_purge_stale=True))
    assert rc == 0, out
    _, result = applied(out)
    gc = next(f for f in result["folders"] if f["path"] == GC)
    assert gc["revoke"] == [{"sid": STALE, "vm_id": "a3c1a5e0-00ff-4a1b-8c2d-0000000000ff"}]
    after = acl(lab)
    assert (STALE, "FullControl", "Allow", "ObjectInherit", "None", False) not in after
    kept = [a for a in after if a[0] not in (SIDS["GC-B"], SIDS["GC-C"])]
    assert kept == [tuple(a.values()) for a in gc_access if not (a["sid"] == STALE and a["type"] == "Allow")]


@pytest.mark.parametrize("args, message", [
    ({"path": GC, "vm_ids": ["d3599536-222a-4d6e-bb10-a6019c3f2b9b", "a0af7903-94b4-4a2c-b3b3-16050d5f80f"]},
     "vm_ids[1]: 'a0af7903-94b4-4a2c-b3b3-16050d5f80f' is not a VM ID: a VM ID is a GUID of 32 hexadecimal digits in "
     "groups of 8-4-4-4-12 (36 characters, braces optional), such as d9e0eb0a-5b37-508e-9173-67e9ade83acf; this one has "
     "35 characters in groups of 8-4-4-4-11"),
    ({"path": "C:\\ClusterStorage\\Volume1\\Nope"},
     "vm_folder_access: reading the host failed: host_facts: acl_paths item 'C:\\ClusterStorage\\Volume1\\Nope' does not "
     "exist on HV01"),
    ({"path": "C:\\VMs\\GuestCluster"}, "path: 'C:\\VMs\\GuestCluster' is not on a Cluster Shared Volume or a share that "
                                        "the VMs use (known: C:\\ClusterStorage\\Volume1 (Cluster Shared Volume "),
    ({"path": "C:\\ClusterStorage\\Volume1"}, "is the root of a volume or share"),
    ({"path": GC, "lock_timeout": "soon"}, "lock_timeout"),
    ({"path": GC, "vm_ids": "not-a-guid"}, "vm_ids[0]: 'not-a-guid' is not a VM ID"),
    ({"discover": True, "purge_stale": True}, "purge_stale: needs the view of the whole cluster"),
    ({"cluster_view": "HVC01", "discover": True}, "cluster_view"),
])
def test_bad_input_fails_clearly_and_changes_nothing(lab_of, args, message):
    folders = {**build()["folders"], "C:\\VMs\\GuestCluster": {"access": parent()},
               "C:\\ClusterStorage\\Volume1": {"access": parent()}}
    lab = lab_of(build(extra={"folders": folders}))
    results = modelkit.fails_leaving_model_untouched(lab, "vm_folder_access", json.dumps(args), message)
    assert ("HV01", "vm_folder_access") not in lab.round_trips()
    assert results


def test_paths_are_data_and_reach_the_host_byte_for_byte(lab_of):
    folder = "C:\\ClusterStorage\\Volume1\\O'Brien $(Get-Date); `x` \u6570\u636e"
    data = build()
    data["vms"][0]["hard_disks"].append({"path": folder + "\\d.vhds", "controller_type": "SCSI", "controller_number": 1,
                                         "controller_location": 5, "shared": True})
    data["folders"][folder] = {"access": parent()}
    lab = lab_of(data)
    rc, results = modelkit.adhoc(lab, "vm_folder_access", json.dumps({"path": folder}), hosts="HV01")
    assert rc == 0, results
    sent = [e["args"] for e in lab.journal if e["module"] == "vm_folder_access"]
    assert [f["path"] for f in sent[0]["folders"]] == [folder]
    gather = next(e["args"] for e in lab.journal if e["module"] == "host_facts")
    assert gather["acl_paths"] == [folder]
    assert granted(SIDS["GC-A"]) in acl(lab, folder)


def test_examples_of_the_view_work_with_vm_ids_of_other_nodes(lab, tmp_path):
    playbook = tmp_path / "ids.yml"
    playbook.write_text(json.dumps([{"hosts": "hv", "gather_facts": False, "tasks": [
        {"hyperv.backup.host_facts": {"gather_subset": ["cluster", "vms"]}, "register": "facts"},
        {"hyperv.backup.vm_folder_access": {
            "cluster_view": "{{ ansible_play_hosts | map('extract', hostvars, 'facts') | hyperv.backup.cluster_view }}",
            "path": GC, "vm_ids": ["{" + GUESTS["GC-C"][0].upper() + "}"]},
         "run_once": True, "register": "granted"}]}]))
    rc, out = run_ansible(lab, "ansible-playbook", str(playbook))
    assert rc == 0, out
    result = host_results(out)["HV01"]
    assert [(v["name"], v["node"], v["status"]) for v in result["vms"]] == [("GC-C", "HV03", "changed")]
    assert any("GC-A, GC-B also have disks under" in w for w in result["warnings"])
    assert [a[0] for a in acl(lab) if not a[-1]] == [SVC, SIDS["GC-C"]]


def test_a_node_down_is_named_and_its_vms_are_not_granted(lab, tmp_path):
    rc, out = run_ansible(lab, "ansible-playbook", role_playbook(tmp_path), "--limit", "HV01,HV02")
    assert rc == 0, out
    _, result = applied(out)
    assert any("no facts from HV03: the VMs registered there were not considered" in w for w in result["warnings"])
    assert SIDS["GC-C"] not in [a[0] for a in acl(lab)]
    assert copy.deepcopy(result["counts"])["failed"] == 0
