# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    """Shared attributes of the modules that only read the host or compute (facts and preflight checks)."""

    DOCUMENTATION = r"""
attributes:
  check_mode:
    support: full
    description: Reads or computes only; the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing.
  idempotent:
    support: full
    description: Reads or computes only; always C(changed=false).
"""
