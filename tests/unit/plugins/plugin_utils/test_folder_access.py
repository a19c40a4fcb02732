import copy
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.hyperv.backup.plugins.plugin_utils import _folder_access as fa
from ansible_collections.hyperv.backup.plugins.plugin_utils._cluster_view import cluster_view
from ansible_collections.hyperv.backup.plugins.plugin_utils._sid import vm_account, vm_sid
from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_plan import PlanError
from hvsim.model import load_file
from hvsim.ops import Context
from hvsim.ops.host_facts import SUBSETS, host_facts
from hvsim.testing import model_path
from tests.unit.factsdata import node, vm

GC = "C:\\ClusterStorage\\Volume2\\GuestCluster"
SHARE = "\\\\sofs01\\vms"
SYSTEM, ADMINS, CREATOR_OWNER, VM_GROUP = "S-1-5-18", "S-1-5-32-544", "S-1-3-0", "S-1-5-83-0"


def disk(path, vhds=False):
    return {"Path": path, "ControllerType": "SCSI", "ControllerNumber": 0, "ControllerLocation": 1,
            "SupportPersistentReservations": vhds, "IsVhdSet": path.lower().endswith(".vhds")}


def guest(name, volume=1, folder=GC, extra=()):
    data = vm(name, volume=volume)
    data["HardDisks"] = data["HardDisks"] + [disk(f"{folder}\\data.vhds", True)] + [disk(p) for p in extra]
    return data


def ace(sid, rights="FullControl", kind="Allow", inheritance="ObjectInherit", propagation="None", inherited=False, name=None):
    return {"IdentityReference": name or sid, "Sid": sid, "FileSystemRights": rights, "AccessControlType": kind,
            "InheritanceFlags": inheritance, "PropagationFlags": propagation, "IsInherited": inherited}


def parent_aces():
    return [ace(SYSTEM, inheritance="ContainerInherit, ObjectInherit", inherited=True),
            ace(ADMINS, inheritance="ContainerInherit, ObjectInherit", inherited=True),
            ace(CREATOR_OWNER, rights="268435456", inheritance="ContainerInherit, ObjectInherit", propagation="InheritOnly",
                inherited=True),
            ace(VM_GROUP, rights="ReadAndExecute, Synchronize", inheritance="ContainerInherit, ObjectInherit", inherited=True)]


def acl(path=GC, access=None):
    return {"Path": path, "Owner": "BUILTIN\\Administrators", "OwnerSid": ADMINS,
            "Access": parent_aces() if access is None else access}


N1, N2, SQL = guest("GC-N1"), guest("GC-N2", volume=2), vm("SQL01")
SID1, SID2 = vm_sid(N1["Id"]), vm_sid(N2["Id"])


def roles(*pairs):
    return [{"Name": v["Name"], "VMId": v["Id"], "OwnerNode": owner, "State": "Online", "AntiAffinityClassNames": []}
            for v, owner in pairs]


def two_nodes(hv01=(N1, SQL), hv02=(N2,), acls=None):
    first, second = node("HV01", list(hv01)), node("HV02", list(hv02))
    for facts in (first, second):
        facts["cluster"]["VMRoles"] = roles(*[(v, "HV01") for v in hv01], *[(v, "HV02") for v in hv02])
    if acls is not None:
        first["acls"] = acls
    return first, second


def view(**kwargs):
    return cluster_view(list(two_nodes(**kwargs)))


def names(refs):
    return sorted(ref["name"] for ref in refs)


# --- which folders and VMs ---------------------------------------------------------------------------------

def test_discover_finds_the_vhd_set_folder_and_every_vm_of_the_guest_cluster_on_any_node():
    targets = fa.resolve_targets(view(), discover=True)
    assert targets["scope"] == "cluster" and targets["note"] is None
    assert [f["path"] for f in targets["folders"]] == [GC]
    refs = targets["folders"][0]["vms"]
    assert names(refs) == ["GC-N1", "GC-N2"]
    assert {r["name"]: r["node"] for r in refs} == {"GC-N1": "HV01", "GC-N2": "HV02"}
    assert {r["sid"] for r in refs} == {SID1, SID2}
    assert {r["account"] for r in refs} == {vm_account(N1["Id"]), vm_account(N2["Id"])}
    assert fa.acl_paths(targets) == [GC]


def test_path_alone_takes_every_vm_with_a_disk_under_it_subfolders_included():
    other = guest("GC-N3", folder=GC + "\\Checkpoints")
    targets = fa.resolve_targets(view(hv02=(N2, other)), path=GC.lower())
    assert names(targets["folders"][0]["vms"]) == ["GC-N1", "GC-N2", "GC-N3"]
    assert targets["folders"][0]["path"] == GC.lower()


def test_path_with_vm_ids_takes_exactly_those_any_case_and_braces_and_warns_about_the_others():
    targets = fa.resolve_targets(view(), path=GC, vm_ids=["{" + N1["Id"].upper() + "}", N1["Id"]])
    assert names(targets["folders"][0]["vms"]) == ["GC-N1"]
    assert targets["warnings"] == [f"GC-N2 also has a disk under '{GC}' and is not in vm_ids"]


