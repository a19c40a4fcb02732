"""Benchmark of the whole backup baseline against hvsim: module runs (round trips) per host, wall time and the
controller's peak memory, with the hosts' own cost of a module run (hvsim's ``faults.module_run_ms``).

Three parts, each with its sizes (tests/bench/README.md gives the method and the figures):

- ``--round-trips 10,100,1000``: VMs per node of a 3-node cluster. ``playbooks/backup_readiness.yml`` converges
  (every part: checkpoint policy, SCSI, Backup integration, VssAccessControl, VHD Sets, ConfigStoreRootPath,
  CSV placement, the report), runs again (nothing to change) and ``playbooks/audit.yml --check`` runs: the
  module runs each host served, from hvsim's journal. They do not grow with the VM count.
- ``--compare 30,300,1000``: VMs of a 3-node cluster. The same settings (checkpoint type and automatic
  checkpoints, SCSI controller, Backup integration service, VssAccessControl) made by the role and by
  ``tests/bench/per_vm_baseline.yml`` (one task per VM per setting), against two labs of the same model with
  the same costs: converge, then a run that changes nothing. Wall time and module runs, and their ratios.
- ``--cluster 16/1000``: nodes/VMs; the whole baseline with ``forks`` (default 16) on that cluster, the
  converge then the run that changes nothing: wall time, module runs per host and the peak memory of the
  ansible-playbook process tree (sampled from /proc).

``--module-run-ms 0,1000`` repeats each part at each host cost. Run with
``.venv/bin/python tests/bench/bench_baseline.py [options]`` or ``make bench-baseline BENCH_ARGS='...'``; the
defaults are small (``make bench`` runs them). Not a timed test: it prints figures and writes JSON; the one
thing it checks is that each run succeeded and the run after a converge changed nothing.
"""
import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path[:0] = [os.path.join(ROOT, ".collections"), os.path.join(ROOT, "tools")]

from hvsim.testing import Lab, ansible_env  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BASELINE = os.path.join(ROOT, "playbooks", "backup_readiness.yml")
AUDIT = os.path.join(ROOT, "playbooks", "audit.yml")
PER_VM = os.path.join(HERE, "per_vm_baseline.yml")
ACCOUNTS = ["LAB\\svc-backup"]
CONFIG_STORE = "C:\\ClusterStorage\\Volume1\\ConfigStore"
GIB = 2 ** 30
# The role with the parts the per-VM playbook makes too (the comparison), and the whole role.
ROLE_SAME_SETTINGS = {"hyperv_backup_readiness_vss_accounts": ACCOUNTS,
                      "hyperv_backup_readiness_vhds_permissions": False,
                      "hyperv_backup_readiness_config_store": False,
                      "hyperv_backup_readiness_csv_affinity": False,
                      "hyperv_backup_readiness_report": False}
ROLE_WHOLE = {"hyperv_backup_readiness_vss_accounts": ACCOUNTS,
              "hyperv_backup_readiness_config_store_path": CONFIG_STORE}
RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def node_names(count):
    return [f"HV{i + 1:02d}" for i in range(count)]


