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
