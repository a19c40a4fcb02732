"""Run hvsim inside a test or benchmark process, and run ansible against it.

    from hvsim.testing import Lab, lab_fixture, run_ansible

    lab = lab_fixture("tools/hvsim/models/demo.yml")          # in a conftest.py or test module

    def test_facts(lab):
        rc, out = run_ansible(lab, "hv", "-m", "hyperv.backup.host_facts")
        assert rc == 0, out

``Lab.start`` serves every node of the model on ephemeral ports (threads of this process); the model file
lives in the lab's work directory and is the state the endpoints use, so ``read_model`` shows what the
modules changed and ``write_model`` / ``set_faults`` change the world for the next request.
"""
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile

from hvsim import ops, payload
from hvsim.cli import REPO_ROOT, TOOLS_DIR, write_inventory
from hvsim.model import FAULT_KNOBS, Model, atomic_write, dump, load_file, validate
from hvsim.wsman import Simulator

MODELS_DIR = os.path.join(TOOLS_DIR, "hvsim", "models")
ANSIBLE_PROGRAMS = ("ansible", "ansible-playbook", "ansible-inventory", "ansible-doc")


def model_path(name):
    """``minimal`` / ``demo.yml`` / a path -> the path of the model file."""
    if os.path.exists(name):
        return os.path.abspath(name)
    base = name if name.endswith((".yml", ".yaml", ".json")) else name + ".yml"
    candidate = os.path.join(MODELS_DIR, base)
    if os.path.exists(candidate):
        return candidate
    candidate = os.path.join(REPO_ROOT, name)
    if os.path.exists(candidate):
        return candidate
    raise FileNotFoundError(f"no hvsim model '{name}' (looked in {MODELS_DIR} and {REPO_ROOT})")


class Lab:
    """hvsim serving a model from ``workdir`` in this process."""

    def __init__(self, workdir, model, simulator):
        self.workdir = str(workdir)
        self.model = model
        self.simulator = simulator
        self.model_path = model.path
        self.inventory = os.path.join(self.workdir, "inventory.yml")

    @classmethod
    def start(cls, model_source, workdir):
        """``model_source``: a model file (path or name under tools/hvsim/models) or a dict."""
        workdir = str(workdir)
        os.makedirs(workdir, exist_ok=True)
        target = os.path.join(workdir, "model.yml")
        if isinstance(model_source, dict):
            atomic_write(target, dump(validate(copy.deepcopy(model_source)), "yaml"))
        else:
            source = model_path(str(model_source))
            load_file(source)
            if os.path.abspath(source) != os.path.abspath(target):
                shutil.copyfile(source, target)
        model = Model(target)
        simulator = Simulator(model)
        simulator.start()
        lab = cls(workdir, model, simulator)
        write_inventory(lab.inventory, lab.ports, model.read()["credentials"])
        return lab

    @property
    def ports(self):
        return self.simulator.ports

    @property
    def nodes(self):
        return list(self.simulator.ports)

    def endpoint(self, node=None):
        node = node or self.nodes[0]
        return f"http://127.0.0.1:{self.ports[node]}/wsman"

    @property
    def credentials(self):
        return self.model.credentials()

    def read_model(self):
        return self.model.read()

    def write_model(self, data):
        self.model.write(data)

    def set_faults(self, **knobs):
        """Set fault knobs (``latency_ms``, ``fail_nth``, ``drop_nth``); unnamed knobs are kept."""
        for knob in knobs:
            if knob not in FAULT_KNOBS:
                raise ValueError(f"unknown fault knob '{knob}' (known: {', '.join(FAULT_KNOBS)})")
        with self.model.transaction() as data:
            faults = dict(data.get("faults") or {})
            faults.update({k: int(v) for k, v in knobs.items()})
            data["faults"] = faults
            self.model.mark_changed()

    def protocol(self, node=None, **kwargs):
        """A pywinrm ``Protocol`` for the endpoint of ``node`` (the first node by default)."""
        import winrm

        user, password = self.credentials
        kwargs.setdefault("username", user)
        kwargs.setdefault("password", password)
        return winrm.protocol.Protocol(self.endpoint(node), transport="basic", **kwargs)

    def call(self, node, name, args=None, **kwargs):
        """Run module ``name`` on ``node`` over WinRM (see :func:`call_module`); returns ``(rc, result, stderr)``."""
        return call_module(self.protocol(node), name, args, **kwargs)

    @property
    def journal(self):
        """The module runs served so far, in order: ``[{"node", "module", "check_mode", "args"}]``."""
        return list(self.simulator.journal)

    def clear_journal(self):
        del self.simulator.journal[:]

    def round_trips(self):
        """``{(node, module): count}`` of the module runs in the journal."""
        counts = {}
        for entry in self.simulator.journal:
            key = (entry["node"], entry["module"])
            counts[key] = counts.get(key, 0) + 1
        return counts

    def stop(self):
        self.simulator.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def call_module(protocol, name, args=None, *, check_mode=False, diff=False, chunk_size=200000, **encode_kwargs):
    """Run a module over a pywinrm ``Protocol`` the way Ansible's winrm connection does.

    One shell, one command, the payload on stdin in ``chunk_size`` pieces, output until done, signal,
    close. ``name`` is a short name (``host_facts``) or a payload script name. Returns
    ``(rc, result dict or None, stderr text)``.
    """
    script = name if name.endswith(".ps1") else f"{ops.MODULE_PREFIX}{name}.ps1"
    complex_args = dict(args or {})
    complex_args.setdefault("_ansible_check_mode", check_mode)
    complex_args.setdefault("_ansible_diff", diff)
    data = payload.encode(script, complex_args, **encode_kwargs)
    shell = protocol.open_shell(codepage=65001)
    try:
        command = protocol.run_command(shell, "PowerShell", ["-NoProfile", "-NonInteractive", "-EncodedCommand",
                                                             "JABpAG4AcAB1AHQA"], console_mode_stdin=False)
        try:
            for start in range(0, len(data), chunk_size):
                protocol.send_command_input(shell, command, data[start:start + chunk_size],
                                            end=start + chunk_size >= len(data))
            stdout, stderr, rc = protocol.get_command_output(shell, command)
        finally:
            protocol.cleanup_command(shell, command)
    finally:
        protocol.close_shell(shell)
    text = stdout.decode("utf-8").strip()
    return rc, (json.loads(text) if text else None), stderr.decode("utf-8", "replace")