def spread(total, nodes):
    """``total`` VMs over ``nodes`` nodes: the first ``total % nodes`` get one more."""
    return [total // nodes + (1 if i < total % nodes else 0) for i in range(nodes)]


def cluster_model(per_node, drift_every=10):
    """A failover cluster with ``per_node[i]`` VMs on node i and one CSV owned by each node.

    Every VM lives on its node's CSV but one in ``drift_every``, which lives on the next node's (CSV placement
    moves it). What the baseline changes: a third of the VMs have Standard checkpoints, a fifth automatic
    checkpoints, a sixth the Backup integration service off; one in seven has no SCSI controller (added to
    those that are Off, a quarter; pending for the others); no node lists the backup account under
    VssAccessControl; ConfigStoreRootPath is empty.
    """
    names = node_names(len(per_node))
    volumes = [{"name": f"Cluster Disk {i + 1}", "path": f"C:\\ClusterStorage\\Volume{i + 1}", "owner_node": node,
                "state": "Online"} for i, node in enumerate(names)]
    vms = []
    for n, node in enumerate(names):
        for i in range(per_node[n]):
            name = f"{node}-VM{i:04d}"
            volume = volumes[(n + 1) % len(names) if i % drift_every == drift_every - 1 else n]["path"]
            vms.append({
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, name)), "name": name, "node": node,
                "state": "Off" if i % 4 == 0 else "Running", "generation": 2, "version": "10.0",
                "processor_count": 2, "memory_startup": 2 * GIB, "dynamic_memory": False,
                "checkpoint_type": "Standard" if i % 3 == 0 else "Production", "automatic_checkpoints": i % 5 == 0,
                "path": f"{volume}\\{name}", "clustered": True, "anti_affinity_class_names": [],
                "scsi_controllers": 0 if i % 7 == 0 else 1,
                "hard_disks": [{"path": f"{volume}\\{name}\\os.vhdx", "controller_type": "IDE" if i % 7 == 0 else "SCSI",
                                "controller_number": 0, "controller_location": 0, "shared": False}],
                "backup_integration": {"enabled": i % 6 != 0, "status": "OK"}, "checkpoints": [],
                "guest": {"shutdown_seconds": 20, "honours_shutdown": True},
            })
    capacity = max(256 * GIB, 4 * 2 * GIB * max(per_node))  # room for the VMs CSV placement brings
    return {
        "credentials": {"username": "hvadmin", "password": "hvsim-Passw0rd"},
        "clock": "2026-11-20T06:00:00Z",
        "cluster": {"name": "HVC01", "parameters": {"ConfigStoreRootPath": ""}, "shared_volumes": volumes},
        "nodes": [{"name": node, "fqdn": f"{node.lower()}.lab.example", "state": "Up", "os_build": 20348,
                   "memory_capacity": capacity, "vss_access_control": {},
                   "vss_writers": [{"name": "Microsoft Hyper-V VSS Writer",
                                    "id": "{66841cd4-6ded-4f4b-8f17-fd23f8ddc3de}",
                                    "instance_id": str(uuid.uuid5(uuid.NAMESPACE_URL, node)), "state": 1,
                                    "last_error": "No error"}], "events": []} for node in names],
        "vms": vms,
        "folders": {},
        "accounts": {ACCOUNTS[0]: "S-1-5-21-1004336348-1177238915-682003330-1105"},
        "faults": {"latency_ms": 0, "module_run_ms": 0, "fail_nth": 0, "drop_nth": 0},
    }


def start_lab(model, workdir, name, module_run_ms=0):
    """A lab on ``model``, kept as JSON (hvsim saves the model after every change; YAML would make the
    simulator's own bookkeeping the bulk of what is measured)."""
    os.makedirs(workdir, exist_ok=True)
    source = os.path.join(workdir, f"{name}.json")
    with open(source, "w") as handle:
        json.dump(model, handle)
    lab = Lab.start(source, os.path.join(workdir, name))
    lab.set_faults(module_run_ms=module_run_ms)
    return lab


# -- the controller's process tree ----------------------------------------------------------------------------
def _children_map():
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def _tree(pid):
    children = _children_map()
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _memory_kib(pid, field):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class TreeMemory(threading.Thread):
    """Samples the process tree of ``pid`` every ``interval`` s: the peak of the sum of its processes' PSS
    (each shared page counted once over the processes that share it, so forked workers are not counted
    twice), of the sum of their RSS (shared pages counted in every process: an upper bound), of the largest
    single process's RSS, and the most processes at once."""

    def __init__(self, pid, interval=0.1):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_pss = self.peak_rss = self.peak_single = self.peak_processes = 0
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            pids = _tree(self.pid)
            rss = [_memory_kib(p, "Rss") for p in pids]
            self.peak_rss = max(self.peak_rss, sum(rss))
            self.peak_single = max(self.peak_single, max(rss or [0]))
            self.peak_pss = max(self.peak_pss, sum(_memory_kib(p, "Pss") for p in pids))
            self.peak_processes = max(self.peak_processes, len(pids))
            self.done.wait(self.interval)

    def figures(self):
        return {"peak_pss_mib": round(self.peak_pss / 1024, 1), "peak_rss_sum_mib": round(self.peak_rss / 1024, 1),
                "peak_single_rss_mib": round(self.peak_single / 1024, 1), "peak_processes": self.peak_processes}


