"""The collection artifact: ``ansible-galaxy collection build``, ``ansible-galaxy collection install`` of the tarball
into a fresh path, and a playbook run from that installed copy (and only from it) against hvsim.

The artifact holds what a user installs and nothing of the project's harness (tests, tools, virtual environments,
the lab's state): galaxy.yml's build_ignore decides, this test checks the result.
"""
import json
import pathlib
import tarfile

import pytest

from hvsim.testing import Lab
from tests.sanity import gatekit

pytestmark = [pytest.mark.gate, pytest.mark.integration]

GENERATED = {"MANIFEST.json", "FILES.json"}
# Top-level entries of the checkout that must never ship; anything else a checkout holds is checked below against
# git's view of the checkout.
HARNESS = ("tests/", "tools/", "molecule/", ".ci/", ".venv", ".collections/", ".hvsim/", ".cache/", ".hypothesis/",
           "build/", "Makefile", "conftest.py", "pytest.ini", "ansible.cfg", ".ansible-lint", ".gitignore")
CONTENT = ("plugins/", "roles/", "playbooks/", "meta/", "changelogs/")


def harness(name):
    """Whether the path ``name`` is the harness's: a top-level entry of HARNESS, or a molecule scenario wherever it
    lives (``molecule/``, ``extensions/molecule/``, ``roles/<role>/molecule/``)."""
    return name.startswith(HARNESS) or "molecule" in name.split("/")[:-1]


def test_the_artifact_holds_the_content_and_nothing_of_the_harness(artifact):
    names = gatekit.artifact_names(artifact)
    assert GENERATED <= names
    shipped = names - GENERATED
    assert not [n for n in shipped if harness(n)], "harness files in the artifact"
    assert not [n for n in shipped if "__pycache__" in n or n.endswith((".pyc", ".tar.gz"))]
    checkout = gatekit.checkout_files()
    assert not sorted(shipped - checkout), "files in the artifact that are not files of the checkout"
    assert not sorted(n for n in checkout if n.startswith(CONTENT) and not harness(n) and n not in shipped), \
        "content left out"
    assert {"README.md", "requirements.txt", "meta/runtime.yml", "meta/execution-environment.yml"} <= shipped


def test_the_manifest_names_the_collection(artifact):
    with tarfile.open(artifact) as archive:
        manifest = json.load(archive.extractfile("MANIFEST.json"))["collection_info"]
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == (gatekit.NAMESPACE, gatekit.NAME,
                                                                              gatekit.VERSION)


def installed_env(installed, tmp_path):
    """Ansible seeing only the installed copy: no ansible.cfg of the checkout, no collection found on sys.path."""
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text("[defaults]\nretry_files_enabled = False\n", encoding="utf-8")
    return gatekit.tool_env(ANSIBLE_CONFIG=cfg, ANSIBLE_COLLECTIONS_PATH=installed,
                            ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false", ANSIBLE_LOCAL_TEMP=tmp_path / "tmp")


@pytest.mark.parametrize("kind", ["module", "filter", "role"])
def test_ansible_doc_lists_every_plugin_and_role_of_the_installed_copy(installed, tmp_path, kind):
    proc = gatekit.run([gatekit.tool("ansible-doc"), "-t", kind, "--list", "--json", gatekit.FQCN], cwd=tmp_path,
                       env=installed_env(installed, tmp_path))
    assert proc.returncode == 0, proc.text
    listed = {name.split(".")[-1] for name in json.loads(proc.stdout)}
    assert gatekit.documented(kind) and listed == gatekit.documented(kind)


def test_the_modules_come_from_the_installed_copy(installed, tmp_path):
    proc = gatekit.run([gatekit.tool("ansible-doc"), f"{gatekit.FQCN}.host_facts"], cwd=tmp_path,
                       env=installed_env(installed, tmp_path))
    assert proc.returncode == 0, proc.text
    assert str(installed / "ansible_collections" / "hyperv" / "backup" / "plugins" / "modules") in proc.stdout
    assert str(gatekit.ROOT) not in proc.stdout


PLAYBOOK = """\
- name: The installed collection against the simulated cluster
  hosts: hv
  gather_facts: false
  tasks:
    - name: Read what each node sees
      hyperv.backup.host_facts:
      register: node_facts

    - name: Judge the whole cluster
      ansible.builtin.set_fact:
        report: "{{ ansible_play_hosts | map('extract', hostvars, 'node_facts') | hyperv.backup.cluster_view
                    | hyperv.backup.readiness }}"
      run_once: true

    - name: A role of the collection
      ansible.builtin.include_role:
        name: hyperv.backup.checkpoint_policy

    - name: Say what was found
      ansible.builtin.copy:
        content: "{{ {'checks': report.findings | map(attribute='check') | unique | sort} | to_json }}"
        dest: "{{ result_file }}"
        mode: "0644"
      delegate_to: localhost
      run_once: true
      check_mode: false
"""


def test_a_playbook_runs_from_the_installed_copy_against_hvsim(installed, tmp_path):
    """host_facts (action plugin, .ps1 and module_utils), the cluster_view and readiness filters and a role, all
    from the installed copy; in check mode, so the simulated cluster is left as it was."""
    lab = Lab.start("demo", tmp_path / "lab")
    try:
        before = pathlib.Path(lab.model_path).read_bytes()
        (tmp_path / "play.yml").write_text(PLAYBOOK, encoding="utf-8")
        result = tmp_path / "result.json"
        proc = gatekit.run([gatekit.tool("ansible-playbook"), "-i", lab.inventory, "play.yml", "--check",
                            "-e", f"result_file={result}"], cwd=tmp_path, env=installed_env(installed, tmp_path),
                           timeout=600)
        assert proc.returncode == 0, proc.text
        assert "failed=0" in proc.stdout and "unreachable=0" in proc.stdout
        checks = json.loads(result.read_text(encoding="utf-8"))["checks"]
        assert "checkpoint_type" in checks          # the demo cluster's planted drift is found
        assert "TASK [hyperv.backup.checkpoint_policy" in proc.stdout
        assert pathlib.Path(lab.model_path).read_bytes() == before
    finally:
        lab.stop()