def lab_fixture(model_source="demo", scope="function"):
    """A pytest fixture that yields a started :class:`Lab` and stops it afterwards.

    In a test module or conftest.py: ``lab = lab_fixture("minimal")``.
    """
    import pytest

    @pytest.fixture(scope=scope)
    def _lab(tmp_path_factory):
        lab = Lab.start(model_source, tmp_path_factory.mktemp("hvsim"))
        try:
            yield lab
        finally:
            lab.stop()

    return _lab


# ansible-core 2.19+ no longer ships a JSON stdout callback (``json`` redirects to ansible.posix), so
# run_ansible installs this one next to the lab. Its output has the shape of ansible.posix.json:
# {"plays": [{"play": {"name"}, "tasks": [{"task": {"name"}, "hosts": {host: result}}]}], "stats": {...}}
JSON_CALLBACK_NAME = "hvsim_json"
JSON_CALLBACK_SOURCE = '''
import json

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: hvsim_json
type: stdout
short_description: every task result as one JSON document (hvsim test runs)
description: [Written by hvsim.testing.run_ansible.]
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "hvsim_json"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.plays = []

    def v2_playbook_on_play_start(self, play):
        self.plays.append({"play": {"name": play.get_name()}, "tasks": []})

    def v2_playbook_on_task_start(self, task, is_conditional):
        if not self.plays:
            self.plays.append({"play": {"name": ""}, "tasks": []})
        self.plays[-1]["tasks"].append({"task": {"name": task.get_name()}, "hosts": {}})

    v2_playbook_on_handler_task_start = lambda self, task: self.v2_playbook_on_task_start(task, False)

    def _record(self, result, **flags):
        data = getattr(result, "result", None)
        if not isinstance(data, dict):
            data = result._result
        data = {k: v for k, v in dict(data).items() if not str(k).startswith("_ansible_")}
        data.update(flags)
        self.plays[-1]["tasks"][-1]["hosts"][result._host.get_name()] = data

    def v2_runner_on_ok(self, result, **kwargs):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False, **kwargs):
        self._record(result, failed=True)

    def v2_runner_on_unreachable(self, result, **kwargs):
        self._record(result, unreachable=True)

    def v2_runner_on_skipped(self, result, **kwargs):
        self._record(result, skipped=True)

    def v2_playbook_on_stats(self, stats):
        summary = {host: stats.summarize(host) for host in sorted(stats.processed)}
        self._display.display(json.dumps({"plays": self.plays, "stats": summary}, default=str, indent=1))
'''


