"""Property-based: for random cluster models (tests/integration/reliability.py, ``cluster_models``) and random
arguments, every capability, through real ansible processes against hvsim:

- converges: the real run succeeds, and a second run changes nothing (``changed: false`` everywhere, the
  model file byte-identical, no apply round trip);
- check mode predicts exactly the real run: the check run changes nothing and sends no apply, and its
  per-item statuses, ``before`` / ``after`` and ``diff`` are those of the real run, which are exactly the
  changes found in the model (the model diff);
- nothing outside the selection changes: the model diff touches only the selected objects and the settings
  the capability manages;
- names are data: what the host received (hvsim's journal) names every VM exactly as the model does.

Each example is three ansible-playbook runs (check, real, again) of one to three seconds each. ``EXAMPLES`` per
property (default 3, ``HYPERV_BACKUP_PROPERTY_EXAMPLES`` to change; 8 to 20 were run while writing them) keeps the
seven properties within about two minutes of CI time on two cores; the models are small (1-4 nodes, up to 7
VMs) because what breaks is the combination of states, names and ACL entries, not the count (the benchmarks
cover scale). A failing example
is printed by hypothesis as drawn, with its seed, without shrinking (``HYPERV_BACKUP_PROPERTY_SHRINK=1`` shrinks
it, which takes minutes); nothing is stored in the checkout.
"""
import os

import pytest

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from hvsim import world
from tests.integration import reliability as R

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("HYPERV_BACKUP_PROPERTY_EXAMPLES", "3"))
# Shrinking a failing example takes hundreds of runs (minutes); CI reports the example as found, small anyway.
PHASES = [Phase.explicit, Phase.reuse, Phase.generate] + \
    ([Phase.shrink] if os.environ.get("HYPERV_BACKUP_PROPERTY_SHRINK") else [])
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None, phases=PHASES,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])
TASK = "capability"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("properties")


# -- selections ----------------------------------------------------------------------------------------------
@st.composite
def node_selections(draw, data):
    """Per node: ``vms`` (None: every VM, else IDs and exact names of a random subset) and ``exclude`` (IDs),
    and the IDs that selection means (the oracle: an ID selects its VM, a name every VM of that name on the
    node, compared without regard to case)."""
    selections = {}
    for node in data["nodes"]:
        here = R.vms_of(data, node["name"])
        if not here or draw(st.booleans()):
            vms, chosen = None, {vm["id"] for vm in here}
        else:
            picked = draw(st.lists(st.sampled_from(here), max_size=len(here), unique_by=lambda vm: vm["id"]))
            vms, chosen = [], set()
            for vm in picked:
                if R.selectable_by_name(vm["name"]) and draw(st.booleans()):
                    vms.append(vm["name"])
                    chosen |= {other["id"] for other in here if other["name"].lower() == vm["name"].lower()}
                else:
                    vms.append(draw(st.sampled_from((vm["id"], vm["id"].upper(), "{" + vm["id"] + "}"))))
                    chosen.add(vm["id"])
        excluded = draw(st.lists(st.sampled_from(here), max_size=2, unique_by=lambda vm: vm["id"])) if here else []
        chosen -= {vm["id"] for vm in excluded}
        selections[node["name"]] = {"vms": vms, "exclude": [vm["id"] for vm in excluded], "ids": chosen}
    return selections


def selection_args(selections):
    """Task arguments that give each host its own selection (``!unsafe`` data: names are never templated)."""
    args = {"exclude": "{{ hv_selection[inventory_hostname].exclude }}",
            "vms": "{{ omit if hv_selection[inventory_hostname].vms is none else hv_selection[inventory_hostname].vms }}"}
    plain = {node: {"vms": s["vms"], "exclude": s["exclude"]} for node, s in selections.items()}
    return args, {"hv_selection": R.unsafe(plain)}


def per_vm_plays(module, args, selections):
    select, play_vars = selection_args(selections)
    return [R.play([{"name": TASK, f"hyperv.backup.{module}": {**args, **select}}], vars=play_vars)]


