"""Faults in the middle of the whole baseline (role backup_readiness on the demo cluster, every part on, running
VMs restarted for their SCSI controller): the connection dropped after k module runs, the WinRM service of a
host stopping under the kth run, a live migration that fails, a host too slow for the connection's timeout.

After each faulted run, and again after the re-run that converges:

- no ACE is duplicated or lost (every ACE of every folder is still there, and no ACE appears twice);
- no registry value is lost (every VssAccessControl value of every node is still there);
- no VM that was running is left stopped;

and the re-run without the fault converges: it succeeds and leaves the model as a run without any fault leaves it
(the same end state whatever broke on the way; the reference run shows a further run changes nothing there).

Each case is two runs of the playbook (a few seconds each; the reference two more, once); k is chosen so that the
fault hits a given module's run (a per-VM apply, a registry write, an ACL write, the moves), seven cases in all.
"""
import json
import threading

import pytest

from hvsim import world
from tests.integration import reliability as R

pytestmark = pytest.mark.integration

ACCOUNTS = ["LAB\\svc-backup", "LAB\\svc-veeam"]
STORE = "C:\\ClusterStorage\\Volume1\\Hyper-V\\Config Store"
BASELINE_VARS = {
    "hyperv_backup_readiness_vss_accounts": ACCOUNTS,
    "hyperv_backup_readiness_config_store_path": STORE,
    "hyperv_backup_readiness_scsi_running_vms": "restart",
    "hyperv_backup_readiness_scsi_max_restarts": 5,
    "hyperv_backup_readiness_report": False,
}
# The demo knows LAB\svc-veeam and LAB\hv-admins; LAB\svc-backup is added.
SVC_BACKUP_SID = "S-1-5-21-2915421087-3156798434-1849367124-1199"


def demo_model():
    """The demo cluster with both backup accounts resolvable and a foreign Deny ACE on the guest cluster's folder
    (what a careless rewrite of the ACL would lose or reorder)."""
    from hvsim.testing import model_path
    from hvsim.model import load_file

    data = load_file(model_path("demo"))
    data["accounts"] = {**(data.get("accounts") or {}), "LAB\\svc-backup": SVC_BACKUP_SID}
    for folder in (data.get("folders") or {}).values():
        folder["access"] = [{"sid": data["accounts"]["LAB\\hv-admins"], "rights": "Write",
                             "type": "Deny", "inheritance": "None", "propagation": "None", "inherited": False}] + \
            list(folder.get("access") or [])
    return data


def baseline(lab, workdir, *extra, vars=None):
    plays = [R.play([{"name": "baseline", "ansible.builtin.include_role": {"name": "hyperv.backup.backup_readiness"}}],
                    vars=R.unsafe({**BASELINE_VARS, **(vars or {})}))]
    return R.run_playbook(lab, workdir, plays, *extra)


def aces(folder):
    return [json.dumps(world.read_ace(a), sort_keys=True) for a in folder.get("access") or []]