def test_the_field_scripts_35_character_id_is_refused_before_anything():
    with pytest.raises(PlanError, match=r"vm_ids\[1\]: 'a0af7903-94b4-4a2c-b3b3-16050d5f80f' is not a VM ID: .*8-4-4-4-12"):
        fa.resolve_targets(view(), path=GC, vm_ids=["d3599536-222a-4d6e-bb10-a6019c3f2b9b", "a0af7903-94b4-4a2c-b3b3-16050d5f80f"])


def test_an_unknown_vm_id_in_a_complete_view_is_an_error_unless_allowed():
    stranger = str(uuid.uuid4())
    with pytest.raises(PlanError, match=f"vm_ids: {stranger} is no VM of the cluster view; check the IDs .*allow_unknown_vm_ids"):
        fa.resolve_targets(view(), path=GC, vm_ids=[N1["Id"], stranger])
    targets = fa.resolve_targets(view(), path=GC, vm_ids=[N1["Id"], stranger], allow_unknown_vm_ids=True)
    refs = {r["id"]: r for r in targets["folders"][0]["vms"]}
    assert refs[stranger]["known"] is False and refs[stranger]["sid"] == vm_sid(stranger)
    assert any(stranger in w and "granted by SID" in w for w in targets["warnings"])


def test_an_unknown_vm_id_names_the_nodes_that_sent_no_facts():
    first, _ = two_nodes()
    with pytest.raises(PlanError, match=r"no VM of the cluster view \(no facts from HV02\)"):
        fa.resolve_targets(cluster_view([first]), path=GC, vm_ids=[str(uuid.uuid4())])


def test_a_clustered_vm_role_of_an_unreported_vm_is_known():
    first, _ = two_nodes()
    targets = fa.resolve_targets(cluster_view([first]), path=GC, vm_ids=[N2["Id"]])
    assert [(r["name"], r["node"]) for r in targets["folders"][0]["vms"]] == [("GC-N2", "HV02")]
    assert "no facts from HV02: the VMs registered there were not considered" in targets["warnings"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"vm_ids": [N1["Id"]]}, "vm_ids: needs path"),
        ({"path": GC, "discover": True}, "give path .* or discover: true, not both"),
        ({}, "give path \\(with or without vm_ids\\) or discover: true"),
        ({"discover": "yes"}, "discover: 'yes' is not a boolean"),
        ({"path": GC, "vm_ids": N1["Id"]}, "vm_ids: expected a list of VM IDs, got a string"),
    ],
)
def test_option_combinations(kwargs, message):
    with pytest.raises(PlanError, match=message):
        fa.resolve_targets(view(), **kwargs)


@pytest.mark.parametrize(
    "path, message",
    [
        ("ClusterStorage\\Volume2\\GuestCluster", "is not an absolute path"),
        ("C:ClusterStorage", "is not an absolute path"),
        ("C:\\ClusterStorage\\Volume2\\..\\..\\Windows", "has a '..' segment"),
        ("C:\\ClusterStorage\\Volume2\\.\\GuestCluster", "has a '.' segment"),
        ("C:\\ClusterStorage\\Volume2\\Guest*", "contains '\\*'"),
        ("C:\\ClusterStorage\\Volume2\\\"GC\"", "contains '\"'"),
        ("C:\\ClusterStorage\\Volume2\\GC:stream", "contains ':'"),
        ("C:\\ClusterStorage\\Volume2\\GC\n", "control character U\\+000A"),
        (" C:\\ClusterStorage\\Volume2\\GC", "leading or trailing whitespace"),
        ("\\\\?\\C:\\ClusterStorage\\Volume2\\GC", "is a device path"),
        ("C:\\ClusterStorage\\Volume2\\\\GC", "has an empty segment"),
        ("C:\\ClusterStorage\\Volume2\\GC.", "ending in a space or a dot"),
        ("C:\\ClusterStorage\\Volume2", "is the root of a volume or share"),
        ("C:\\ClusterStorage\\Volume2\\", "is the root of a volume or share"),
        ("D:\\VMs\\GuestCluster", "is not on a Cluster Shared Volume or a share that the VMs use \\(known: "
                                  "C:\\\\ClusterStorage\\\\Volume1 \\(Cluster Shared Volume 'Cluster Disk 1'\\)"),
        ("C:\\ClusterStorage\\Volume20\\GC", "is not on a Cluster Shared Volume"),
        ("\\\\otherserver\\vms\\GC", "is not on a Cluster Shared Volume or a share that the VMs use"),
        (42, "42 \\(an integer\\) is not a path"),
        ("", "an empty string is not a path"),
    ],
)
def test_bad_paths_are_errors_naming_the_path(path, message):
    with pytest.raises(PlanError, match=message):
        fa.resolve_targets(view(), path=path, vm_ids=[N1["Id"]])


def test_path_under_which_no_vm_has_a_disk_needs_vm_ids():
    with pytest.raises(PlanError, match="no VM of the cluster has a disk under 'C:\\\\ClusterStorage\\\\Volume1\\\\Empty'; give vm_ids"):
        fa.resolve_targets(view(), path="C:\\ClusterStorage\\Volume1\\Empty")


