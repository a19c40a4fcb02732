"""The documentation of every plugin is valid and renders with ansible-doc.

Plugins are discovered from the tree: every ``plugins/modules/*.py`` docs stub, every action plugin (which
needs one), every filter of ``plugins/filter/*.py`` (which needs a ``<filter>.yml`` beside it).
"""
import ast
import functools
import importlib
import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "plugins"
COLLECTION = "hyperv.backup"
DOC_KEYS = ("DOCUMENTATION", "EXAMPLES", "RETURN")
REQUIRED_ATTRIBUTES = ("check_mode", "diff_mode", "platform")
# The ansible-doc of the Python that runs the tests (the .venv, or .venv-newest under `make test-newest`).
ANSIBLE_DOC = pathlib.Path(sys.executable).parent / "ansible-doc"


def _plugin_files(kind):
    return sorted(p for p in (PLUGINS / kind).glob("*.py") if p.name != "__init__.py")


def module_stubs():
    return _plugin_files("modules")


def action_plugins():
    return _plugin_files("action")


def filters():
    """``[(filter name, defining file), ...]`` from each ``plugins/filter/*.py``'s ``FilterModule().filters()``."""
    found = []
    for path in _plugin_files("filter"):
        module = importlib.import_module(f"ansible_collections.hyperv.backup.plugins.filter.{path.stem}")
        for name in sorted(module.FilterModule().filters()):
            found.append((name, path))
    return found


def doc_strings(source):
    """The module-level string assignments of Python ``source`` named in DOC_KEYS (read, not imported)."""
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in DOC_KEYS and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                found[name] = node.value.value
    return found


