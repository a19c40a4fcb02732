"""Benchmarks: round trips and wall time per host against hvsim, planner time and memory on the controller,
the whole baseline against hvsim and against one task per VM per setting (bench_baseline.py), and the CSV
placement planner up to 64 nodes / 8,000 VMs / 256 CSVs (bench_placement.py).

Run with `make bench` (or `.venv/bin/python tests/bench/run.py [--sizes 10,100,1000] [--baseline-... sizes]`).
The defaults of the baseline parts are small; `make bench-full` runs every size. Prints a table and writes
tests/bench/results.json. What was measured, and on what, is in tests/bench/README.md.
"""
import argparse
import json
import os
import sys
import tempfile
import time
import tracemalloc
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path[:0] = [os.path.join(ROOT, ".collections"), os.path.join(ROOT, "tools")]

from hvsim.testing import Lab, host_results, run_ansible  # noqa: E402

import bench_baseline  # noqa: E402  (beside this file)
import bench_placement  # noqa: E402  (beside this file)

from ansible_collections.hyperv.backup.plugins.plugin_utils._cluster_view import cluster_view  # noqa: E402
from ansible_collections.hyperv.backup.plugins.plugin_utils._readiness import assess  # noqa: E402

NODES = ("HV01", "HV02", "HV03")


def synthetic_model(vms_per_node):
    """A 3-node cluster with ``vms_per_node`` VMs on each node, a third of them drifting."""
    volumes = [{"name": f"Cluster Disk {i}", "path": f"C:\\ClusterStorage\\Volume{i}", "owner_node": NODES[i - 1],
                "state": "Online"} for i in (1, 2, 3)]
    vms = []
    for n, node in enumerate(NODES):
        for i in range(vms_per_node):
            name = f"{node}-VM{i:04d}"
            volume = volumes[(n + i) % 3]["path"]
            vms.append({
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, name)), "name": name, "node": node,
                "state": "Running" if i % 4 else "Off", "generation": 2, "version": "10.0",
                "processor_count": 2, "memory_startup": 4 << 30, "dynamic_memory": False,
                "checkpoint_type": "Standard" if i % 3 == 0 else "Production", "automatic_checkpoints": False,
                "path": f"{volume}\\{name}", "clustered": True, "anti_affinity_class_names": [],
                "scsi_controllers": 0 if i % 7 == 0 else 1,
                "hard_disks": [{"path": f"{volume}\\{name}\\os.vhdx", "controller_type": "SCSI" if i % 7 else "IDE",
                                "controller_number": 0, "controller_location": 0, "shared": False}],
                "backup_integration": {"enabled": True, "status": "OK"}, "checkpoints": [],
                "guest": {"shutdown_seconds": 20, "honours_shutdown": True},
            })
    # The last three nights' backups failed for every VM without a SCSI controller (VMMS 10103): the events
    # subset reads them, capped at 200 per log, and the readiness filter matches them to the findings.
    events = {node: [{"log": "Microsoft-Windows-Hyper-V-VMMS-Admin", "id": 10103, "vm_id": vm["id"],
                      "time": f"2026-11-{night}T02:00:00Z", "message": f"'{vm['name']}' cannot be hot backed up"}
                     for vm in vms if vm["node"] == node and not vm["scsi_controllers"] for night in (17, 18, 19)]
              for node in NODES}
    return {
        "credentials": {"username": "hvadmin", "password": "hvsim-Passw0rd"},
        "clock": "2026-11-20T06:00:00Z",
        "cluster": {"name": "HVC01", "parameters": {"ConfigStoreRootPath": ""}, "shared_volumes": volumes},
        "nodes": [{"name": node, "fqdn": f"{node.lower()}.lab.example", "state": "Up", "os_build": 20348,
                   "vss_access_control": {}, "vss_writers": [], "events": events[node]} for node in NODES],
        "vms": vms,
        "folders": {},
        "accounts": {},
        "faults": {"latency_ms": 0, "fail_nth": 0, "drop_nth": 0},
    }


def start_lab(size, workdir, name):
    """A lab on the synthetic model, kept as JSON: hvsim saves the model after every change, and YAML
    would make the simulator's own bookkeeping, not the collection, the bulk of what is measured."""
    source = os.path.join(workdir, f"{name}-{size}.json")
    with open(source, "w") as handle:
        json.dump(synthetic_model(size), handle)
    return Lab.start(source, os.path.join(workdir, f"{name}-{size}"))


