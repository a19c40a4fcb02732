"""Make the checkout importable as ``ansible_collections.hyperv.backup`` and hvsim importable as ``hvsim``."""
import os
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
COLLECTIONS = os.path.join(ROOT, ".collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "hyperv", "backup")

if not os.path.lexists(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(os.path.join("..", "..", ".."), LINK)

for path in (COLLECTIONS, os.path.join(ROOT, "tools")):
    if path not in sys.path:
        sys.path.insert(0, path)

# Ansible's collection loader, installed before any test module imports the collection: every
# ``ansible_collections.hyperv.backup`` import then goes through it, as in ansible itself, whatever the order
# in which pytest imports the test modules (an action plugin under test needs it; a module imported before it
# was installed and one imported after would otherwise disagree about the collection's metadata).
from ansible.plugins.loader import init_plugin_loader  # noqa: E402

init_plugin_loader([COLLECTIONS])

