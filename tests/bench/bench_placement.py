"""Benchmark of the CSV placement planner: wall time of placement_input and plan_placement, per strategy,
on synthetic clusters up to Hyper-V's maximums (64 nodes, 8,000 VMs) with 256 CSVs.

Run with `.venv/bin/python tests/bench/bench_placement.py [--sizes 8/500/32,64/8000/256] [--repeat 3]` (also
part of `make bench`). What was measured, and on what, is in tests/bench/README.md. Not a timed test: it
prints figures and asserts nothing about them.

The synthetic cluster (seeded, so every run plans the same cluster): nodes of 1.25 TiB, one of them
Paused and one draining when there are 16 or more; CSVs owned round-robin; 85 % of VMs Running (2 to 32
GiB, about 7.6 GiB on average, so nodes are about 63 % full), the rest Off, Saved or Paused; a share of
VMs (the drift: 5 % for a cluster kept aligned, 20 % for a first run) on a random node rather than their
CSV's owner, and on one CSV in 16 most VMs run on one other node (a volume that drifted); a tenth of VMs
with a data disk on a second CSV; 5 % in anti-affinity classes of 2 to 4 VMs; 5 % with 4 to 8 possible
owners; 3 % with preferred owners and failback; the CSV balancer and VM load balancing on.
"""
import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path[:0] = [os.path.join(ROOT, ".collections")]

from ansible_collections.hyperv.backup.plugins.plugin_utils._cluster_view import cluster_view  # noqa: E402
from ansible_collections.hyperv.backup.plugins.plugin_utils._csv_placement import (  # noqa: E402
    placement_input, plan_placement)

GIB = 2 ** 30
SIZES = "8/500/32,16/1000/64,32/4000/128,64/8000/256"
STRATEGIES = ("migrate_vms", "move_csvs", "auto")
# (name, drift, memory_headroom)
SCENARIOS = (("kept aligned, headroom 10%", 0.05, "10%"), ("first run, headroom 10%", 0.2, "10%"),
             ("kept aligned, no headroom", 0.05, None), ("first run, no headroom", 0.2, None))


def synthetic_facts(nodes, vms, csvs, drift=0.2, capacity=1280 * GIB, seed=9):
    """host_facts of every node of a synthetic cluster (docs/windows-contract.md's shape, with the keys
    placement reads)."""
    rng = random.Random(seed)
    names = [f"HV{i + 1:02d}" for i in range(nodes)]
    volumes = [{"Name": f"Cluster Disk {i + 1}", "OwnerNode": names[i % nodes], "State": "Online",
                "Path": f"C:\\ClusterStorage\\Volume{i + 1}"} for i in range(csvs)]
    drifted = {i: rng.choice([n for n in names if n != volumes[i]["OwnerNode"]]) for i in range(0, csvs, 16)}
    members = [{"Name": n, "State": "Up", "Id": str(i + 1), "DrainStatus": "NotInitiated"} for i, n in enumerate(names)]
    if nodes >= 16:
        members[3]["State"], members[3]["DrainStatus"] = "Paused", "Completed"
        members[7]["DrainStatus"] = "InProgress"
    per_node = {n: [] for n in names}
    roles = []
    classes = []
    for i in range(vms):
        home = rng.randrange(csvs)
        owner = volumes[home]["OwnerNode"]
        if home in drifted and rng.random() < 0.7:
            where = drifted[home]
        elif rng.random() < drift:
            where = rng.choice(names)
        else:
            where = owner
        state = rng.choices(["Running", "Off", "Saved", "Paused"], [85, 10, 3, 2])[0]
        memory = rng.choices([2, 4, 8, 16, 32], [20, 30, 30, 15, 5])[0] * GIB
        name = f"VM{i:05d}"
        vm_id = str(uuid.UUID(int=rng.getrandbits(128)))
        path = f"{volumes[home]['Path']}\\{name}"
        disks = [{"Path": f"{path}\\os.vhdx", "FileSize": rng.randint(20, 120) * GIB}]
        if rng.random() < 0.1:
            other = volumes[rng.randrange(csvs)]["Path"]
            disks.append({"Path": f"{other}\\{name}\\data.vhdx", "FileSize": rng.randint(10, 200) * GIB})
        anti = []
        if rng.random() < 0.05:
            if not classes or len(classes[-1][1]) >= classes[-1][0]:
                classes.append((rng.randint(2, 4), []))
            classes[-1][1].append(name)
            anti = [f"class-{len(classes)}"]
        role = {"Name": name, "VMId": vm_id, "OwnerNode": where, "State": "Online" if state == "Running" else "Offline",
                "AntiAffinityClassNames": anti, "AutoFailbackType": 0,
                "PossibleOwners": sorted(rng.sample(names, rng.randint(4, 8))) if nodes > 8 and rng.random() < 0.05 else [],
                "PreferredOwners": []}
        if role["PossibleOwners"] and where not in role["PossibleOwners"]:
            role["PossibleOwners"].append(where)
        if rng.random() < 0.03:
            role["PreferredOwners"], role["AutoFailbackType"] = rng.sample(names, 2), 1
        roles.append(role)
        per_node[where].append({
            "Id": vm_id, "Name": name, "State": state, "MemoryStartup": memory,
            "MemoryAssigned": memory if state in ("Running", "Paused") else 0, "Path": path, "IsClustered": True,
            "AntiAffinityClassNames": anti, "HardDisks": disks,
        })
    cluster = {"Name": "HVC01", "Nodes": members, "SharedVolumes": volumes, "VMRoles": roles,
               "Parameters": {"ConfigStoreRootPath": ""}, "CsvBalancer": 1, "AutoBalancerMode": 2,
               "AutoBalancerLevel": 1}
    return [{"schema": 1, "gather_subset": ["cluster", "vms"],
             "node": {"Name": n, "MemoryCapacity": capacity}, "cluster": cluster, "vms": per_node[n]} for n in names]


