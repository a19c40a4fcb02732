"""The collection in an execution environment (AWX, Automation Platform), checked with ansible-builder without
building an image (no container engine needed):

- meta/execution-environment.yml, the collection's dependency declaration, as ansible-builder reads it from an
  installed copy of the artifact (``ansible-builder introspect``, the step that runs inside an image build);
- docs/awx/execution-environment.yml, the definition of an execution environment with the collection, turned into
  a build context by ``ansible-builder create``.
"""
import pytest
import yaml

from tests.sanity import gatekit

pytestmark = [pytest.mark.gate, pytest.mark.pinned_gate]

DEFINITION = gatekit.ROOT / "docs" / "awx" / "execution-environment.yml"


def requirement_lines():
    lines = (gatekit.ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_ansible_builder_finds_the_collections_python_requirements(installed, tmp_path):
    proc = gatekit.run([gatekit.tool("ansible-builder"), "introspect", "--sanitize", installed], cwd=tmp_path)
    assert proc.returncode == 0, proc.text
    found = yaml.safe_load(proc.stdout)
    assert requirement_lines()
    assert found["python"] == [f"{line}  # from collection {gatekit.FQCN}" for line in requirement_lines()]
    assert not found["system"]


def create(definition, context):
    return gatekit.run([gatekit.tool("ansible-builder"), "create", "--file", definition, "--context", context,
                        "--output-filename", "Containerfile"], cwd=definition.parent)


def test_ansible_builder_creates_the_build_context(tmp_path):
    proc = create(DEFINITION, tmp_path / "context")
    assert proc.returncode == 0, proc.text
    containerfile = (tmp_path / "context" / "Containerfile").read_text(encoding="utf-8")
    requirements = yaml.safe_load((tmp_path / "context" / "_build" / "requirements.yml").read_text(encoding="utf-8"))
    assert gatekit.FQCN in [c["name"] for c in requirements["collections"]]
    assert "ansible-galaxy collection install" in containerfile
    assert "introspect" in containerfile                     # the collections' requirements are read in the build
    assert "ansible-core>=2.19" in containerfile


def test_ansible_builder_refuses_a_definition_it_does_not_know(tmp_path):
    """``create`` validates the definition: the check above is not one that always passes."""
    definition = yaml.safe_load(DEFINITION.read_text(encoding="utf-8"))
    definition["dependencies"]["pyhton"] = ["pywinrm"]
    bad = tmp_path / "execution-environment.yml"
    bad.write_text(yaml.safe_dump(definition), encoding="utf-8")
    (tmp_path / "requirements.yml").write_text((DEFINITION.parent / "requirements.yml").read_text(encoding="utf-8"),
                                               encoding="utf-8")
    proc = create(bad, tmp_path / "context")
    assert proc.returncode != 0 and "pyhton" in proc.text
