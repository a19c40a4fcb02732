"""faults.module_run_ms: the host's own cost of one module run, paid once per run, by each node in parallel."""
import threading
import time

import pytest
from winrm.exceptions import WSManFaultError

from hvsim import wsman
from hvsim.testing import call_module


@pytest.fixture
def sleeps(monkeypatch):
    """Every sleep hvsim's endpoint takes: ``[(thread name, seconds, start, end)]`` (it still sleeps)."""
    taken = []
    real_sleep = time.sleep

    def recording_sleep(seconds):
        start = time.monotonic()
        real_sleep(seconds)
        taken.append((threading.current_thread().name, seconds, start, time.monotonic()))

    monkeypatch.setattr(wsman.time, "sleep", recording_sleep)
    return taken


def test_the_cost_is_paid_once_per_module_run_not_per_reply(protocol, lab, sleeps):
    lab.set_faults(module_run_ms=300)
    p = protocol()
    p.close_shell(p.open_shell())  # a shell without a module run costs nothing
    assert sleeps == []
    start = time.monotonic()
    rc, result, _ = call_module(p, "echo", {"text": "a"})
    assert rc == 0 and result["text"] == "a"
    assert time.monotonic() - start >= 0.3
    assert [s[1] for s in sleeps] == [0.3]  # one run: create, command, send, receive, signal, delete; one cost
    assert len(lab.journal) == 1


def test_the_cost_adds_to_the_latency_of_each_reply(protocol, lab, sleeps):
    lab.set_faults(module_run_ms=200, latency_ms=10)
    rc, _, _ = call_module(protocol(), "echo", {"text": "b"})
    assert rc == 0
    costs = sorted(s[1] for s in sleeps)
    assert costs[-1] == 0.2 and costs.count(0.2) == 1
    assert costs[:-1] == [0.01] * (len(costs) - 1) and len(costs) >= 6  # every reply of the run, delayed


def test_nodes_pay_the_cost_at_the_same_time(protocol, lab, sleeps):
    """Slept outside the model's lock: two hosts start PowerShell at once, as real hosts do."""
    lab.set_faults(module_run_ms=800)
    results = {}

    def run(node):
        results[node] = call_module(protocol(node), "echo", {"text": node})

    threads = [threading.Thread(target=run, args=(node,)) for node in ("HV01", "HV02")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {node: r[1]["text"] for node, r in results.items()} == {"HV01": "HV01", "HV02": "HV02"}
    first, second = sorted((s for s in sleeps if s[1] == 0.8), key=lambda s: s[2])
    assert first[0] != second[0]          # served by the two nodes' endpoints
    assert second[2] < first[3]           # the second started before the first ended


def test_zero_costs_nothing_and_a_failed_run_costs_nothing(protocol, lab, sleeps):
    assert call_module(protocol(), "echo", {"text": "c"})[0] == 0
    assert sleeps == []
    lab.set_faults(module_run_ms=100, fail_nth=1)
    with pytest.raises(WSManFaultError):
        call_module(protocol(), "echo", {"text": "d"})
    assert sleeps == []   # the WinRM service stopped before PowerShell started
    assert call_module(protocol(), "echo", {"text": "e"})[0] == 0
    assert [s[1] for s in sleeps] == [0.1]
