"""``python -m hvsim serve | start | stop | inventory | demo`` (docs/hvsim.md).

- ``serve --model M --dir D [--base-port P] [--keep]``: copy M to D/model.yml (as is; ``--keep`` keeps an
  existing D/model.yml), serve every node of the model in the foreground, write D/inventory.yml and
  D/hvsim.json (pid, ports); both are removed when it stops.
- ``start``: the same in the background; returns once every port answers and prints the inventory path.
  The inventory of an earlier run is removed first, and a start that fails leaves none behind, so no
  later command talks to a dead port. ``--stop-command`` is how messages tell the user to stop a lab
  (``make lab`` passes ``make lab-down``).
- ``stop --dir D``: terminate the server started from D, wait for it, remove its inventory.
- ``inventory --dir D``: print D/inventory.yml.
- ``demo --model M [--reports DIR]``: start on a temporary directory and run, from the repository root, the
  collection's main job against it: ``playbooks/audit.yml --check`` (its gate fails: the drift is there),
  ``playbooks/backup_readiness.yml`` (the converge) and ``playbooks/audit.yml --check`` again, with
  :data:`DEMO_ROLE_VARS` (more ``-e`` after ``demo`` go to every run); then print where the reports are (DIR/before,
  DIR/converge, DIR/after) and the findings before and after by severity; stop. Exit 0 when the converge
  succeeded and the last audit passed its gate.
"""
import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from hvsim.model import Model, ModelError, load_file

TOOLS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(TOOLS_DIR)
DEFAULT_MODEL = os.path.join(TOOLS_DIR, "hvsim", "models", "demo.yml")
# The playbooks have no default VSS account (on a real host a made-up one reports false errors); the demo
# cluster's backup product runs as LAB\svc-veeam, which HV03 lacks under VssAccessControl (demo.yml's header).
# DEMO_VARS names it to playbooks/demo.yml (the read-only report), DEMO_ROLE_VARS to the role's playbooks.
DEMO_VARS = {"hv_vss_accounts": ["LAB\\svc-veeam"]}
DEMO_ROLE_VARS = {"hyperv_backup_readiness_vss_accounts": DEMO_VARS["hv_vss_accounts"]}
# What the demo's converge is told besides: the folder for ConfigStoreRootPath (there is no default: it cannot
# be changed once set), and that a running VM may be restarted (gracefully) to get its SCSI controller.
DEMO_CONVERGE_VARS = {"hyperv_backup_readiness_config_store_path": "C:\\ClusterStorage\\Volume1\\Hyper-V\\ConfigStore",
                      "hyperv_backup_readiness_scsi_running_vms": "restart"}
DEMO_REPORTS = os.path.join(REPO_ROOT, ".hvsim", "demo")
DEMO_STEPS = (("before", "audit.yml", True), ("converge", "backup_readiness.yml", False), ("after", "audit.yml", True))
STATE_FILE = "hvsim.json"
INVENTORY_FILE = "inventory.yml"
GROUP = "hv"


def default_stop_command(directory):
    return f"python -m hvsim stop --dir {directory}"


def _remove_lab_files(directory, names=(STATE_FILE, INVENTORY_FILE)):
    """Remove a lab's state and inventory (what tells later commands where a lab listens)."""
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(directory, name))


def inventory_text(ports, credentials, host="127.0.0.1"):
    """The inventory of a running hvsim: group ``hv``, one host per node, WinRM basic over HTTP."""
    lines = ["# Written by hvsim: the simulated Hyper-V nodes and how to reach them.", "all:", "  children:",
             f"    {GROUP}:", "      hosts:"]
    for node, port in ports.items():
        lines.append(f"        {node}: {{ansible_host: {host}, ansible_port: {int(port)}}}")
    lines += [
        "      vars:",
        "        ansible_connection: winrm",
        "        ansible_winrm_transport: basic",
        "        ansible_winrm_scheme: http",
        "        ansible_winrm_server_cert_validation: ignore",
        f"        ansible_user: {json.dumps(credentials['username'])}",
        f"        ansible_password: {json.dumps(credentials['password'])}",
    ]
    return "\n".join(lines) + "\n"


