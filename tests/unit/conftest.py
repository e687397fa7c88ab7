"""Make the collection importable as ansible_collections.liveavatar.rollout without installing it."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / ".collections"
link = COLLECTIONS / "ansible_collections" / "liveavatar" / "rollout"
if not link.exists():
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(Path("../../.."))
sys.path.insert(0, str(COLLECTIONS))

REAL_FIXTURES = ROOT.parent / "shared" / "fixtures" / "real"