def run_playbook(lab, playbook, extra_vars=None, check=False, forks=None, memory=False, timeout=7200):
    """Run ``playbook`` against ``lab`` with the default callback: ``{seconds, rc, changed, failed, module
    runs...}``; raises when it fails (with the end of its output)."""
    cmd = [os.path.join(os.path.dirname(os.path.abspath(sys.executable)), "ansible-playbook"), "-i", lab.inventory,
           playbook]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if check:
        cmd.append("--check")
    if forks:
        cmd += ["--forks", str(forks)]
    env = ansible_env(json_output=False, extra={"ANSIBLE_STDOUT_CALLBACK": "default"})
    lab.clear_journal()
    with tempfile.TemporaryFile(mode="w+") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        sampler = TreeMemory(proc.pid) if memory else None
        if sampler:
            sampler.start()
        try:
            rc = proc.wait(timeout=timeout)
        finally:
            if sampler:
                sampler.done.set()
                sampler.join()
        seconds = time.perf_counter() - start
        log.seek(0)
        output = log.read()
    recap = {host: {"ok": int(ok), "changed": int(changed), "unreachable": int(unreachable), "failed": int(failed)}
             for host, ok, changed, unreachable, failed in RECAP.findall(output)}
    if rc != 0 or not recap or any(r["failed"] or r["unreachable"] for r in recap.values()):
        raise RuntimeError(f"{os.path.basename(playbook)} failed (rc {rc}):\n{output[-6000:]}")
    result = {"seconds": round(seconds, 2), "changed_tasks": sum(r["changed"] for r in recap.values())}
    result.update(module_runs(lab))
    if sampler:
        result.update(sampler.figures())
    return result


def module_runs(lab):
    """From hvsim's journal: module runs in all, per host (most and fewest) and per module."""
    per_host, per_module = {}, {}
    for entry in lab.journal:
        per_host[entry["node"]] = per_host.get(entry["node"], 0) + 1
        per_module[entry["module"]] = per_module.get(entry["module"], 0) + 1
    hosts = [per_host.get(node, 0) for node in lab.nodes]
    return {"module_runs": sum(hosts), "runs_per_host_max": max(hosts), "runs_per_host_min": min(hosts),
            "runs_by_module": dict(sorted(per_module.items()))}


def load():
    """The load average now (the machine is shared: figures are noisy when it is high)."""
    return round(os.getloadavg()[0], 2)


# -- the three parts --------------------------------------------------------------------------------------------
def bench_round_trips(vms_per_node, module_run_ms, workdir):
    lab = start_lab(cluster_model([vms_per_node] * 3), workdir, f"rt-{vms_per_node}-{module_run_ms}", module_run_ms)
    try:
        runs = {"load": load()}
        runs["converge"] = run_playbook(lab, BASELINE, ROLE_WHOLE)
        runs["no_change"] = run_playbook(lab, BASELINE, ROLE_WHOLE)
        runs["audit"] = run_playbook(lab, AUDIT, {**ROLE_WHOLE, "hv_fail_on": "none"}, check=True)
        if runs["no_change"]["changed_tasks"]:
            raise RuntimeError(f"the run after the converge changed {runs['no_change']['changed_tasks']} task(s)")
        return {"vms_per_node": vms_per_node, "module_run_ms": module_run_ms, **runs}
    finally:
        lab.stop()


def bench_compare(total_vms, module_run_ms, workdir):
    """The role and the per-VM playbook on two labs of the same model, with the same costs; each side
    converges and then runs again. The runs alternate between the sides, so that the machine's load falls
    on both alike."""
    per_node = spread(total_vms, 3)
    model = cluster_model(per_node)
    vms = {node: [vm["name"] for vm in model["vms"] if vm["node"] == node] for node in node_names(3)}
    labs = {side: start_lab(model, workdir, f"cmp-{total_vms}-{module_run_ms}-{side}", module_run_ms)
            for side in ("role", "per_vm")}
    sides = {"role": (BASELINE, ROLE_SAME_SETTINGS),
             "per_vm": (PER_VM, {"hv_bench_vms": vms, "hv_bench_accounts": ACCOUNTS})}
    try:
        row = {"vms": total_vms, "module_run_ms": module_run_ms, "load": load(), "role": {}, "per_vm": {}}
        for run in ("converge", "no_change"):
            for side, (playbook, extra) in sides.items():
                row[side][run] = run_playbook(labs[side], playbook, extra)
                if run == "no_change" and row[side][run]["changed_tasks"]:
                    raise RuntimeError(f"{side}: the run after the converge changed something")
        if labs["role"].read_model()["vms"] != labs["per_vm"].read_model()["vms"]:
            raise RuntimeError("the role and the per-VM playbook left the VMs in different states")
        row["load_after"] = load()
        # What a generic module that reads and writes in one run would cost: one run per loop item.
        row["per_vm"]["tasks"] = 3 * total_vms + 3 * len(ACCOUNTS)
        row["ratios"] = {run: {"seconds": round(row["per_vm"][run]["seconds"] / row["role"][run]["seconds"], 1),
                               "module_runs": round(row["per_vm"][run]["module_runs"] / row["role"][run]["module_runs"], 1)}
                         for run in ("converge", "no_change")}
        return row
    finally:
        for lab in labs.values():
            lab.stop()