def fragment_attributes(fragments):
    """The attributes this collection's doc fragments add (``hyperv.backup.<name>`` entries only; read, not
    imported, like the stubs)."""
    attributes = {}
    for fragment in fragments:
        if not fragment.startswith(f"{COLLECTION}."):
            continue
        path = ROOT / "plugins" / "doc_fragments" / (fragment.split(".")[2] + ".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                    and node.targets[0].id == "DOCUMENTATION" and isinstance(node.value, ast.Constant)):
                attributes.update((yaml.safe_load(node.value.value) or {}).get("attributes") or {})
    return attributes


def stub_problems(name, source):
    """What is wrong with the docs stub of module ``name``: a list of messages, empty when it is fine."""
    strings = doc_strings(source)
    problems = [f"{key} is missing" for key in DOC_KEYS if key not in strings]
    parsed = {}
    for key, text in strings.items():
        try:
            parsed[key] = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            problems.append(f"{key} is not valid YAML: {exc}")
    doc = parsed.get("DOCUMENTATION")
    if "DOCUMENTATION" in parsed:
        if not isinstance(doc, dict):
            problems.append("DOCUMENTATION is not a mapping")
        else:
            if doc.get("module") != name:
                problems.append(f"DOCUMENTATION names the module {doc.get('module')!r}, not {name!r}")
            for key in ("short_description", "description", "version_added", "author"):
                if not doc.get(key):
                    problems.append(f"DOCUMENTATION has no {key}")
            attributes = dict(fragment_attributes(doc.get("extends_documentation_fragment") or []))
            attributes.update(doc.get("attributes") or {})
            for attribute in REQUIRED_ATTRIBUTES:
                if "support" not in (attributes.get(attribute) or {}):
                    problems.append(f"DOCUMENTATION attributes.{attribute} is missing or has no support")
    if "EXAMPLES" in parsed:
        examples = parsed["EXAMPLES"]
        if not isinstance(examples, list) or not examples or not all(isinstance(t, dict) for t in examples):
            problems.append("EXAMPLES is not a list of tasks")
        elif not any(f"{COLLECTION}.{name}" in task for task in examples):
            problems.append(f"no task of EXAMPLES uses {COLLECTION}.{name}")
    if "RETURN" in parsed and not isinstance(parsed["RETURN"], (dict, type(None))):
        problems.append("RETURN is not a mapping")
    return problems


@functools.lru_cache(maxsize=None)
def ansible_doc(fqcn, plugin_type="module"):
    """``(doc dict or None, problems)``: ansible-doc's JSON for ``fqcn`` and what went wrong getting it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_COLLECTIONS_PATH")}
    env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run([str(ANSIBLE_DOC), "-j", "-t", plugin_type, fqcn], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    problems = []
    if proc.returncode != 0:
        problems.append(f"ansible-doc exited {proc.returncode}")
    for line in proc.stderr.splitlines():
        if "ERROR" in line or "[WARNING]" in line or "[DEPRECATION WARNING]" in line:
            problems.append(line.strip())
    try:
        entry = json.loads(proc.stdout or "{}").get(fqcn)
    except json.JSONDecodeError as exc:
        return None, problems + [f"ansible-doc printed no JSON: {exc}"]
    if not entry or not entry.get("doc"):
        return None, problems + [f"ansible-doc returned no documentation for {fqcn}"]
    return entry, problems


def example_option_problems(examples, options_of):
    """Tasks of ``examples`` (parsed YAML) that call a module of this collection with undocumented options.

    ``options_of(short name)`` returns the set of option names of that module, or None when it does not exist.
    """
    problems = []
    for index, task in enumerate(examples or []):
        for key, args in task.items():
            if not key.startswith(f"{COLLECTION}."):
                continue
            short = key[len(COLLECTION) + 1:]
            options = options_of(short)
            if options is None:
                problems.append(f"task {index} ({task.get('name')}): {key} does not exist")
                continue
            if args is None:
                continue
            if not isinstance(args, dict):
                problems.append(f"task {index} ({task.get('name')}): {key} takes options as a mapping, not {args!r}")
                continue
            unknown = sorted(set(args) - options)
            if unknown:
                problems.append(f"task {index} ({task.get('name')}): {key} has no option {', '.join(unknown)}")
    return problems


def _module_options(short):
    path = PLUGINS / "modules" / f"{short}.py"
    if not path.is_file():
        return None
    entry, _ = ansible_doc(f"{COLLECTION}.{short}")
    return set(((entry or {}).get("doc") or {}).get("options") or {})


def _ids(paths):
    return [p.stem for p in paths]


# --- modules ----------------------------------------------------------------------------------------------

def test_there_are_docs_stubs():
    assert PLUGINS / "modules" / "host_facts.py" in module_stubs()


@pytest.mark.parametrize("path", module_stubs(), ids=_ids(module_stubs()))
def test_docs_stub_is_valid(path):
    assert stub_problems(path.stem, path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", module_stubs(), ids=_ids(module_stubs()))
def test_ansible_doc_renders_the_module(path):
    entry, problems = ansible_doc(f"{COLLECTION}.{path.stem}")
    assert problems == []
    assert entry["doc"]["module"] == path.stem
    assert entry["doc"]["attributes"]["platform"]["platforms"] == "windows"


@pytest.mark.parametrize("path", module_stubs(), ids=_ids(module_stubs()))
def test_examples_use_documented_options(path):
    examples = yaml.safe_load(doc_strings(path.read_text(encoding="utf-8"))["EXAMPLES"])
    assert example_option_problems(examples, _module_options) == []


@pytest.mark.parametrize("path", action_plugins(), ids=_ids(action_plugins()))
def test_every_action_plugin_has_a_docs_stub(path):
    stub = PLUGINS / "modules" / path.name
    assert stub.is_file(), f"plugins/action/{path.name} has no documentation stub plugins/modules/{path.name}"


# --- filters ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, path", filters(), ids=[name for name, _ in filters()])
def test_filter_has_a_documentation_file(name, path):
    doc_file = path.parent / f"{name}.yml"
    assert doc_file.is_file(), f"filter {name} ({path.name}) has no documentation file {doc_file.name} beside it"
    data = yaml.safe_load(doc_file.read_text(encoding="utf-8"))
    assert set(DOC_KEYS) <= set(data), f"{doc_file.name} lacks {sorted(set(DOC_KEYS) - set(data))}"
    assert data["DOCUMENTATION"]["name"] == name
    examples = yaml.safe_load(data["EXAMPLES"]) if isinstance(data["EXAMPLES"], str) else data["EXAMPLES"]
    assert isinstance(examples, list) and examples, f"{doc_file.name}: EXAMPLES is not a list of tasks"
    assert any(f"{COLLECTION}.{name}" in yaml.safe_dump(task) for task in examples), (
        f"{doc_file.name}: no example uses {COLLECTION}.{name}")


@pytest.mark.parametrize("name, path", filters(), ids=[name for name, _ in filters()])
def test_ansible_doc_renders_the_filter(name, path):
    entry, problems = ansible_doc(f"{COLLECTION}.{name}", plugin_type="filter")
    assert problems == []
    assert entry["doc"]["name"] == name


# --- the checks themselves: each must fail on input that is wrong -------------------------------------------

GOOD_STUB = '''
DOCUMENTATION = r"""
module: thing
short_description: A thing
description: [Does a thing.]
version_added: 0.1.0
author: [someone]
attributes:
  check_mode: {support: full}
  diff_mode: {support: none}
  platform: {support: full, platforms: windows}
"""
EXAMPLES = r"""
- name: Do it
  hyperv.backup.thing:
    size: 1
"""
RETURN = r"""
"""
'''


def test_stub_checks_pass_a_good_stub():
    assert stub_problems("thing", GOOD_STUB) == []


@pytest.mark.parametrize(
    "change, problem",
    [
        (("RETURN = r", "RESULT = r"), "RETURN is missing"),
        (("module: thing", "module: other"), "DOCUMENTATION names the module 'other', not 'thing'"),
        (("  diff_mode: {support: none}\n", ""), "DOCUMENTATION attributes.diff_mode is missing or has no support"),
        (("size: 1", "size: [1"), "EXAMPLES is not valid YAML"),
        (("hyperv.backup.thing:", "ansible.builtin.debug:"), "no task of EXAMPLES uses hyperv.backup.thing"),
    ],
)
def test_stub_checks_fail_a_bad_stub(change, problem):
    problems = stub_problems("thing", GOOD_STUB.replace(*change))
    assert any(p.startswith(problem) for p in problems), problems


def test_example_options_are_checked():
    examples = yaml.safe_load(doc_strings(GOOD_STUB)["EXAMPLES"])
    assert example_option_problems(examples, lambda short: {"size"} if short == "thing" else None) == []
    assert example_option_problems(examples, lambda short: {"count"} if short == "thing" else None) == [
        "task 0 (Do it): hyperv.backup.thing has no option size"]
    assert example_option_problems(examples, lambda short: None) == [
        "task 0 (Do it): hyperv.backup.thing does not exist"]


def test_ansible_doc_reports_a_plugin_without_documentation():
    entry, problems = ansible_doc(f"{COLLECTION}.no_such_module")
    assert entry is None
    assert any("no documentation" in p for p in problems), problems


def test_attributes_from_the_collection_fragment_count():
    stub = GOOD_STUB.replace("  platform: {support: full, platforms: windows}\n", "")
    assert stub_problems("thing", stub) == ["DOCUMENTATION attributes.platform is missing or has no support"]
    with_fragment = stub.replace("attributes:\n", "extends_documentation_fragment: [hyperv.backup.attributes]\nattributes:\n")
    assert stub_problems("thing", with_fragment) == []