def timed(function, repeat):
    """(median seconds, result of the last run)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def bench_size(nodes, vms, csvs, drift, headroom, repeat):
    facts = synthetic_facts(nodes, vms, csvs, drift=drift)
    view_seconds, view = timed(lambda: cluster_view(facts), 1)
    input_seconds, problem = timed(lambda: placement_input(view), repeat)
    row = {"nodes": nodes, "vms": vms, "csvs": csvs, "drift": drift, "memory_headroom": headroom,
           "cluster_view_s": round(view_seconds, 4), "placement_input_s": round(input_seconds, 4), "strategies": {}}
    for strategy in STRATEGIES:
        options = {"strategy": strategy, "memory_headroom": headroom}
        seconds, plan = timed(lambda: plan_placement(problem, options), repeat)
        summary = plan["summary"]
        row["strategies"][strategy] = {
            "seconds": round(seconds, 4), "optimal": plan["optimal"], "moves": summary["moves"],
            "csv_moves": sum(1 for m in plan["moves"] if m["kind"] == "csv"),
            "cost_gib": round(plan["cost"] / GIB), "aligned_before": summary["aligned_before"],
            "aligned_after": summary["aligned_after"], "on_csv": summary["on_csv"],
            "unaligned": summary["unaligned"], "left_alone": summary["left_alone"], "search": plan["search"],
        }
    return row


def run(sizes=SIZES, repeat=3, scenarios=SCENARIOS):
    rows = []
    for name, drift, headroom in scenarios:
        print(f"{name} (drift {drift:.0%}):")
        for size in sizes.split(","):
            nodes, vms, csvs = (int(x) for x in size.split("/"))
            row = bench_size(nodes, vms, csvs, drift, headroom, repeat)
            row["scenario"] = name
            rows.append(row)
            parts = []
            for strategy, figures in row["strategies"].items():
                parts.append(f"{strategy} {figures['seconds'] * 1000:.0f} ms {figures['aligned_after']}/{figures['on_csv']} "
                             f"aligned, {figures['moves']} moves ({figures['csv_moves']} CSV), {figures['cost_gib']} GiB"
                             f"{'' if figures['optimal'] else ', not proven optimal'}")
            print(f"  {nodes}/{vms}/{csvs}: cluster_view {row['cluster_view_s'] * 1000:.0f} ms, placement_input "
                  f"{row['placement_input_s'] * 1000:.0f} ms; " + "; ".join(parts))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default=SIZES, help="nodes/VMs/CSVs, comma-separated")
    parser.add_argument("--scenario", action="append", choices=[s[0] for s in SCENARIOS],
                        help="run only this scenario (repeatable)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (the median is kept)")
    parser.add_argument("--out", default=None, help="write the figures as JSON to this file")
    args = parser.parse_args()
    scenarios = [s for s in SCENARIOS if not args.scenario or s[0] in args.scenario]
    rows = run(args.sizes, args.repeat, scenarios)
    if args.out:
        meta = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()}
        with open(args.out, "w") as handle:
            json.dump({"meta": meta, "rows": rows}, handle, indent=2)
        print(f"written {args.out}")


if __name__ == "__main__":
    main()
