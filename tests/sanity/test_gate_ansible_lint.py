"""ansible-lint with the production profile on the collection's roles, playbooks and metadata: zero violations.

The configuration is the checkout's .ansible-lint (profile, what is not Ansible content, the one rule skipped and
why). ansible-lint resolves ``hyperv.backup.*`` through ANSIBLE_COLLECTIONS_PATH, the ``.collections`` directory
where this checkout is linked as the collection. The skipped rule's purpose, role variables named after their
role, is checked here for the collection's own convention, ``hyperv_<role>_``.
"""
import pytest
import yaml

from tests.sanity import gatekit

pytestmark = [pytest.mark.gate, pytest.mark.pinned_gate]

ROLES = gatekit.ROOT / "roles"


def ansible_lint(project, collections_path):
    env = gatekit.tool_env(ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false")
    return gatekit.run([gatekit.tool("ansible-lint"), "--nocolor", "--format", "pep8"], cwd=project, env=env,
                       timeout=900)


def test_ansible_lint_production_profile_passes():
    proc = ansible_lint(gatekit.ROOT, gatekit.LINK_ROOT)
    assert proc.returncode == 0, proc.text
    assert "Passed: 0 failure(s), 0 warning(s)" in proc.text and "'production'" in proc.text


def test_the_lint_checks_roles_and_playbooks_and_resolves_the_collection(tmp_path):
    """The gate is not blind: in a copy of the checkout, a role task and a playbook with violations fail it, each
    named; a module missing from the collection is reported as unresolved while the collection's own are not."""
    copy = gatekit.copy_checkout(tmp_path)
    role = sorted(p for p in (copy / "roles").iterdir() if (p / "tasks" / "main.yml").is_file())[0]
    with (role / "tasks" / "main.yml").open("a", encoding="utf-8") as fh:
        fh.write("\n- debug: msg=unnamed\n")
    (copy / "playbooks" / "gate_probe.yml").write_text(
        "---\n- name: Probe\n  hosts: hv\n  gather_facts: false\n  tasks:\n"
        "    - name: A module the collection does not have\n      hyperv.backup.no_such_module:\n"
        "    - name: A module the collection has\n      hyperv.backup.host_facts:\n", encoding="utf-8")
    proc = ansible_lint(copy, tmp_path)
    assert proc.returncode != 0
    assert f"roles/{role.name}/tasks/main.yml" in proc.stdout
    assert "name[missing]" in proc.stdout and "fqcn[action-core]" in proc.stdout
    assert "playbooks/gate_probe.yml" in proc.stdout and "hyperv.backup.no_such_module" in proc.stdout
    assert "hyperv.backup.host_facts" not in proc.stdout


# The role variable convention ------------------------------------------------------------------------------

def _yaml_files(directory):
    return sorted(p for p in directory.glob("*.y*ml") if p.is_file()) if directory.is_dir() else []


def _tasks(items):
    """Every task of a task list, blocks unfolded."""
    for item in items or []:
        if not isinstance(item, dict):
            continue
        yield item
        for key in ("block", "rescue", "always"):
            yield from _tasks(item.get(key))


def role_variables(role_dir):
    """``{variable name: where}``: the variables a role defines (defaults, vars, argument specs) or sets (register,
    set_fact) -- what ansible-lint's var-naming[no-role-prefix] looks at."""
    found = {}
    for kind in ("defaults", "vars"):
        for path in _yaml_files(role_dir / kind):
            for name in yaml.safe_load(path.read_text(encoding="utf-8")) or {}:
                found[name] = f"{kind}/{path.name}"
    specs = role_dir / "meta" / "argument_specs.yml"
    if specs.is_file():
        for entry, spec in (yaml.safe_load(specs.read_text(encoding="utf-8"))["argument_specs"] or {}).items():
            for name in (spec or {}).get("options") or {}:
                found[name] = f"meta/argument_specs.yml ({entry})"
    for kind in ("tasks", "handlers"):
        for path in _yaml_files(role_dir / kind):
            for task in _tasks(yaml.safe_load(path.read_text(encoding="utf-8"))):
                if isinstance(task.get("register"), str):
                    found[task["register"]] = f"{kind}/{path.name} (register)"
                for module in ("ansible.builtin.set_fact", "set_fact"):
                    if isinstance(task.get(module), dict):
                        for name in task[module]:
                            if name != "cacheable":
                                found[name] = f"{kind}/{path.name} (set_fact)"
    return found


def misnamed(role_dir):
    prefix = f"hyperv_{role_dir.name}_"
    return sorted(f"{where}: {name}" for name, where in role_variables(role_dir).items()
                  if not name.lstrip("_").startswith(prefix))


ROLE_DIRS = sorted(p for p in ROLES.iterdir() if (p / "tasks").is_dir()) if ROLES.is_dir() else []


def test_there_are_roles():
    assert ROLE_DIRS


@pytest.mark.parametrize("role_dir", ROLE_DIRS, ids=lambda p: p.name)
def test_role_variables_carry_the_collection_and_role_prefix(role_dir):
    assert role_variables(role_dir)
    assert not misnamed(role_dir), f"role variables must begin with hyperv_{role_dir.name}_"


def test_a_variable_without_the_prefix_is_found(tmp_path):
    role = tmp_path / "demo_role"
    for sub in ("defaults", "tasks", "meta"):
        (role / sub).mkdir(parents=True)
    (role / "defaults" / "main.yml").write_text("hyperv_demo_role_ok: 1\ndemo_role_short: 2\n", encoding="utf-8")
    (role / "meta" / "argument_specs.yml").write_text(
        "argument_specs:\n  main:\n    options:\n      hyperv_demo_role_ok: {type: int}\n      stray: {type: str}\n",
        encoding="utf-8")
    (role / "tasks" / "main.yml").write_text(
        "- name: A block\n  block:\n    - name: Read\n      ansible.builtin.command: 'true'\n      register: result\n"
        "- name: Set\n  ansible.builtin.set_fact:\n    __hyperv_demo_role_internal: 1\n    other_fact: 2\n",
        encoding="utf-8")
    assert misnamed(role) == ["defaults/main.yml: demo_role_short", "meta/argument_specs.yml (main): stray",
                              "tasks/main.yml (register): result", "tasks/main.yml (set_fact): other_fact"]