def test_a_share_the_vms_use_is_a_valid_place():
    on_share = [guest(n, folder=SHARE + "\\GC") for n in ("SOFS-N1", "SOFS-N2")]
    targets = fa.resolve_targets(view(hv01=on_share[:1], hv02=on_share[1:]), path=SHARE + "\\GC")
    assert names(targets["folders"][0]["vms"]) == ["SOFS-N1", "SOFS-N2"]
    with pytest.raises(PlanError, match="is the root of a volume or share"):
        fa.resolve_targets(view(hv01=on_share[:1], hv02=on_share[1:]), path=SHARE)


def test_paths_and_vm_names_are_data_and_arrive_unchanged():
    folder = "C:\\ClusterStorage\\Volume2\\O'Brien $(Get-Date) `n ; Ünïcödé"
    odd = guest("GC 'N1' \"quoted\" $(x); `y` Ärger", folder=folder)
    targets = fa.resolve_targets(view(hv01=(odd,), hv02=()), path=folder)
    the_plan = fa.plan(targets, [acl(folder)])
    assert the_plan["operations"] == [{"path": folder, "grant": [dict(fa.GRANT, sid=vm_sid(odd["Id"]))], "revoke": []}]
    assert the_plan["folders"][0]["vms"][0]["name"] == odd["Name"]
    assert fa.module_args(the_plan)["folders"][0]["path"] == folder


# --- ad hoc, one node's facts ------------------------------------------------------------------------------

def test_ad_hoc_a_node_considers_only_its_own_vms_and_says_so():
    first, _ = two_nodes()
    targets = fa.resolve_targets(node_facts=first, discover=True)
    assert targets["scope"] == "node" and targets["node"] == "HV01"
    assert names(targets["folders"][0]["vms"]) == ["GC-N1"]
    assert targets["note"].startswith("only the VMs registered on HV01 were considered")


def test_ad_hoc_vm_ids_of_clustered_vms_of_other_nodes_are_left_to_them():
    first, _ = two_nodes()
    targets = fa.resolve_targets(node_facts=first, path=GC, vm_ids=[N1["Id"], N2["Id"]])
    assert names(targets["folders"][0]["vms"]) == ["GC-N1"]
    assert targets["elsewhere"] == [{"id": N2["Id"], "name": "GC-N2", "node": "HV02"}]
    with pytest.raises(PlanError, match="is no VM of HV01 nor a clustered VM role"):
        fa.resolve_targets(node_facts=first, path=GC, vm_ids=[str(uuid.uuid4())])


def test_ad_hoc_a_cluster_node_without_vms_in_the_folder_has_nothing_to_do():
    _, second = two_nodes(hv02=())
    targets = fa.resolve_targets(node_facts=second, path=GC)
    assert targets["folders"] == [{"path": GC, "vms": []}]
    assert targets["warnings"] == [f"no VM registered on HV02 has a disk under '{GC}'"]
    the_plan = fa.plan(targets, [acl()])
    assert the_plan["operations"] == [] and the_plan["folders"][0]["status"] == "ok"
    alone = node("HOST1", [vm("A", Path="\\\\sofs01\\vms\\A", HardDisks=[disk(SHARE + "\\A\\a.vhdx")])], cluster=False)
    with pytest.raises(PlanError, match="no VM registered on HOST1 has a disk under"):
        fa.resolve_targets(node_facts=alone, path=SHARE + "\\GC")


def test_view_or_node_facts_not_both_nor_neither():
    first, _ = two_nodes()
    with pytest.raises(PlanError, match="give either the cluster view or one node's facts"):
        fa.resolve_targets(view(), node_facts=first, discover=True)
    with pytest.raises(PlanError, match="give either the cluster view or one node's facts"):
        fa.resolve_targets(discover=True)


def test_facts_without_vms_cannot_find_vms():
    first, _ = two_nodes()
    first["gather_subset"] = ["cluster"]
    first["vms"] = []
    with pytest.raises(PlanError, match="gathered without 'vms'"):
        fa.resolve_targets(node_facts=first, discover=True)


# --- judging an ACL ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "entry, state",
    [
        (ace(SID1), "ok"),
        (ace(SID1, inheritance="ContainerInherit, ObjectInherit"), "ok"),
        (ace(SID1, rights="FullControl, 268435456"), "weaker"),      # not a .NET spelling: a name list is parsed anyway
        (ace(SID1, rights=2032127), "ok"),
        (ace(SID1, rights="270467583"), "ok"),                       # FullControl | GENERIC_ALL
        (ace(SID1, inherited=True), "missing"),
        (ace(SID1, inheritance="ContainerInherit"), "weaker"),
        (ace(SID1, inheritance="None"), "weaker"),
        (ace(SID1, propagation="InheritOnly"), "weaker"),
        (ace(SID1, propagation="NoPropagateInherit"), "weaker"),
        (ace(SID1, rights="Modify, Synchronize"), "weaker"),
        (ace(SID1, rights="268435456"), "weaker"),                    # GENERIC_ALL alone does not count
        (ace(SID1, kind="Deny", rights="Write"), "denied"),
        (ace(SID2), "missing"),
        (ace(SID1.lower()), "ok"),
    ],
)
def test_judge(entry, state):
    if entry["FileSystemRights"] == "FullControl, 268435456":
        with pytest.raises(fa.AclError, match="'268435456', which is not a FileSystemRights name"):
            fa.judge([entry], SID1)
        return
    assert fa.judge(parent_aces() + [entry] if entry["IsInherited"] else [entry] + parent_aces(), SID1)["state"] == state