def _json_callback_dir(base):
    directory = os.path.join(base, "callback_plugins")
    path = os.path.join(directory, JSON_CALLBACK_NAME + ".py")
    os.makedirs(directory, exist_ok=True)
    if not os.path.exists(path):
        with open(path + ".tmp", "w", encoding="utf-8") as fh:
            fh.write(JSON_CALLBACK_SOURCE)
        os.replace(path + ".tmp", path)
    return directory


def ansible_env(json_output=True, extra=None, callback_base=None):
    env = dict(os.environ)
    bin_dir = os.path.dirname(os.path.abspath(sys.executable))
    env["PATH"] = os.pathsep.join(p for p in (bin_dir, env.get("PATH")) if p)
    env["ANSIBLE_CONFIG"] = os.path.join(REPO_ROOT, "ansible.cfg")
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    if json_output:
        directory = _json_callback_dir(callback_base or os.path.join(tempfile.gettempdir(), f"hvsim-{os.getuid()}"))
        env["ANSIBLE_CALLBACK_PLUGINS"] = os.pathsep.join(p for p in (directory, env.get("ANSIBLE_CALLBACK_PLUGINS")) if p)
        env["ANSIBLE_STDOUT_CALLBACK"] = JSON_CALLBACK_NAME
        env["ANSIBLE_LOAD_CALLBACK_PLUGINS"] = "1"
    if extra:
        env.update(extra)
    return env


def run_ansible(lab, *args, json_output=True, env=None, timeout=300):
    """Run ``ansible`` (default) or ``ansible-playbook`` as a real subprocess against ``lab``.

    The environment: PATH starts with this interpreter's bin directory (the venv's ansible), ANSIBLE_CONFIG
    is the repository's ansible.cfg, the working directory is the repository root.

    ``args[0]`` may name the program (``"ansible-playbook"``); a first argument ending in ``.yml`` runs
    ``ansible-playbook``. ``-i <lab inventory>`` is added. Returns ``(rc, output)``: the parsed JSON of the
    JSON callback (:data:`JSON_CALLBACK_SOURCE`) when ``json_output`` (the text when it does not parse), else the
    combined stdout and stderr text.
    """
    args = [str(a) for a in args]
    if args and args[0] in ANSIBLE_PROGRAMS:
        program, args = args[0], args[1:]
    elif args and args[0].endswith((".yml", ".yaml")):
        program = "ansible-playbook"
    else:
        program = "ansible"
    bin_dir = os.path.dirname(os.path.abspath(sys.executable))
    executable = os.path.join(bin_dir, program)
    if not os.path.exists(executable):
        executable = shutil.which(program) or program
    cmd = [executable, "-i", lab.inventory] + args
    run_env = ansible_env(json_output=json_output, extra=env, callback_base=lab.workdir)
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=run_env, capture_output=True, text=True, timeout=timeout)
    if not json_output:
        return proc.returncode, proc.stdout + proc.stderr
    try:
        return proc.returncode, _json_document(proc.stdout)
    except ValueError:
        return proc.returncode, proc.stdout + proc.stderr


def _json_document(stdout):
    """The JSON callback's document: what plugins display themselves (progress lines of a long task) comes
    before it, on lines of their own."""
    text = stdout.lstrip()
    if not text.startswith("{"):
        start = stdout.find("\n{")
        text = stdout[start + 1:] if start >= 0 else stdout
    return json.loads(text)


def host_results(output):
    """``{host: result}`` of the tasks in :func:`run_ansible` JSON output (the last task wins)."""
    results = {}
    for play in output.get("plays", []):
        for task in play.get("tasks", []):
            results.update(task.get("hosts", {}))
    return results