# -- the per-VM capabilities ----------------------------------------------------------------------------------
# The settings each one manages: result key (as Get-VM names it) -> the model's path under the VM.
MANAGED = {
    "checkpoint_type": {"CheckpointType": ("checkpoint_type",), "AutomaticCheckpointsEnabled": ("automatic_checkpoints",)},
    "scsi_controller": {"ScsiControllers": ("scsi_controllers",)},
    "backup_integration": {"Enabled": ("backup_integration", "enabled")},
}


def per_vm_property(workdir, data, module, args, selections):
    plays = per_vm_plays(module, args, selections)
    with R.LabRun(data, workdir) as lab:
        run = R.converge(lab, workdir, plays, TASK)
        assert set(run.real) == {n["name"] for n in data["nodes"]}
        declared = {}
        for host, result in run.real.items():
            assert {e["id"] for e in result["vms"]} == selections[host]["ids"], (host, result["vms"])
            for entry in result["vms"]:
                assert entry["status"] in ("ok", "changed", "pending"), entry
                for key, path in MANAGED[module].items():
                    if key in entry["before"] and entry["before"][key] != entry["after"][key]:
                        assert entry["status"] == "changed", entry
                        declared[("vms", entry["id"]) + path] = (entry["before"][key], entry["after"][key])
        # the model changed exactly as the results say, and only there
        assert run.diff == declared
        # what the hosts were sent: an operation for each VM that changed, each named byte for byte as in the model
        sent = {op["id"].lower() for entry in run.journal if entry["module"] == module
                for op in entry["args"]["operations"]}
        assert sent == {e["id"] for result in run.real.values() for e in result["vms"] if e["status"] == "changed"}
        R.assert_names_arrived(run.journal, data, module)
    return run


@SETTINGS
@given(st.data())
def test_checkpoint_type_converges_and_check_mode_predicts_it(workdir, data):
    model = data.draw(R.cluster_models(), "model")
    selections = data.draw(node_selections(model), "selections")
    target = data.draw(st.sampled_from(R.CHECKPOINT_TYPES), "checkpoint_type")
    args = {"checkpoint_type": target}
    if data.draw(st.booleans(), "with compliant_types"):
        args["compliant_types"] = sorted(set(data.draw(st.lists(st.sampled_from(R.CHECKPOINT_TYPES)), "compliant"))
                                         | {target})
    automatic = data.draw(st.sampled_from((None, True, False)), "automatic_checkpoints")
    if automatic is not None:
        args["automatic_checkpoints"] = automatic
    run = per_vm_property(workdir, model, "checkpoint_type", args, selections)
    compliant = set(args.get("compliant_types") or ([target, "ProductionOnly"] if target == "Production" else [target]))
    for host, result in run.real.items():
        for entry in result["vms"]:
            if entry["status"] != "pending":
                assert entry["after"]["CheckpointType"] in compliant, entry


@SETTINGS
@given(st.data())
def test_scsi_controller_converges_and_restarted_vms_are_running_again(workdir, data):
    model = data.draw(R.cluster_models(), "model")
    selections = data.draw(node_selections(model), "selections")
    args = {"count": data.draw(st.integers(1, 3), "count"),
            "running_vms": data.draw(st.sampled_from(("skip", "restart")), "running_vms"), "max_restarts": 20}
    run = per_vm_property(workdir, model, "scsi_controller", args, selections)
    # every VM is in the state it was in (a VM shut down for its controller was started again)
    before = {vm["id"]: world.vm_state(vm) for vm in model["vms"]}
    after = {vm["id"]: world.vm_state(vm) for vm in run.after["vms"]}
    assert after == before
    for host, result in run.real.items():
        for entry in result["vms"]:
            if entry["status"] == "pending":
                assert entry["after"] == entry["before"]
            else:
                assert entry["after"]["ScsiControllers"] >= args["count"], entry