def test_judge_says_why_in_words():
    verdict = fa.judge([ace(SID1, rights="Modify, Synchronize", inheritance="ContainerInherit", propagation="InheritOnly")], SID1)
    assert verdict["reason"] == ("its explicit Allow ACE has Modify, Synchronize, not Full Control and has no object inheritance (OI) "
                                 "and is inherit-only, so the folder itself has no grant; it is upgraded in place")
    assert fa.judge([ace(SID1, inherited=True)], SID1)["reason"].startswith("only an inherited ACE, which does not count")


def test_rights_round_trip_as_dotnet_prints_them():
    for mask, text in [(0x1F01FF, "FullControl"), (0x1301BF, "Modify, Synchronize"), (0x1200A9, "ReadAndExecute, Synchronize"),
                       (0x10000000, "268435456"), (0xA0000000, "-1610612736"), (0x101F01FF, "270467583")]:
        assert fa.rights_text(mask) == text
        assert fa.parse_rights(text) == mask


def test_sddl_of_the_usual_entries():
    assert [fa.sddl(e) for e in parent_aces()] == [
        "(A;OICIID;FA;;;S-1-5-18)", "(A;OICIID;FA;;;S-1-5-32-544)", "(A;OICIIOID;GA;;;S-1-3-0)", "(A;OICIID;0x1200a9;;;S-1-5-83-0)"]
    assert fa.sddl(ace(SID1)) == f"(A;OI;FA;;;{SID1})"
    assert fa.sddl(ace(SID1, kind="Deny", rights="Write", inheritance="None", propagation="NoPropagateInherit")) == f"(D;NP;0x116;;;{SID1})"


# --- the plan ----------------------------------------------------------------------------------------------

def plan_for(access, targets=None, **kwargs):
    targets = targets or fa.resolve_targets(view(), discover=True, **kwargs)
    return fa.plan(targets, [acl(GC, access)])


def test_missing_grants_are_added_after_the_explicit_aces_before_the_inherited_ones():
    access = [ace(ADMINS, inheritance="ContainerInherit, ObjectInherit")] + parent_aces()
    the_plan = plan_for(access)
    folder = the_plan["folders"][0]
    assert folder["status"] == "changed"
    assert [g["sid"] for g in folder["grant"]] == sorted([SID1, SID2], key=[SID1, SID2].index)
    assert [e["Sid"] for e in folder["after"]] == [ADMINS, SID1, SID2, SYSTEM, ADMINS, CREATOR_OWNER, VM_GROUP]
    new = folder["after"][1]
    assert new == {"IdentityReference": vm_account(N1["Id"]), "Sid": SID1, "FileSystemRights": "FullControl",
                   "AccessControlType": "Allow", "InheritanceFlags": "ObjectInherit", "PropagationFlags": "None",
                   "IsInherited": False}
    assert folder["sddl_after"][1] == f"(A;OI;FA;;;{SID1})"
    assert the_plan["operations"] == [{"path": GC, "grant": [dict(fa.GRANT, sid=SID1), dict(fa.GRANT, sid=SID2)], "revoke": []}]
    assert fa.module_args(the_plan) == {"folders": the_plan["operations"], "lock_timeout": 60}
    assert {v["name"]: v["status"] for v in the_plan["vms"]} == {"GC-N1": "changed", "GC-N2": "changed"}


def test_a_granted_vm_is_ok_and_the_demo_clusters_drift_is_found():
    access = [ace(SID1, name=vm_account(N1["Id"]))] + parent_aces()
    the_plan = plan_for(access)
    vms = {v["name"]: v for v in the_plan["folders"][0]["vms"]}
    assert vms["GC-N1"]["status"] == "ok" and vms["GC-N2"]["status"] == "changed"
    assert the_plan["operations"][0]["grant"] == [dict(fa.GRANT, sid=SID2)]


def test_a_weaker_ace_is_upgraded_in_place_keeping_its_other_bits_and_position():
    access = [ace(ADMINS), ace(SID1, rights="268435456", inheritance="ContainerInherit", propagation="NoPropagateInherit"),
              ace(SID2)] + parent_aces()
    folder = plan_for(access)["folders"][0]
    assert [e["Sid"] for e in folder["after"]] == [e["Sid"] for e in access]
    assert folder["after"][1] == dict(access[1], FileSystemRights="270467583", InheritanceFlags="ContainerInherit, ObjectInherit",
                                      PropagationFlags="None")
    assert folder["after"][0] is access[0] and folder["after"][2] is access[2]
    assert fa.judge(folder["after"], SID1)["state"] == "ok"


