"""The changelog, kept with antsibull-changelog: fragments in changelogs/fragments/ until a release, which turns them
into changelogs/changelog.yaml and CHANGELOG.rst (docs/releasing.md). ``make changelog`` previews those notes."""
import re
import shutil

import pytest
import yaml

from tests.sanity import gatekit

pytestmark = pytest.mark.gate

CHANGELOGS = gatekit.ROOT / "changelogs"


def antsibull_changelog(*args, cwd=gatekit.ROOT):
    return gatekit.run([gatekit.tool("antsibull-changelog"), *args], cwd=cwd)


def test_antsibull_changelog_lint_passes():
    """Every fragment is YAML with known sections and RST that parses; changelog.yaml is valid."""
    proc = antsibull_changelog("lint")
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.text


def test_changelog_yaml_is_valid():
    proc = antsibull_changelog("lint-changelog-yaml", CHANGELOGS / "changelog.yaml")
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.text


def words(text):
    return re.sub(r"\s+", " ", text).strip()


def test_the_release_notes_of_the_next_release_hold_every_fragment(tmp_path):
    rst, log = gatekit.changelog_preview(tmp_path / "preview")
    assert rst is not None, log
    notes = words(rst.read_text(encoding="utf-8"))
    assert f"v{gatekit.VERSION}" in notes
    entries = []
    for fragment in sorted((CHANGELOGS / "fragments").glob("*.y*ml")):
        for section, items in yaml.safe_load(fragment.read_text(encoding="utf-8")).items():
            if section != "trivial":
                entries += [(fragment.name, words(item)) for item in ([items] if isinstance(items, str) else items)]
    assert entries
    assert not [entry for entry in entries if entry[1] not in notes], "fragment entries missing from the notes"
    assert (CHANGELOGS / "fragments").is_dir() and list((CHANGELOGS / "fragments").iterdir()), \
        "the preview works on a copy: the checkout keeps its fragments"


def test_a_broken_fragment_fails_the_lint(tmp_path):
    copy = tmp_path / "collection"
    shutil.copytree(CHANGELOGS, copy / "changelogs")
    shutil.copyfile(gatekit.ROOT / "galaxy.yml", copy / "galaxy.yml")
    (copy / "changelogs" / "fragments" / "99-broken.yml").write_text(
        "bugfixes:\n  - host_facts - a plain scalar with: a colon\n", encoding="utf-8")
    (copy / "changelogs" / "fragments" / "99-unknown-section.yml").write_text(
        "new_stuff:\n  - host_facts - something\n", encoding="utf-8")
    proc = antsibull_changelog("lint", cwd=copy)
    assert proc.returncode != 0
    assert "99-broken.yml" in proc.stdout and "99-unknown-section.yml" in proc.stdout
