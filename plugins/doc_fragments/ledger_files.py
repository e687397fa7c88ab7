# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    """The ledger's two files, shared by release_ledger and release_ledger_info."""

    DOCUMENTATION = r"""
options:
  path:
    description: Ledger file.
    type: path
    default: /var/lib/liveavatar-rollout/ledger.json
  lock_path:
    description: Lock file.
    type: path
    default: /var/lib/liveavatar-rollout/rollout.lock
"""