def test_an_explicit_deny_fails_that_vm_only_and_is_never_removed():
    access = [ace(SID1, kind="Deny", rights="Delete", inheritance="None")] + parent_aces()
    the_plan = plan_for(access)
    folder = the_plan["folders"][0]
    vms = {v["name"]: v for v in folder["vms"]}
    assert vms["GC-N1"]["status"] == "failed"
    assert "an explicit Deny ACE for " + SID1 + " denies Delete" in vms["GC-N1"]["msg"]
    assert vms["GC-N2"]["status"] == "changed"
    assert folder["status"] == "failed" and folder["msg"].startswith("GC-N1: an explicit Deny ACE")
    assert the_plan["operations"][0]["grant"] == [dict(fa.GRANT, sid=SID2)]
    assert folder["after"][0] == access[0]


def test_an_inherited_deny_and_a_deny_for_every_vm_are_warnings():
    access = [ace(VM_GROUP, kind="Deny", rights="Write", inheritance="None")] + parent_aces() + [
        ace(SID1, kind="Deny", rights="Write", inherited=True)]
    the_plan = plan_for(access)
    assert the_plan["folders"][0]["vms"][0]["status"] == "changed"
    assert any("inherited Deny ACE for " + SID1 in w for w in the_plan["warnings"])
    assert any("explicit Deny ACE for S-1-5-83-0 (NT VIRTUAL MACHINE\\Virtual Machines) denies Write" in w for w in the_plan["warnings"])


def test_an_acl_that_is_not_understood_fails_its_folder_and_is_left_alone():
    access = [ace(ADMINS, rights="FullControl, Sparkle")] + parent_aces()
    the_plan = plan_for(access)
    folder = the_plan["folders"][0]
    assert folder["status"] == "failed" and "'Sparkle', which is not a FileSystemRights name" in folder["msg"]
    assert the_plan["operations"] == [] and folder["after"] == access
    assert all(v["status"] == "failed" for v in folder["vms"])


def test_an_acl_not_gathered_is_an_error_before_anything():
    targets = fa.resolve_targets(view(), discover=True)
    with pytest.raises(PlanError, match="the ACL of 'C:\\\\ClusterStorage\\\\Volume2\\\\GuestCluster' was not read; gather it with host_facts acl_paths"):
        fa.plan(targets, [acl("C:\\ClusterStorage\\Volume1\\Other")])


def test_acls_are_found_in_the_view_or_in_node_facts_whatever_the_case():
    first, second = two_nodes(acls=[acl(GC.upper())])
    targets = fa.resolve_targets(cluster_view([first, second]), discover=True)
    assert fa.plan(targets, fa.acls_from(cluster_view([first, second])))["folders"][0]["status"] == "changed"
    assert fa.acls_from(first) == [acl(GC.upper())]


def test_converged_plan_changes_nothing_and_check_mode_predicts_it():
    the_plan = plan_for(parent_aces())
    rerun = plan_for(the_plan["folders"][0]["after"])
    assert rerun["operations"] == [] and rerun["folders"][0]["status"] == "ok"
    assert the_plan["changed"] is True and rerun["changed"] is False
    final = fa.merge(rerun, None)
    assert final["changed"] is False and final["counts"]["ok"] == 1
    assert fa.diff(final["folders"]) == {"before": "", "after": ""}


def test_diff_shows_each_ace_as_sddl_and_words():
    the_plan = plan_for(parent_aces())
    text = fa.diff(the_plan["folders"])
    assert text["before"].splitlines()[0] == GC
    after = text["after"].splitlines()
    assert after[1] == (f"  (A;OI;FA;;;{SID1})  {vm_account(N1['Id'])}: Allow FullControl, inheritance ObjectInherit, "
                        "propagation None")
    assert after[3].startswith("  (A;OICIID;FA;;;S-1-5-18)  S-1-5-18: Allow FullControl") and after[3].endswith(", inherited")


# --- the merge ---------------------------------------------------------------------------------------------

def host_report(the_plan, **overrides):
    folder = the_plan["folders"][0]
    item = {"path": folder["path"], "status": "changed", "before": folder["before"], "after": folder["after"],
            "granted": [g["sid"] for g in folder["grant"]], "upgraded": [], "revoked": [], "denied": [], "attempts": 1}
    item.update(overrides)
    return {"changed": True, "folders": [item]}


def test_merge_keeps_the_hosts_read_back_and_judges_it_again():
    the_plan = plan_for(parent_aces())
    final = fa.merge(the_plan, host_report(the_plan))
    assert final["changed"] is True and final["counts"]["changed"] == 1
    assert all(v["status"] == "changed" for v in final["vms"])
    lost = [e for e in the_plan["folders"][0]["after"] if e["Sid"] != SID2]
    final = fa.merge(the_plan, host_report(the_plan, after=lost))
    vms = {v["name"]: v for v in final["folders"][0]["vms"]}
    assert vms["GC-N2"]["status"] == "failed" and vms["GC-N2"]["msg"].startswith("not granted after the write: no ACE")
    assert final["folders"][0]["status"] == "failed" and final["folders"][0]["after"] == lost


