"""The baseline benchmark (tests/bench/bench_baseline.py) still runs, at a tiny size, and what it counts holds:
one module run per host for a run that changes nothing, the per-VM playbook one per VM per setting."""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))

import bench_baseline  # noqa: E402  (tests/bench)

pytestmark = pytest.mark.integration


def test_the_whole_baseline_makes_one_module_run_per_host_when_nothing_changes(tmp_path):
    row = bench_baseline.bench_round_trips(10, 0, str(tmp_path))
    converge, no_change, audit = row["converge"], row["no_change"], row["audit"]
    assert converge["changed_tasks"] > 0
    # one gather per host, at most one apply per part and host, the config store once; CSV placement sends one
    # module run per batch of moves (hyperv_backup_readiness_csv_parallel, 1: one VM of each node moves)
    runs = dict(converge["runs_by_module"])
    assert runs.pop("host_facts") == 3 and runs.pop("cluster_config_store") == 1 and runs.pop("csv_placement") == 3
    assert runs == {"checkpoint_type": 3, "scsi_controller": 3, "backup_integration": 3, "vss_access_control": 3}
    for run in (no_change, audit):
        assert run["runs_by_module"] == {"host_facts": 3}
        assert run["runs_per_host_min"] == run["runs_per_host_max"] == 1


def test_the_per_vm_playbook_makes_the_same_settings_one_vm_at_a_time(tmp_path):
    row = bench_baseline.bench_compare(6, 0, str(tmp_path))   # raises if the two sides end in different states
    role, per_vm = row["role"], row["per_vm"]
    assert role["no_change"]["runs_by_module"] == {"host_facts": 3}
    assert per_vm["no_change"]["runs_by_module"] == {"host_facts": per_vm["tasks"]} and per_vm["tasks"] == 3 * 6 + 3
    assert per_vm["converge"]["module_runs"] > per_vm["tasks"]   # a read per item, and a write where it changed
    assert row["ratios"]["no_change"]["module_runs"] == round(per_vm["tasks"] / 3, 1)


def test_the_memory_sampler_sees_the_whole_process_tree():
    child = "import subprocess, sys, time; x = bytearray(48 << 20); subprocess.run([sys.executable, '-c', " \
            "'import time; y = bytearray(48 << 20); time.sleep(1.5)'])"
    proc = subprocess.Popen([sys.executable, "-c", child])
    sampler = bench_baseline.TreeMemory(proc.pid, interval=0.05)
    sampler.start()
    proc.wait()
    sampler.done.set()
    sampler.join()
    figures = sampler.figures()
    assert figures["peak_processes"] == 2
    assert figures["peak_pss_mib"] >= 96 and figures["peak_rss_sum_mib"] >= figures["peak_pss_mib"]
    assert 48 <= figures["peak_single_rss_mib"] < figures["peak_rss_sum_mib"]