@SETTINGS
@given(st.data())
def test_backup_integration_converges_and_check_mode_predicts_it(workdir, data):
    model = data.draw(R.cluster_models(), "model")
    selections = data.draw(node_selections(model), "selections")
    state = data.draw(st.sampled_from(("enabled", "disabled")), "state")
    run = per_vm_property(workdir, model, "backup_integration", {"state": state}, selections)
    for host, result in run.real.items():
        for entry in result["vms"]:
            if entry["status"] != "pending":
                assert entry["after"] == {"Enabled": state == "enabled"}, entry


# -- vm_folder_access (the role vhds_permissions: every node read, one decision, one apply) ---------------------
def folder_prediction(result):
    """As :func:`reliability.prediction`, with each ACE as its SDDL: the account name printed beside it is as each
    side resolves it (the controller names every VM's account, a host only those of the VMs registered on it)."""
    sddl = {side: [line.split()[0] for line in text.splitlines()] for side, text in (result.get("diff") or {}).items()}
    return {"changed": result.get("changed"), "failed": bool(result.get("failed")), "diff": sddl,
            "folders": [(f["path"], f["status"], f["sddl_before"], f["sddl_after"]) for f in result.get("folders") or []],
            "vms": [(v["id"], v["name"], v["status"]) for v in result.get("vms") or []]}


@SETTINGS
@given(st.data())
def test_vm_folder_access_grants_each_guest_once_and_keeps_every_other_ace(workdir, data):
    model = data.draw(R.cluster_models(min_nodes=2), "model")
    plays = [R.play([{"name": TASK, "ansible.builtin.include_role": {"name": "hyperv.backup.vhds_permissions"}}])]
    with R.LabRun(model, workdir) as lab:
        run = R.converge(lab, workdir, plays, "hyperv.backup.vhds_permissions : Grant each VM's account Full Control "
                                               "on its VHD Set folders, once per cluster, on its first node",
                         applied_only=True, predict=folder_prediction)
        members = R.guest_members(model)
        assert {path for path, in ((p[1],) for p in run.diff)} <= set(members)
        assert all(path[0] == "folders" and path[2:] == ("access",) for path in run.diff), run.diff
        result = next(iter(run.real.values()), None)
        if not members:
            assert result is None or result["folders"] == []
            return
        assert {world.path_key(f["path"]) for f in result["folders"]} == {world.path_key(p) for p in members}
        for folder in result["folders"]:
            path = next(p for p in members if world.paths_equal(p, folder["path"]))
            before = model["folders"][path]["access"]
            after = run.after["folders"][path]["access"]
            R.assert_grants_only_added(before, after, [world.vm_sid(vm_id) for vm_id in members[path]])
            changed = ("folders", path, "access") in run.diff
            assert (folder["status"] == "changed") == changed, folder
            assert [a["Sid"] for a in folder["after"]] == [a["sid"].upper() for a in after]


# -- vss_access_control (ad hoc on every node) ---------------------------------------------------------------
@st.composite
def vss_arguments(draw):
    names = [name for name, _ in R.ACCOUNT_POOL]
    accounts = []
    for name in draw(st.lists(st.sampled_from(names), max_size=3, unique=True)):
        spelt = draw(st.sampled_from((name, name.upper(), name.lower())))   # value names ignore case
        access = draw(st.sampled_from((None, "deny", "writer", "requester", "both", 0, 1, 2, 3)))
        accounts.append(spelt if access is None else {"name": spelt, "access": access})
    state = draw(st.sampled_from(("present", "absent")))
    args = {"accounts": accounts, "state": state, "resolve": draw(st.booleans())}
    if state == "absent":
        args["accounts"] = [a["name"] if isinstance(a, dict) else a for a in accounts]
    elif accounts and draw(st.booleans()):
        args["exclusive"] = True
    return args