def test_merge_a_folder_the_host_did_not_report_or_failed():
    the_plan = plan_for(parent_aces())
    final = fa.merge(the_plan, {"folders": []})
    assert final["folders"][0]["status"] == "failed" and final["folders"][0]["msg"] == "the host reported nothing for this folder"
    assert final["folders"][0]["after"] == the_plan["folders"][0]["before"]
    failed = fa.merge(the_plan, host_report(the_plan, status="failed", after=parent_aces(),
                                            error="could not lock: C:\\...\\.hyperv-backup-acl.lock is held"))
    assert failed["folders"][0]["status"] == "failed"
    assert failed["folders"][0]["msg"].startswith("could not lock")
    assert all(v["status"] == "failed" for v in failed["folders"][0]["vms"])


def test_merge_another_node_granted_first():
    the_plan = plan_for(parent_aces())
    final = fa.merge(the_plan, host_report(the_plan, status="ok", granted=[]))
    assert final["changed"] is False and final["folders"][0]["status"] == "ok"
    assert all(v["status"] == "ok" for v in final["folders"][0]["vms"])
    assert final["folders"][0]["after"] == the_plan["folders"][0]["after"]


# --- purge -------------------------------------------------------------------------------------------------

STALE = str(uuid.UUID(int=7))
STALE_SID = vm_sid(STALE)


def purge_acl():
    return [ace(ADMINS, inheritance="ContainerInherit, ObjectInherit"),
            ace(SID1),
            ace(STALE_SID, inheritance="None"),
            ace("S-1-5-83-1-1-2-3"),                    # not a VM SID: four sub-authorities are needed
            ace(VM_GROUP),
            ace(vm_sid(SQL["Id"]), rights="Read"),      # exists (on HV01), not a target: kept
            ace(vm_sid(str(uuid.UUID(int=9))), kind="Deny", rights="Write"),
            ace("S-1-5-21-1-2-3-1105"),
            ] + parent_aces() + [ace(vm_sid(str(uuid.UUID(int=8))), inherited=True)]


def test_purge_removes_only_explicit_allow_aces_of_vms_that_exist_nowhere():
    targets = fa.resolve_targets(view(), discover=True, purge_stale=True)
    the_plan = fa.plan(targets, [acl(GC, purge_acl())])
    folder = the_plan["folders"][0]
    assert folder["revoke"] == [{"sid": STALE_SID, "vm_id": STALE}]
    assert the_plan["operations"][0]["revoke"] == [{"sid": STALE_SID}]
    before = purge_acl()
    kept = [e for e in folder["after"] if e["Sid"] != SID2]        # GC-N2's grant is added, nothing else changes
    assert kept == [e for e in before if e["Sid"] != STALE_SID]
    assert any("is inherited from a parent folder; purge it there" in w for w in the_plan["warnings"])
    assert any("has a Deny ACE, which is left as it is" in w for w in the_plan["warnings"])


def test_purge_keeps_clustered_roles_seen_only_as_roles():
    first, second = two_nodes()
    ghost = str(uuid.UUID(int=11))
    for facts in (first, second):
        facts["cluster"]["VMRoles"].append({"Name": "GHOST", "VMId": ghost, "OwnerNode": "HV02", "State": "Offline",
                                            "AntiAffinityClassNames": []})
    targets = fa.resolve_targets(cluster_view([first, second]), discover=True, purge_stale=True)
    the_plan = fa.plan(targets, [acl(GC, [ace(vm_sid(ghost))] + parent_aces())])
    assert the_plan["folders"][0]["revoke"] == []


def test_purge_never_revokes_a_vm_it_grants_even_one_no_node_reports():
    foreign = str(uuid.UUID(int=12))   # a VM of another cluster sharing the folder, already partly granted
    targets = fa.resolve_targets(view(), path=GC, vm_ids=[N1["Id"], foreign], allow_unknown_vm_ids=True,
                                 purge_stale=True)
    the_plan = fa.plan(targets, [acl(GC, [ace(vm_sid(foreign), rights="Read")] + parent_aces())])
    folder = the_plan["folders"][0]
    assert folder["revoke"] == []
    assert {g["sid"] for g in folder["grant"]} == {vm_sid(N1["Id"]), vm_sid(foreign)}


def test_purge_refuses_an_incomplete_view_naming_the_nodes():
    first, _ = two_nodes()
    with pytest.raises(PlanError, match=r"purge_stale: the view is incomplete, no facts from HV02 \(Up\); .*Gather facts on every node"):
        fa.resolve_targets(cluster_view([first]), discover=True, purge_stale=True)
    first["cluster"]["Nodes"][1]["State"] = "Down"
    with pytest.raises(PlanError, match=r"no facts from HV02 \(Down\)"):
        fa.resolve_targets(cluster_view([first]), discover=True, purge_stale=True)


