"""Fault injection, driven by the ``faults`` section of the model (re-read on every request).

- ``latency_ms``: every HTTP reply is delayed by this many milliseconds.
- ``module_run_ms``: every module run costs the host this many milliseconds before the module's own work: the
  time a real host spends starting ``powershell.exe`` under WinRM, running Ansible's exec wrapper (which
  compiles the C# of ``Ansible.Basic`` in memory on every run) and importing the Hyper-V module. It is spent
  outside the model's lock, so that the nodes pay it in parallel, as real hosts do.
- ``fail_nth: N``: the Nth module run, counted from when the knobs last changed, fails with a WS-Management
  SOAP fault instead of running, as when the WinRM service of a host stops under a running command.
- ``drop_nth: N``: the Nth command's Receive closes the connection without a reply (the module did run).

Counters belong to the hvsim process and restart from zero whenever the ``faults`` section changes, so a
test sets ``fail_nth: 1`` and knows the very next module run fails.
"""
import threading

from hvsim.model import FAULT_KNOBS

# 0x80338012 (2150858770): "The client cannot connect to the destination specified in the request. Verify
# that the service on the destination is running and is accepting requests." (WinRM error reference,
# https://learn.microsoft.com/en-us/windows/win32/winrm/windows-remote-management-error-constants)
SERVICE_STOPPED_CODE = 2150858770
SERVICE_STOPPED_MSG = ("The WS-Management service cannot process the request because the service on {node} "
                       "stopped while the command was running (hvsim fault injection: fail_nth={n}).")


class FaultState:
    """Counters of one hvsim process; thread safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._knobs = {knob: 0 for knob in FAULT_KNOBS}
        self._module_runs = 0
        self._commands = 0

    def observe(self, knobs):
        """Take the knobs read for this request; reset the counters when they changed. Returns the knobs."""
        knobs = {knob: int(knobs.get(knob, 0) or 0) for knob in FAULT_KNOBS}
        with self._lock:
            if knobs != self._knobs:
                self._knobs = knobs
                self._module_runs = 0
                self._commands = 0
        return knobs

    @property
    def knobs(self):
        with self._lock:
            return dict(self._knobs)

    def latency_seconds(self):
        with self._lock:
            return self._knobs["latency_ms"] / 1000.0

    def module_run_seconds(self):
        with self._lock:
            return self._knobs["module_run_ms"] / 1000.0

    def module_run_fails(self):
        """Count one module run; True when it is the one ``fail_nth`` names."""
        with self._lock:
            self._module_runs += 1
            return self._knobs["fail_nth"] > 0 and self._module_runs == self._knobs["fail_nth"]

    def receive_dropped(self):
        """Count one command reaching its first Receive; True when it is the one ``drop_nth`` names."""
        with self._lock:
            self._commands += 1
            return self._knobs["drop_nth"] > 0 and self._commands == self._knobs["drop_nth"]