def runs_per_host(lab):
    """The most module runs any one host served since the journal was cleared."""
    per_node = {}
    for (node, _module), count in lab.round_trips().items():
        per_node[node] = per_node.get(node, 0) + count
    return max(per_node.values())


def bench_host_facts(size, workdir):
    lab = start_lab(size, workdir, "facts")
    try:
        run_ansible(lab, "hv", "-m", "hyperv.backup.host_facts", "-a", "gather_subset=min")  # warm up
        lab.clear_journal()
        start = time.perf_counter()
        rc, out = run_ansible(lab, "hv", "-m", "hyperv.backup.host_facts")
        seconds = time.perf_counter() - start
        assert rc == 0, out
        results = host_results(out)
        facts = [r["ansible_facts"]["hyperv_backup"] for r in results.values()]
        return {"vms_per_node": size, "seconds": round(seconds, 3),
                "module_runs_per_host": runs_per_host(lab), "vms_reported": sum(len(f["vms"]) for f in facts),
                "facts": facts}
    finally:
        lab.stop()


def bench_checkpoint_type(size, workdir):
    """Converge every VM to Production, then run again: module runs per host and wall time of each run."""
    lab = start_lab(size, workdir, "ckpt")
    try:
        runs = []
        for label in ("converge", "rerun"):
            lab.clear_journal()
            start = time.perf_counter()
            rc, out = run_ansible(lab, "hv", "-m", "hyperv.backup.checkpoint_type", "-a", "checkpoint_type=Production")
            seconds = time.perf_counter() - start
            assert rc == 0, out
            changed = sum(r["counts"]["changed"] for r in host_results(out).values())
            runs.append({"run": label, "seconds": round(seconds, 3), "vms_changed": changed,
                         "module_runs_per_host": runs_per_host(lab)})
        return runs
    finally:
        lab.stop()


def bench_controller(facts):
    tracemalloc.start()
    start = time.perf_counter()
    view = cluster_view(facts)
    findings = assess(view)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"vms": len(view["vms"]), "findings": len(findings), "seconds": round(seconds, 4),
            "peak_mib": round(peak / 2 ** 20, 2)}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10,100,1000", help="VMs per node, comma-separated")
    parser.add_argument("--placement-sizes", default=bench_placement.SIZES,
                        help="CSV placement planner: nodes/VMs/CSVs, comma-separated ('' skips it)")
    parser.add_argument("--baseline-round-trips", default="10",
                        help="the whole baseline: VMs per node of a 3-node cluster, comma-separated ('' skips it)")
    parser.add_argument("--baseline-compare", default="30",
                        help="the baseline against one task per VM per setting: VMs, comma-separated ('' skips it)")
    parser.add_argument("--baseline-cluster", default="", help="the whole baseline on nodes/VMs, e.g. 16/1000")
    parser.add_argument("--forks", type=int, default=16, help="forks of the --baseline-cluster runs")
    parser.add_argument("--module-run-ms", default="0",
                        help="hvsim's faults.module_run_ms for the baseline parts, comma-separated (e.g. 0,1000)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results.json"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for size in (int(s) for s in args.sizes.split(",") if s.strip()):
            facts_run = bench_host_facts(size, workdir)
            controller = bench_controller(facts_run.pop("facts"))
            converge, rerun = bench_checkpoint_type(size, workdir)
            rows.append({"host_facts": facts_run, "controller": controller, "checkpoint_type": [converge, rerun]})
            print(f"{size:>5} VMs/node: host_facts on 3 nodes {facts_run['seconds']:.2f} s, "
                  f"{facts_run['module_runs_per_host']} module run per host, {facts_run['vms_reported']} VMs; "
                  f"cluster_view+readiness {controller['seconds'] * 1000:.1f} ms, peak {controller['peak_mib']} MiB, "
                  f"{controller['findings']} findings; checkpoint_type converge {converge['seconds']:.2f} s "
                  f"({converge['vms_changed']} VMs, {converge['module_runs_per_host']} module runs per host), "
                  f"rerun {rerun['seconds']:.2f} s ({rerun['vms_changed']} VMs, {rerun['module_runs_per_host']} per host)")
    baseline = bench_baseline.run(args.baseline_round_trips, args.baseline_compare, args.baseline_cluster,
                                  args.module_run_ms, args.forks)
    placement = bench_placement.run(args.placement_sizes) if args.placement_sizes else []
    with open(args.out, "w") as handle:
        json.dump({"meta": bench_baseline.meta(), "rows": rows, "baseline": baseline, "placement": placement},
                  handle, indent=2)
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