@SETTINGS
@given(st.data())
def test_vss_access_control_converges_and_touches_only_the_listed_values(workdir, data):
    model = data.draw(R.cluster_models(max_vms=0), "model")
    args = data.draw(vss_arguments(), "arguments")
    plays = [R.play([{"name": TASK, "hyperv.backup.vss_access_control": R.unsafe(args)}])]
    listed = {world.value_key(a["name"] if isinstance(a, dict) else a) for a in args["accounts"]}
    with R.LabRun(model, workdir) as lab:
        run = R.converge(lab, workdir, plays, TASK)
        for path in run.diff:
            assert path[0] == "nodes" and path[2] == "vss_access_control", path
            if len(path) > 3 and not args.get("exclusive"):
                assert world.value_key(path[3]) in listed, path
        for host, result in run.real.items():
            assert result["values"] == (run.after_node(host).get("vss_access_control") or {})
            assert listed <= {world.value_key(a["name"]) for a in result["accounts"]}, result["accounts"]
        received = [entry["args"] for entry in run.journal if entry["module"] == "vss_access_control"]
        for sent in received:
            for op in sent.get("operations") or []:
                assert world.value_key(op["name"]) in listed or args.get("exclusive"), op


# -- cluster_config_store (once per cluster) ------------------------------------------------------------------
@SETTINGS
@given(st.data())
def test_cluster_config_store_sets_the_path_once_and_creates_only_its_folders(workdir, data):
    model = data.draw(R.cluster_models(max_vms=0), "model")
    volume = data.draw(st.sampled_from(model["cluster"]["shared_volumes"]), "volume")
    parts = data.draw(st.lists(R.folder_names(), min_size=1, max_size=3), "folders")
    path = "\\".join([volume["path"]] + parts)
    plays = [R.play([{"name": TASK, "hyperv.backup.cluster_config_store": R.unsafe({"path": path}),
                      "run_once": True}])]
    preset = model["cluster"]["parameters"]["ConfigStoreRootPath"]
    with R.LabRun(model, workdir) as lab:
        run = R.converge(lab, workdir, plays, TASK)
        (result,) = run.real.values()
        if preset:   # set already: the same folder is ok, another one a conflict left alone
            same = world.paths_equal(preset, path)
            assert result["status"] == ("ok" if same else "conflict") and run.diff == {}, result
            return
        assert result["status"] == "changed" and result["after"] == {"ConfigStoreRootPath": path}
        assert run.after["cluster"]["parameters"]["ConfigStoreRootPath"] == path
        created = {p[1] for p in run.diff if p[0] == "folders"}
        expected = {"\\".join([volume["path"]] + parts[:n]) for n in range(1, len(parts) + 1)}
        assert created == expected
        assert set(run.diff) == {("cluster", "parameters", "ConfigStoreRootPath")} | {("folders", p) for p in expected}
        received = [entry["args"]["path"] for entry in run.journal if entry["module"] == "cluster_config_store"]
        assert received == [path]


# -- csv_placement (the role csv_affinity: one plan for the cluster, carried out on one node) ------------------
@SETTINGS
@given(st.data())
def test_csv_placement_converges_and_moves_only_vms_and_csv_owners(workdir, data):
    model = data.draw(R.cluster_models(min_nodes=2), "model")
    strategy = data.draw(st.sampled_from(("auto", "migrate_vms", "move_csvs")), "strategy")
    plays = [R.play([{"name": TASK, "ansible.builtin.include_role": {"name": "hyperv.backup.csv_affinity"}}],
                    vars={"hyperv_csv_affinity_strategy": strategy})]
    with R.LabRun(model, workdir) as lab:
        run = R.converge(lab, workdir, plays,
                         "hyperv.backup.csv_affinity : Plan and make the moves, once per cluster, on its first node "
                         "in the play", applied_only=True)
        for path in run.diff:
            assert path[:1] == ("vms",) and path[2:] == ("node",) or \
                path[:2] == ("cluster", "shared_volumes") and path[3:] == ("owner_node",), path
        result = next(iter(run.real.values()))
        moved = {("vm", m["id"]) if m["kind"] == "vm" else ("csv", m["name"]): m["to"]
                 for m in result["results"][0]["moves"] if m["status"] == "moved"} if result.get("results") else {}
        changes = {("vm", p[1]) if p[0] == "vms" else ("csv", p[2]): after.upper() for p, (_, after) in run.diff.items()}
        assert changes == {key: to.upper() for key, to in moved.items()}