def test_purge_refuses_node_facts_standalone_hosts_and_facts_without_vms():
    first, second = two_nodes()
    with pytest.raises(PlanError, match="purge_stale: needs the view of the whole cluster"):
        fa.resolve_targets(node_facts=first, discover=True, purge_stale=True)
    alone = node("HOST1", [guest("A", folder=SHARE + "\\GC")], cluster=False)
    with pytest.raises(PlanError, match="purge_stale: needs the facts of a failover cluster's nodes"):
        fa.resolve_targets(cluster_view([alone]), discover=True, purge_stale=True)
    acls_only = {"schema": 1, "gather_subset": [], "node": second["node"], "acls": []}
    with pytest.raises(PlanError, match="the facts of HV02 were gathered without 'vms'"):
        fa.resolve_targets(cluster_view([first, acls_only]), discover=True, purge_stale=True)


def test_purge_leaves_shares_alone():
    on_share = guest("SOFS-N1", folder=SHARE + "\\GC")
    targets = fa.resolve_targets(view(hv01=(on_share,), hv02=()), discover=True, purge_stale=True)
    the_plan = fa.plan(targets, [acl(SHARE + "\\GC", [ace(STALE_SID)] + parent_aces())])
    assert the_plan["folders"][0]["revoke"] == []
    assert any("is on a share, which may serve VMs of other clusters" in w for w in the_plan["warnings"])


def test_merge_fails_a_revoke_the_host_did_not_do():
    targets = fa.resolve_targets(view(), discover=True, purge_stale=True)
    the_plan = fa.plan(targets, [acl(GC, [ace(SID1), ace(SID2), ace(STALE_SID)] + parent_aces())])
    final = fa.merge(the_plan, host_report(the_plan, after=the_plan["folders"][0]["before"]))
    assert final["folders"][0]["status"] == "failed"
    assert f"still has explicit Allow ACEs for {STALE_SID}" in final["folders"][0]["msg"]


def test_apply_intent_refuses_to_revoke_anything_but_a_vm_sid():
    for sid in (VM_GROUP, ADMINS, "S-1-5-83-1-1-2-3"):
        with pytest.raises(fa.AclError, match="refusing to revoke"):
            fa.apply_intent(parent_aces(), revokes=[{"sid": sid}])


# --- properties over random ACLs ---------------------------------------------------------------------------

POOL = [SYSTEM, ADMINS, CREATOR_OWNER, VM_GROUP, "S-1-5-21-1-2-3-1105", SID1, SID2, STALE_SID]
RIGHTS = ["FullControl", "Modify, Synchronize", "ReadAndExecute, Synchronize", "268435456", "Read", "Write", 2032127,
          "-1610612736", "Delete"]
INHERITANCE = ["None", "ObjectInherit", "ContainerInherit", "ContainerInherit, ObjectInherit"]
PROPAGATION = ["None", "InheritOnly", "NoPropagateInherit", "NoPropagateInherit, InheritOnly"]

entries = st.builds(ace, sid=st.sampled_from(POOL), rights=st.sampled_from(RIGHTS), kind=st.sampled_from(["Allow", "Allow", "Deny"]),
                    inheritance=st.sampled_from(INHERITANCE), propagation=st.sampled_from(PROPAGATION), inherited=st.booleans())
# Windows keeps explicit ACEs before inherited ones; the planner does not rely on it, so half the ACLs are shuffled.
acls = st.lists(entries, max_size=12).flatmap(
    lambda items: st.one_of(st.just(sorted(items, key=lambda e: e["IsInherited"])), st.permutations(items)))
grant_sets = st.lists(st.sampled_from([SID1, SID2, vm_sid(str(uuid.UUID(int=5)))]), unique=True, max_size=3)


def explicit_allows(access, sid):
    return [e for e in access if e["Sid"] == sid and e["AccessControlType"] == "Allow" and not e["IsInherited"]]


@given(acls, grant_sets)
def test_no_ace_is_lost_moved_or_duplicated(access, sids):
    access = [dict(entry, _n=n) for n, entry in enumerate(access)]  # a mark that follows each entry
    original = copy.deepcopy(access)
    after, done = fa.apply_intent(access, [dict(fa.GRANT, sid=s) for s in sids])
    assert access == original                                       # the input is not modified
    kept = [e for e in after if "_n" in e]
    assert [e["_n"] for e in kept] == list(range(len(access)))      # none lost, none moved, none repeated
    for entry in kept:
        before = access[entry["_n"]]
        if entry is not before:                                     # only an upgrade touches an entry
            assert before["Sid"] in done["upgraded"] and before["AccessControlType"] == "Allow" and not before["IsInherited"]
            assert {k: v for k, v in entry.items() if k not in ("FileSystemRights", "InheritanceFlags", "PropagationFlags")} == \
                {k: v for k, v in before.items() if k not in ("FileSystemRights", "InheritanceFlags", "PropagationFlags")}
            assert fa.parse_rights(entry["FileSystemRights"]) & fa.parse_rights(before["FileSystemRights"]) == \
                fa.parse_rights(before["FileSystemRights"])         # bits are only added
    assert len([e for e in kept if e is not access[e["_n"]]]) == len(done["upgraded"])
    new = [(i, e) for i, e in enumerate(after) if "_n" not in e]
    assert sorted(e["Sid"] for _, e in new) == sorted(done["granted"])
    first_inherited = next((n for n, e in enumerate(access) if e["IsInherited"]), len(access))
    for position, entry in new:                                     # between the explicit head and the first inherited
        assert all(e["_n"] < first_inherited for e in after[:position] if "_n" in e)
        assert all(e["_n"] >= first_inherited for e in after[position:] if "_n" in e)
        assert {k: entry[k] for k in ("FileSystemRights", "AccessControlType", "InheritanceFlags", "PropagationFlags", "IsInherited")} == \
            {"FileSystemRights": "FullControl", "AccessControlType": "Allow", "InheritanceFlags": "ObjectInherit",
             "PropagationFlags": "None", "IsInherited": False}
    for sid in sids:                                                # at most one explicit Allow ACE is added per SID
        added = len(explicit_allows(after, sid)) - len(explicit_allows(access, sid))
        assert added == (1 if sid in done["granted"] else 0)
        assert not (sid in done["granted"] and explicit_allows(access, sid))


