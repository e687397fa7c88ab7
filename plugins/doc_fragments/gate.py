# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    """Shared attributes of the read-only gate modules."""

    DOCUMENTATION = r"""
attributes:
  check_mode:
    support: full
    description: A gate only reads; it decides the same way in check mode.
  diff_mode:
    support: none
    description: A gate changes nothing, so there is no diff.
  idempotent:
    support: full
    description: The same inputs always give the same verdict and C(changed=false).
notes:
  - Gates decide, playbooks act. A failed gate returns C(passed=false) with a one-line C(reason);
    the module itself fails only on input it cannot judge.
"""