def bench_cluster(nodes, total_vms, forks, module_run_ms, workdir):
    lab = start_lab(cluster_model(spread(total_vms, nodes)), workdir, f"cl-{nodes}-{total_vms}-{module_run_ms}",
                    module_run_ms)
    try:
        row = {"nodes": nodes, "vms": total_vms, "forks": forks, "module_run_ms": module_run_ms, "load": load()}
        row["converge"] = run_playbook(lab, BASELINE, ROLE_WHOLE, forks=forks, memory=True)
        row["no_change"] = run_playbook(lab, BASELINE, ROLE_WHOLE, forks=forks, memory=True)
        if row["no_change"]["changed_tasks"]:
            raise RuntimeError("the run after the converge changed something")
        row["load_after"] = load()
        return row
    finally:
        lab.stop()


def _ints(text):
    return [int(s) for s in text.split(",") if s.strip()]


def run(round_trips="10", compare="30", cluster="", module_run_ms="0", forks=16, echo=print):
    """Every part at the sizes given ('' skips a part); returns the figures."""
    results = {"round_trips": [], "compare": [], "cluster": []}
    with tempfile.TemporaryDirectory() as workdir:
        for cost in _ints(module_run_ms):
            for size in _ints(round_trips):
                row = bench_round_trips(size, cost, workdir)
                results["round_trips"].append(row)
                echo(f"baseline, 3 nodes x {size} VMs, module_run_ms {cost} (load {row['load']}): " + "; ".join(
                    f"{run} {row[run]['seconds']:.1f} s, {row[run]['runs_per_host_min']}-{row[run]['runs_per_host_max']} "
                    f"module runs per host, {row[run]['changed_tasks']} changed" for run in ("converge", "no_change", "audit")))
            for size in _ints(compare):
                row = bench_compare(size, cost, workdir)
                results["compare"].append(row)
                echo(f"role vs per-VM, {size} VMs, module_run_ms {cost} (load {row['load']}-{row['load_after']}): " + "; ".join(
                    f"{run} {row['role'][run]['seconds']:.1f} s / {row['role'][run]['module_runs']} runs vs "
                    f"{row['per_vm'][run]['seconds']:.1f} s / {row['per_vm'][run]['module_runs']} runs "
                    f"(x{row['ratios'][run]['seconds']} time, x{row['ratios'][run]['module_runs']} runs)"
                    for run in ("converge", "no_change")))
            if cluster:
                nodes, total = (int(x) for x in cluster.split("/"))
                row = bench_cluster(nodes, total, forks, cost, workdir)
                results["cluster"].append(row)
                echo(f"baseline, {nodes} nodes, {total} VMs, forks {forks}, module_run_ms {cost} "
                     f"(load {row['load']}-{row['load_after']}): " + "; ".join(
                         f"{run} {row[run]['seconds']:.1f} s, {row[run]['runs_per_host_max']} module runs per host at most, "
                         f"peak PSS {row[run]['peak_pss_mib']} MiB (RSS sum {row[run]['peak_rss_sum_mib']}, largest "
                         f"process {row[run]['peak_single_rss_mib']}, {row[run]['peak_processes']} processes)"
                         for run in ("converge", "no_change")))
    return results


def meta():
    import ansible

    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "python": platform.python_version(),
            "ansible_core": ansible.__version__, "machine": platform.machine(), "cpus": os.cpu_count()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--round-trips", default="10", help="VMs per node, comma-separated ('' skips)")
    parser.add_argument("--compare", default="30", help="VMs of the cluster, comma-separated ('' skips)")
    parser.add_argument("--cluster", default="", help="nodes/VMs, e.g. 16/1000 ('' skips, the default)")
    parser.add_argument("--forks", type=int, default=16, help="forks of the --cluster runs")
    parser.add_argument("--module-run-ms", default="0", help="hvsim's faults.module_run_ms, comma-separated")
    parser.add_argument("--out", default=os.path.join(HERE, "results-baseline.json"))
    args = parser.parse_args()
    results = run(args.round_trips, args.compare, args.cluster, args.module_run_ms, args.forks)
    with open(args.out, "w") as handle:
        json.dump({"meta": meta(), **results}, handle, indent=2)
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