def write_inventory(path, ports, credentials):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(inventory_text(ports, credentials))
    os.replace(tmp, path)


def prepare_dir(model_source, directory, keep=False):
    """Create ``directory`` and put the model there as ``model.yml``; returns its path."""
    os.makedirs(directory, exist_ok=True)
    target = os.path.join(directory, "model.yml")
    if keep and os.path.exists(target):
        load_file(target)
        return target
    load_file(model_source)  # fail early, naming the bad value, before anything listens
    if os.path.abspath(model_source) != os.path.abspath(target):
        shutil.copyfile(model_source, target + ".tmp")
        os.replace(target + ".tmp", target)
    return target


def _port_answers(port, host="127.0.0.1"):
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def _read_state(directory):
    with contextlib.suppress(OSError, ValueError):
        with open(os.path.join(directory, STATE_FILE), encoding="utf-8") as fh:
            return json.load(fh)
    return None


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child (not yet reaped) has exited.
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            if fh.read().rsplit(")", 1)[-1].split()[0] == "Z":
                return False
    return True


def _is_hvsim(pid):
    """Whether ``pid`` is an hvsim server (so a reused pid is never signalled)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"hvsim" in fh.read()
    except OSError:
        return _alive(pid)


def _running(directory):
    """The state of the hvsim server that runs from ``directory``, or None."""
    state = _read_state(directory)
    if state and _alive(state.get("pid", -1)) and _is_hvsim(state["pid"]):
        return state
    return None


# -- commands ---------------------------------------------------------------------------------------------
def cmd_serve(args):
    from hvsim.wsman import Simulator

    directory = os.path.abspath(args.dir)
    running = _running(directory)
    if running and running["pid"] != os.getpid():
        print(f"hvsim: hvsim already runs from {directory} (pid {running['pid']}); stop it first: "
              f"{default_stop_command(directory)}", file=sys.stderr)
        return 1
    _remove_lab_files(directory)
    model_path = prepare_dir(args.model, directory, keep=args.keep)
    model = Model(model_path)
    sim = Simulator(model)
    ports = sim.start(base_port=args.base_port)
    inventory = os.path.join(directory, INVENTORY_FILE)
    write_inventory(inventory, ports, model.read()["credentials"])
    state = {"pid": os.getpid(), "ports": ports, "model": model_path, "inventory": inventory}
    state_path = os.path.join(directory, STATE_FILE)
    with open(state_path + ".tmp", "w", encoding="utf-8") as fh:
        json.dump(state, fh, indent=2)
    os.replace(state_path + ".tmp", state_path)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print(f"hvsim serves {', '.join(f'{n} on 127.0.0.1:{p}' for n, p in ports.items())}; "
          f"inventory {inventory}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sim.stop()
        current = _read_state(directory)
        if current and current.get("pid") == os.getpid():
            _remove_lab_files(directory)
    return 0


def start_background(model, directory, base_port=0, keep=False, timeout=20.0, stop_command=None):
    """Spawn ``serve`` detached and wait until every port answers; returns the state dict.

    The state and inventory of an earlier run are removed before anything else can fail, and whatever
    a failed start wrote is removed again, so a failed start leaves no inventory pointing at dead ports."""
    directory = os.path.abspath(directory)
    os.makedirs(directory, exist_ok=True)
    state = _running(directory)
    if state:
        raise RuntimeError(f"hvsim already runs from {directory} (pid {state['pid']}); "
                           f"stop it first: {stop_command or default_stop_command(directory)}")
    _remove_lab_files(directory)
    prepare_dir(model, directory, keep=keep)  # validate in the foreground, with the error on this terminal
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (TOOLS_DIR, env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, "-m", "hvsim", "serve", "--model", os.path.abspath(model), "--dir", directory,
           "--base-port", str(base_port), "--keep"]
    log_path = os.path.join(directory, "hvsim.log")
    with open(log_path, "ab") as log, open(os.devnull, "rb") as devnull:
        proc = subprocess.Popen(cmd, stdin=devnull, stdout=log, stderr=subprocess.STDOUT, env=env,
                                cwd=directory, start_new_session=True, close_fds=True)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                with open(log_path, encoding="utf-8", errors="replace") as fh:
                    tail = fh.read()[-2000:]
                raise RuntimeError(f"hvsim serve exited with code {proc.returncode}:\n{tail}")
            state = _read_state(directory)
            if state and state.get("pid") == proc.pid and all(_port_answers(p) for p in state["ports"].values()):
                return state
            time.sleep(0.05)
        raise RuntimeError(f"hvsim did not answer on every port within {timeout:.0f} s (log: {log_path})")
    except BaseException:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        _remove_lab_files(directory)
        raise


def stop_background(directory, timeout=10.0):
    """Terminate the server started from ``directory``; returns its pid, or None if none ran."""
    directory = os.path.abspath(directory)
    state = _read_state(directory)
    if not state:
        _remove_lab_files(directory, (INVENTORY_FILE,))
        return None
    pid = int(state.get("pid", -1))
    if pid > 0 and _alive(pid) and _is_hvsim(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    _remove_lab_files(directory)
    return pid


def cmd_start(args):
    try:
        state = start_background(args.model, args.dir, base_port=args.base_port, keep=args.keep,
                                 stop_command=args.stop_command)
    except (RuntimeError, ModelError) as exc:
        print(f"hvsim: {exc}", file=sys.stderr)
        return 1
    print(state["inventory"])
    return 0


def cmd_stop(args):
    pid = stop_background(args.dir)
    if pid is None:
        print(f"hvsim is not running from {os.path.abspath(args.dir)}", file=sys.stderr)
    return 0


def cmd_inventory(args):
    path = os.path.join(os.path.abspath(args.dir), INVENTORY_FILE)
    try:
        with open(path, encoding="utf-8") as fh:
            sys.stdout.write(fh.read())
    except OSError:
        print(f"hvsim: no inventory at {path}; start hvsim first (make lab, or python -m hvsim start "
              f"--dir {args.dir})", file=sys.stderr)
        return 1
    return 0


def _ansible_playbook():
    bin_dir = os.path.dirname(os.path.abspath(sys.executable))
    program = os.path.join(bin_dir, "ansible-playbook")
    return program if os.path.exists(program) else "ansible-playbook"


def _ansible_env():
    env = dict(os.environ)
    bin_dir = os.path.dirname(os.path.abspath(sys.executable))
    env["PATH"] = os.pathsep.join(p for p in (bin_dir, env.get("PATH")) if p)
    env["ANSIBLE_CONFIG"] = os.path.join(REPO_ROOT, "ansible.cfg")
    return env


def report_summaries(directory):
    """``{report name: summary.by_severity}`` of the JSON reports in ``directory`` (one per cluster)."""
    found = {}
    with contextlib.suppress(OSError):
        for name in sorted(os.listdir(directory)):
            if name.endswith(".json"):
                with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                    with open(os.path.join(directory, name), encoding="utf-8") as fh:
                        found[name[:-5]] = json.load(fh)["summary"]["by_severity"]
    return found


def _severities(counts):
    return ", ".join(f"{counts.get(level, 0)} {level}{'s' if counts.get(level, 0) != 1 and level != 'info' else ''}"
                     for level in ("error", "warning", "info"))


def demo_summary(reports, codes):
    """The lines ``demo`` ends with: where the reports are, and the findings before and after by severity."""
    lines = ["", "== the demo: audit, converge, audit"]
    for step, _playbook, _check in DEMO_STEPS:
        directory = os.path.join(reports, step)
        lines.append(f"   {step:9} {directory}  (exit code {codes.get(step)})")
    before, after = report_summaries(os.path.join(reports, "before")), report_summaries(os.path.join(reports, "after"))
    for name in sorted(set(before) | set(after)):
        lines.append(f"   {name}: before {_severities(before.get(name, {}))}; after {_severities(after.get(name, {}))}")
        lines.append(f"   open {os.path.join(reports, 'before', name + '.html')} and {os.path.join(reports, 'after', name + '.html')}")
    gate = codes.get("before", 0) != 0 and codes.get("after") == 0
    lines.append("   the gate (errors remain) failed before the converge and passes after it" if gate else
                 "   the gate did not go from failing to passing: see the runs above")
    return lines


def cmd_demo(args):
    for _step, playbook, _check in DEMO_STEPS:
        if not os.path.exists(os.path.join(REPO_ROOT, "playbooks", playbook)):
            print(f"hvsim: the demo playbook playbooks/{playbook} does not exist", file=sys.stderr)
            return 1
    reports = os.path.abspath(args.reports)
    for step, _playbook, _check in DEMO_STEPS:
        shutil.rmtree(os.path.join(reports, step), ignore_errors=True)
    directory = tempfile.mkdtemp(prefix="hvsim-demo-")
    try:
        state = start_background(args.model, directory)
    except (RuntimeError, ModelError) as exc:
        print(f"hvsim: {exc}", file=sys.stderr)
        shutil.rmtree(directory, ignore_errors=True)
        return 1
    codes = {}
    try:
        for step, playbook, check in DEMO_STEPS:
            extra = {"hv_report_dir": os.path.join(reports, step)} if check else dict(
                DEMO_CONVERGE_VARS, hyperv_backup_readiness_report_dir=os.path.join(reports, step))
            cmd = [_ansible_playbook(), "-i", state["inventory"], os.path.join(REPO_ROOT, "playbooks", playbook),
                   "-e", json.dumps(DEMO_ROLE_VARS), "-e", json.dumps(extra)] + (["--check"] if check else [])
            print(f"\n== {step}: ansible-playbook playbooks/{playbook}{' --check' if check else ''}", flush=True)
            codes[step] = subprocess.call(cmd + list(args.playbook_args or []), cwd=REPO_ROOT, env=_ansible_env())
            if step == "converge" and codes[step] != 0:
                break
        print("\n".join(demo_summary(reports, codes)), flush=True)
        return 0 if codes.get("converge") == 0 and codes.get("after") == 0 else 1
    except KeyboardInterrupt:
        return 130
    finally:
        stop_background(directory)
        shutil.rmtree(directory, ignore_errors=True)


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m hvsim",
                                     description="hvsim: a simulated Hyper-V cluster behind WinRM endpoints")
    sub = parser.add_subparsers(dest="command", required=True)

    def lab_args(p, need_dir=True):
        p.add_argument("--model", default=DEFAULT_MODEL, help="model file (YAML or JSON); default: demo.yml")
        if need_dir:
            p.add_argument("--dir", required=True, help="working directory: model.yml, inventory.yml, hvsim.json")
            p.add_argument("--base-port", type=int, default=0,
                           help="port of the first node, the next nodes follow (default 0: ephemeral ports)")
            p.add_argument("--keep", action="store_true", help="keep an existing DIR/model.yml")

    p = sub.add_parser("serve", help="serve every node of the model in the foreground")
    lab_args(p)
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("start", help="serve in the background; prints the inventory path")
    lab_args(p)
    p.add_argument("--stop-command", default=None,
                   help="how messages tell the user to stop the lab (default: python -m hvsim stop --dir DIR)")
    p.set_defaults(func=cmd_start)
    p = sub.add_parser("stop", help="stop the server started from --dir")
    p.add_argument("--dir", required=True)
    p.set_defaults(func=cmd_stop)
    p = sub.add_parser("inventory", help="print the inventory of the server started from --dir")
    p.add_argument("--dir", required=True)
    p.set_defaults(func=cmd_inventory)
    p = sub.add_parser("demo", help="audit, converge and audit a fresh hvsim (the collection's main job)")
    lab_args(p, need_dir=False)
    p.add_argument("--reports", default=DEMO_REPORTS,
                   help="where the reports go: REPORTS/before, REPORTS/converge, REPORTS/after (default .hvsim/demo)")
    p.add_argument("playbook_args", nargs=argparse.REMAINDER, help="extra ansible-playbook arguments")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ModelError as exc:
        print(f"hvsim: {exc}", file=sys.stderr)
        return 1
