"""Count the files a reader opens to follow one release: rollout.yml and everything it reaches.

Follows, from playbooks/rollout.yml: imported playbooks, include/import_tasks, include/import_role (the role's
tasks, defaults, argument specs, templates and files it names), scripts, group_vars, and every collection module,
filter and module_utils the tasks call (transitively through module_utils imports).

    python3 benchmarks/release_reading.py [REPO_ROOT]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

FQCN = re.compile(r"liveavatar\.rollout\.([a-z_]+)")
INCLUDE = re.compile(r"(?:include_tasks|import_tasks|import_playbook):\s*(?:file:\s*)?[\"']?([\w./-]+\.yml)")
TASKS_FROM = re.compile(r"tasks_from:\s*[\"']?([\w-]+)")
SCRIPT = re.compile(r"(?:cmd|script):\s*[\"'>-]*\s*(?:\{\{[^}]*\}\}\s*)?([\w.-]+\.(?:py|sh))\b")
TEMPLATE = re.compile(r"src:\s*[\"']?([\w./-]+\.j2)")
UTILS = re.compile(r"plugins\.module_utils(?:\.| import )([a-z_, ]+)")


def reached(root):
    seen, queue = set(), [root / "playbooks" / "rollout.yml"]
    queue += sorted((root / "playbooks" / "group_vars").glob("*.yml"))

    def add(path):
        if path.is_file() and path not in seen:
            queue.append(path)

    while queue:
        path = queue.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        text = path.read_text(errors="replace")
        if path.suffix == ".py":
            for group in UTILS.findall(text):
                for name in re.split(r"[,\s]+", group.strip()):
                    add(root / "plugins" / "module_utils" / f"{name}.py")
            continue
        for name in INCLUDE.findall(text):
            add(path.parent / name)
        for name in SCRIPT.findall(text):
            for folder in (path.parent / "files", path.parent.parent / "files"):
                add(folder / name)
        for name in TEMPLATE.findall(text):
            for folder in (path.parent / "templates", path.parent.parent / "templates"):
                add(folder / name)
        for name in FQCN.findall(text):
            role = root / "roles" / name
            if role.is_dir():
                entry = TASKS_FROM.findall(text) or ["main"]
                for item in entry:
                    add(role / "tasks" / f"{item}.yml")
                add(role / "tasks" / "main.yml")
                add(role / "defaults" / "main.yml")
                add(role / "meta" / "argument_specs.yml")
                add(role / "vars" / "main.yml")
            for kind in ("modules", "filter", "test"):
                add(root / "plugins" / kind / f"{name}.py")
    return sorted(p.relative_to(root) for p in seen)


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]).resolve()
    files = reached(root)
    for path in files:
        print(path)
    for label, group in (("YAML and templates", [p for p in files if p.suffix != ".py"]), ("Python", [p for p in files if p.suffix == ".py"])):
        print(f"{label}: {len(group)} files, {sum(len((root / p).read_text(errors='replace').splitlines()) for p in group)} lines")
    print(f"{len(files)} files, {sum(len((root / p).read_text(errors='replace').splitlines()) for p in files)} lines")


if __name__ == "__main__":
    main()
