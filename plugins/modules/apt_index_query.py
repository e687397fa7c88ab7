#!/usr/bin/python
# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: apt_index_query
short_description: Which versions of some packages an apt mirror offers, read before the mirror is configured
version_added: 0.2.0
description:
  - Downloads one or more C(Packages), C(Packages.gz) or C(Packages.xz) indexes of an apt repository and
    returns the versions, and driver branches, offered for the named packages.
  - Lets a role refuse a driver branch or a pinned version that the mirror does not have, before it adds
    the mirror to the host or installs anything.
  - An index that cannot be downloaded or read fails the module unless another index of the list was read.
options:
  index_urls:
    description: URLs of Packages indexes, for example C(<mirror>/dists/bookworm/non-free/binary-amd64/Packages.xz).
    type: list
    elements: str
    required: true
  packages:
    description: Package names to report.
    type: list
    elements: str
    required: true
  validate_certs:
    description: Verify the mirror's TLS certificate.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each index.
    type: int
    default: 30
extends_documentation_fragment:
  - liveavatar.rollout.read_only
author:
  - liveavatar.rollout maintainers (@liveavatar)
"""

EXAMPLES = r"""
- name: Read which driver branches Debian's non-free component offers
  liveavatar.rollout.apt_index_query:
    index_urls:
      - http://deb.debian.org/debian/dists/bookworm/non-free/binary-amd64/Packages.xz
      - http://deb.debian.org/debian/dists/bookworm-updates/non-free/binary-amd64/Packages.xz
    packages: [nvidia-driver]
  register: offered

- name: Refuse a branch the mirror does not have
  ansible.builtin.assert:
    that: "'550' in offered.branches['nvidia-driver']"
    fail_msg: "branch 550 is not offered (offered: {{ offered.branches['nvidia-driver'] | join(', ') }})"
"""

RETURN = r"""
versions:
  description: Versions offered per requested package, in index order (empty list when absent).
  returned: success
  type: dict
  sample: {"nvidia-driver": ["535.261.03-1"]}
branches:
  description: Major version numbers (driver branches) offered per requested package, ascending.
  returned: success
  type: dict
  sample: {"nvidia-driver": ["535"]}
unreadable:
  description: Indexes that could not be read, with the reason (the module fails when all are).
  returned: success
  type: list
  elements: str
  sample: ["http://mirror/dists/bookworm-updates/non-free/binary-amd64/Packages.xz: HTTP Error 404: Not Found"]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

from ansible_collections.liveavatar.rollout.plugins.module_utils.apt_index import AptIndexError, decode_index, offered_versions, parse_packages


def main():
    module = AnsibleModule(
        argument_spec={
            "index_urls": {"type": "list", "elements": "str", "required": True},
            "packages": {"type": "list", "elements": "str", "required": True},
            "validate_certs": {"type": "bool", "default": True},
            "timeout": {"type": "int", "default": 30},
        },
        supports_check_mode=True,
    )
    indexes, unreadable = [], []
    for url in module.params["index_urls"]:
        try:
            body = open_url(url, validate_certs=module.params["validate_certs"], timeout=module.params["timeout"]).read()
            indexes.append(parse_packages(decode_index(url, body)))
        except AptIndexError as exc:
            unreadable.append(str(exc))
        except Exception as exc:  # noqa: BLE001 - any download failure is reported with its URL
            unreadable.append(f"{url}: {exc}")
    if not indexes:
        module.fail_json(msg=f"apt_index_query: no package index could be read ({'; '.join(unreadable)}): check the mirror URL", unreadable=unreadable)
    versions, branches = offered_versions(indexes, module.params["packages"])
    module.exit_json(changed=False, versions=versions, branches=branches, unreadable=unreadable)


if __name__ == "__main__":
    main()
