"""The molecule scenario molecule/default (delegated driver, hvsim's demo cluster), as `make test` runs it:
``molecule test`` from the repository root with this environment's ansible and molecule.

create starts hvsim on the drifted demo cluster, converge applies the role hyperv.backup.backup_readiness,
molecule's idempotence step fails on any change of a second converge, verify audits in check mode (the gate
fails on an error finding, and the warnings left are asserted one by one), destroy stops hvsim.
"""
import os
import re
import shutil
import subprocess
import sys

import pytest

from hvsim.cli import REPO_ROOT, TOOLS_DIR
from hvsim.testing import ansible_env

pytestmark = pytest.mark.integration

BIN = os.path.dirname(os.path.abspath(sys.executable))
MOLECULE = os.path.join(BIN, "molecule")
STEPS = ("destroy", "syntax", "create", "converge", "idempotence", "verify", "destroy")


def test_molecule_scenario_converges_the_demo_cluster_idempotently_and_verifies(tmp_path):
    assert os.path.exists(MOLECULE), "molecule is not installed in this environment: make venv (tests/requirements.txt)"
    env = ansible_env(json_output=False, extra={"PYTHONPATH": TOOLS_DIR, "NO_COLOR": "1", "ANSIBLE_NOCOLOR": "1",
                                                "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp")})
    env.pop("ANSIBLE_CONFIG", None)  # molecule writes its own ansible.cfg; the scenario sets the collections path
    proc = subprocess.run([MOLECULE, "test", "--scenario-name", "default"], cwd=REPO_ROOT, capture_output=True,
                          text=True, env=env, timeout=1200)
    out = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    (tmp_path / "molecule.log").write_text(out, encoding="utf-8")
    assert proc.returncode == 0, out[-6000:]
    done = re.findall(r"^INFO +\[default > (\w+)\] Executed: (\w+)$", out, re.MULTILINE)  # NO_COLOR's plain log
    assert done == [(step, "Successful") for step in STEPS], done
    # verify ran the audit's assertion: no error finding, and the warnings left are the expected ones
    assert "no error finding; the warnings left:" in out
    assert "vm_version.no_rct PRINT01" in out
    # the converge changed the cluster, the idempotence run changed nothing
    recaps = re.findall(r"(HV0[123]) +: ok=\d+ +changed=(\d+)", out)
    assert len(recaps) == 9, recaps  # converge, idempotence, verify
    assert all(int(n) > 0 for _, n in recaps[:3]) and all(n == "0" for _, n in recaps[3:]), recaps
    # destroy stopped hvsim: no simulated node is left running
    assert shutil.which("pgrep") is None or not subprocess.run(
        ["pgrep", "-f", f"hvsim serve --model {REPO_ROOT}/tools/hvsim/models/demo.yml"], capture_output=True).stdout
