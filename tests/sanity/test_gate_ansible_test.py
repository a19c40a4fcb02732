"""``ansible-test sanity`` on the collection as it ships: the artifact of ``ansible-galaxy collection build``, unpacked
under ``ansible_collections/hyperv/backup`` (where ansible-test wants to run).

How it runs here:

- ``--local`` with ``--python`` of the interpreter running the tests: ansible-test and ansible-core are this
  virtual environment's; each sanity test with requirements (pylint, pep8, yamllint, validate-modules, ...)
  gets ansible-test's own pinned virtual environment, as ansible-test always does.
- ansible-test's HOME is ``.cache/ansible-test`` of the checkout (git-ignored), so those environments persist
  between runs of one checkout and nothing is written to the user's home. pip there keeps the caller's pip
  settings (configuration file and ``PIP_*`` variables, which ansible-test does not pass on).
- ansible-test puts pip into those environments with a get-pip.py it downloads from ci-files.testing.ansible.com;
  ``get_pip_offline.py`` stands in for it, so package registries are all the gate needs.
- Without ``pwsh`` two parts cannot run, and are left out explicitly: ``pslint`` (PSScriptAnalyzer) and, in
  ``validate-modules``, the ``.ps1`` files (their argument spec is read by running them in pwsh; without it
  validate-modules stops). validate-modules still checks every other file, the docs stubs of the PowerShell
  modules included. What stands in for the rest here: tests/sanity/test_ps_parse.py (tree-sitter-pwsh parse, no
  Invoke-Expression, Ansible.Basic), test_contract.py (each .ps1's argument spec against hvsim's and the
  contract), test_cmdlet_calls.py (cmdlets, parameters and parameter sets against Microsoft's documentation),
  and the action plugins' argument specs, which are built from the docs stubs. With pwsh on PATH nothing is
  left out.
"""
import configparser
import os
import pathlib
import shutil
import types

import pytest

from tests.sanity import gatekit

pytestmark = [pytest.mark.gate, pytest.mark.pinned_gate]

HOME = gatekit.ROOT / ".cache" / "ansible-test"
PWSH = shutil.which("pwsh")
NEEDS_PWSH = ["pslint"]


def pip_version():
    """The pip version ansible-test puts into its virtual environments (its get-pip.py is named after it)."""
    from ansible_test._internal.python_requirements import get_venv_packages
    return get_venv_packages(types.SimpleNamespace(version=gatekit.PYTHON_VERSION))["pip"]


def prepare_home():
    """ansible-test's HOME: the get-pip stand-in where ansible-test looks for its download, and pip's settings."""
    cache = HOME / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(pathlib.Path(__file__).with_name("get_pip_offline.py"),
                    cache / f"get_pip_{pip_version().replace('.', '_')}.py")
    config = configparser.ConfigParser(interpolation=None)
    config.read([os.path.expanduser("~/.config/pip/pip.conf"), os.path.expanduser("~/.pip/pip.conf"),
                 os.environ.get("PIP_CONFIG_FILE", "")])
    if not config.has_section("global"):
        config.add_section("global")
    for key, value in os.environ.items():
        if key.startswith("PIP_") and key != "PIP_CONFIG_FILE":
            config.set("global", key[4:].lower().replace("_", "-"), value)
    target = HOME / ".config" / "pip" / "pip.conf"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8") as fh:
        config.write(fh)
    return HOME


def ansible_test(collection, *args):
    env = gatekit.tool_env(HOME=prepare_home())
    return gatekit.run([gatekit.tool("ansible-test"), "sanity", "--local", "--python", gatekit.PYTHON_VERSION,
                        "--color", "no", *args], cwd=collection, env=env, timeout=2400)


def validate_modules_targets(artifact):
    """Every file of the artifact under plugins/, without the .ps1 files when there is no pwsh to read their
    argument specs."""
    return sorted(name for name in gatekit.artifact_names(artifact)
                  if name.startswith("plugins/") and (PWSH or not name.endswith(".ps1")))


@pytest.fixture(scope="module")
def shipped(artifact, tmp_path_factory):
    return gatekit.unpack(artifact, tmp_path_factory.mktemp("sanity"))


def test_ansible_test_sanity_passes(shipped):
    skips = [] if PWSH else [arg for test in NEEDS_PWSH + ["validate-modules"] for arg in ("--skip-test", test)]
    proc = ansible_test(shipped, *skips)
    assert proc.returncode == 0, proc.text
    assert 'Running sanity test "pylint"' in proc.text and 'Running sanity test "import"' in proc.text


def test_validate_modules_passes(artifact, shipped):
    targets = validate_modules_targets(artifact)
    assert any(t.startswith("plugins/modules/") and t.endswith(".py") for t in targets)
    proc = ansible_test(shipped, "--test", "validate-modules", *targets)
    assert proc.returncode == 0, proc.text


def test_the_sanity_run_finds_problems(artifact, tmp_path):
    """Not a run that cannot fail: in a copy, a line over 160 characters in a plugin and a docs stub without its
    short description are reported, each naming its file."""
    copy = gatekit.unpack(artifact, tmp_path)
    stub = sorted((copy / "plugins" / "modules").glob("*.py"))[0]
    text = stub.read_text(encoding="utf-8")
    stub.write_text("\n".join(line for line in text.splitlines() if not line.startswith("short_description:")) + "\n",
                    encoding="utf-8")
    util = sorted((copy / "plugins" / "plugin_utils").glob("_*.py"))[0]
    with util.open("a", encoding="utf-8") as fh:
        fh.write("\nTOO_LONG = '" + "x" * 170 + "'\n")
    proc = ansible_test(copy, "--test", "pep8", "--test", "validate-modules", *validate_modules_targets(artifact))
    assert proc.returncode != 0
    assert f"{util.relative_to(copy)}:" in proc.text and "E501" in proc.text
    assert f"{stub.relative_to(copy)}:" in proc.text and "short_description" in proc.text