def assert_nothing_lost(before, after):
    """No ACE lost or duplicated, no registry value lost, no VM that was running left stopped."""
    for path, folder in (before.get("folders") or {}).items():
        now = aces(after["folders"][path])
        assert len(now) == len(set(now)), f"{path}: an ACE is duplicated: {now}"
        old = [world.read_ace(a) for a in folder.get("access") or []]
        new = [world.read_ace(a) for a in after["folders"][path].get("access") or []]
        for ace in old:
            # kept as it was, or (an explicit Allow of a VM's account) upgraded in place to Full Control
            assert ace in new or any(a["sid"] == ace["sid"] and a["allow"] == ace["allow"] and not a["inherited"]
                                     and a["mask"] & ace["mask"] == ace["mask"] for a in new), \
                f"{path}: the ACE {ace} was lost: {new}"
    after_nodes = {n["name"]: n for n in after["nodes"]}
    for node in before["nodes"]:
        lost = set(node.get("vss_access_control") or {}) - set(after_nodes[node["name"]].get("vss_access_control") or {})
        assert not lost, f"{node['name']}: the VssAccessControl values {sorted(lost)} were lost"
    states = {vm["id"]: world.vm_state(vm) for vm in after["vms"]}
    stopped = [vm["name"] for vm in before["vms"] if world.vm_state(vm) == "Running" and states[vm["id"]] != "Running"]
    assert not stopped, f"running VMs left stopped: {stopped}"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The model a run without any fault leaves, and how many module runs that run takes."""
    workdir = tmp_path_factory.mktemp("reference")
    with R.LabRun(demo_model(), workdir) as lab:
        lab.clear_journal()
        rc, out = baseline(lab, workdir)
        assert rc == 0, out
        runs = len(lab.journal)
        converged = R.model_bytes(lab)
        rc, out = baseline(lab, workdir)
        assert rc == 0 and not any(r.get("changed") for r in R.host_results(out).values()), out
        assert R.model_bytes(lab) == converged
        return {"model": lab.read_model(), "runs": runs, "modules": [e["module"] for e in lab.journal]}


def recover(lab, workdir, before, reference):
    """The faults are cleared; the re-run succeeds and leaves exactly the model a run without faults leaves (which
    the reference showed a further run leaves alone)."""
    assert_nothing_lost(before, lab.read_model())
    lab.set_faults(latency_ms=0, fail_nth=0, drop_nth=0)
    with lab.model.transaction() as data:
        (data.get("faults") or {}).pop("fail_move", None)
        lab.model.mark_changed()
    rc, out = baseline(lab, workdir)
    assert rc == 0, out
    after = lab.read_model()
    assert_nothing_lost(before, after)
    assert R.model_diff(reference["model"], after) == {}, R.model_diff(reference["model"], after)


@pytest.mark.parametrize("knob, module", [
    ("drop_nth", "scsi_controller"),      # a VM was shut down, given its controller and started; the reply is lost
    ("drop_nth", "vss_access_control"),   # registry values were written; the reply is lost
    ("drop_nth", "vm_folder_access"),     # the ACL was written; the reply is lost
    ("drop_nth", "csv_placement"),        # VMs were moved; the reply is lost
    ("fail_nth", "backup_integration"),   # the service stops under the run: that host stops answering
])
def test_a_connection_lost_after_k_of_n_runs_leaves_nothing_worse_and_a_rerun_converges(tmp_path, reference, knob,
                                                                                       module):
    """k is the first run of ``module`` in the fault-free run (the tasks run in the same order on every host)."""
    k = reference["modules"].index(module) + 1
    with R.LabRun(demo_model(), tmp_path) as lab:
        before = lab.read_model()
        lab.set_faults(**{knob: k})
        lab.clear_journal()
        rc, out = baseline(lab, tmp_path)
        journal = [entry["module"] for entry in lab.journal]
        # the kth run the hosts received is that module's (with drop_nth it ran and its reply was lost; with
        # fail_nth the service stopped instead of running it)
        assert journal[k - 1] == module, journal
        assert rc != 0, f"{knob}={k} ({module}) failed no task"
        failed = {h: r for h, r in R.host_results(out).items() if r.get("failed") or r.get("unreachable")}
        assert failed, out
        recover(lab, tmp_path, before, reference)


def test_a_failing_live_migration_fails_that_vm_only_and_a_rerun_moves_it(tmp_path, reference):
    with R.LabRun(demo_model(), tmp_path) as lab:
        before = lab.read_model()
        with lab.model.transaction() as data:
            data.setdefault("faults", {})["fail_move"] = ["SQL02"]
            lab.model.mark_changed()
        rc, out = baseline(lab, tmp_path)
        assert rc != 0
        text = json.dumps(out)
        assert "SQL02" in text
        after = lab.read_model()
        # the others moved: only SQL02 is still away from its CSV's owner
        nodes = {vm["name"]: vm["node"] for vm in after["vms"]}
        assert nodes["SQL02"] == "HV02"
        assert nodes["EXCH02"] == "HV02" and nodes["FS02"] == "HV03"
        recover(lab, tmp_path, before, reference)


def test_hosts_that_stop_answering_in_time_mid_run_leave_nothing_worse_and_a_rerun_converges(tmp_path, reference):
    """Halfway through the run (counted in module runs) every reply becomes slower than the connection's read
    timeout: the module run under way, and every later one, times out on the controller (failed or unreachable)."""
    k = reference["runs"] // 2
    with R.LabRun(demo_model(), tmp_path) as lab:
        before = lab.read_model()
        lab.clear_journal()
        stop = threading.Event()

        def slow_down():
            while not stop.wait(0.05):
                if len(lab.journal) >= k:
                    lab.set_faults(latency_ms=2500)
                    return

        watcher = threading.Thread(target=slow_down, daemon=True)
        watcher.start()
        try:
            rc, out = baseline(lab, tmp_path, "-e", "ansible_winrm_operation_timeout_sec=1",
                               "-e", "ansible_winrm_read_timeout_sec=2")
        finally:
            stop.set()
            watcher.join()
        assert lab.read_model()["faults"]["latency_ms"] == 2500, "the run ended before the hosts slowed down"
        assert rc != 0
        results = R.host_results(out)
        assert any(r.get("unreachable") or r.get("failed") for r in results.values()), out
        before["faults"] = lab.read_model()["faults"]
        recover(lab, tmp_path, before, reference)