@given(acls, grant_sets)
def test_every_grant_counts_afterwards_unless_denied_and_a_rerun_changes_nothing(access, sids):
    grants = [dict(fa.GRANT, sid=s) for s in sids]
    after, done = fa.apply_intent(access, grants)
    for sid in sids:
        state = fa.judge(after, sid)["state"]
        assert state == ("denied" if sid in done["denied"] else "ok")
    again, redone = fa.apply_intent(after, grants)
    assert again == after and redone["granted"] == redone["upgraded"] == []


@given(acls, grant_sets, grant_sets)
def test_two_nodes_applying_at_once_lose_nothing_whatever_the_order(access, mine, theirs):
    # Each node re-applies its intent to the ACL as it finds it (the host's loop): the order does not matter.
    a_then_b, _ = fa.apply_intent(fa.apply_intent(access, [dict(fa.GRANT, sid=s) for s in mine])[0],
                                  [dict(fa.GRANT, sid=s) for s in theirs])
    b_then_a, _ = fa.apply_intent(fa.apply_intent(access, [dict(fa.GRANT, sid=s) for s in theirs])[0],
                                  [dict(fa.GRANT, sid=s) for s in mine])
    key = lambda e: (e["Sid"], e["AccessControlType"], str(e["FileSystemRights"]), e["InheritanceFlags"],
                     e["PropagationFlags"], e["IsInherited"])
    assert sorted(map(key, a_then_b)) == sorted(map(key, b_then_a))
    for sid in set(mine) | set(theirs):
        assert fa.judge(a_then_b, sid)["state"] in ("ok", "denied")
    for entry in access:
        if entry["Sid"] not in set(mine) | set(theirs):
            assert entry in a_then_b


@given(acls)
def test_purge_touches_only_explicit_allow_aces_of_stale_vm_sids(access):
    existing = {vm_sid(N1["Id"]), vm_sid(N2["Id"])}
    aces = [fa.parse_entry(e) for e in access]
    revoke, _ = fa._stale(GC, aces, [N1["Id"], N2["Id"]])
    after, done = fa.apply_intent(access, revokes=revoke)
    removed = [e for e in access if e not in after]
    assert all(e["Sid"] == STALE_SID and e["AccessControlType"] == "Allow" and not e["IsInherited"] for e in removed)
    assert [e for e in access if e not in removed] == after
    assert not any(e["Sid"] in existing for e in removed)
    assert explicit_allows(after, STALE_SID) == []


# --- the demo cluster, as hvsim's host_facts reports it ------------------------------------------------------

def test_demo_cluster_guest_cluster_is_found_and_only_the_missing_vm_is_granted():
    data = load_file(model_path("demo"))
    folder = "C:\\ClusterStorage\\Volume2\\GuestCluster-SQL"
    facts = [host_facts(Context(node=n["name"], data=data), {"gather_subset": list(SUBSETS), "acl_paths": [folder]})
             ["ansible_facts"]["hyperv_backup"] for n in data["nodes"]]
    the_view = cluster_view(facts)
    targets = fa.resolve_targets(the_view, discover=True, purge_stale=True)
    assert [f["path"] for f in targets["folders"]] == [folder]
    the_plan = fa.plan(targets, fa.acls_from(the_view))
    vms = {v["name"]: v for v in the_plan["folders"][0]["vms"]}
    assert {name: v["status"] for name, v in vms.items()} == {"GC-SQL-N1": "ok", "GC-SQL-N2": "changed"}
    assert vms["GC-SQL-N1"]["node"] != vms["GC-SQL-N2"]["node"]          # a guest cluster across host nodes
    assert the_plan["operations"] == [{"path": folder, "grant": [dict(fa.GRANT, sid=vms["GC-SQL-N2"]["sid"])], "revoke": []}]
    before = the_plan["folders"][0]["before"]
    assert the_plan["folders"][0]["after"] == before[:1] + [the_plan["folders"][0]["after"][1]] + before[1:]
