"""Build a signed flat apt repository of small test packages, a stand-in for a vendor mirror.

NVIDIA's CUDA and container-toolkit repositories are not reachable here; pointing the roles' mirror
variables at this repository tests their repository, key and pinning logic for real. The packages
carry only a README saying they are test packages: they install no driver and no binary.

Usage: apt_mirror.py SPEC.yml OUT_DIR
SPEC: {repo: [{name, version, depends?, files?}]} (a flat repository, as NVIDIA's), or
      {repo: {suite: stable, component: main, packages: [...]}} (dists/ layout, as InfluxData's, Grafana's, Elastic's)
"""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import sys
import tempfile
import textwrap
from email.utils import formatdate
from pathlib import Path

import yaml


def build_deb(package, out_dir, work):
    """dpkg-deb a package with the given control fields and files; return its path."""
    root = work / f"{package['name']}_{package['version']}"
    (root / "DEBIAN").mkdir(parents=True)
    files = dict(package.get("files") or {})
    files[f"/usr/share/doc/{package['name']}/README.molecule"] = "Test package built by molecule's apt_mirror.py; not NVIDIA's.\n"
    for path, content in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    control = {
        "Package": package["name"],
        "Version": package["version"],
        "Architecture": package.get("architecture", "all"),
        "Maintainer": "liveavatar.rollout molecule <molecule@localhost>",
        "Description": f"test stand-in for {package['name']} {package['version']}",
    }
    if package.get("depends"):
        control["Depends"] = package["depends"]
    (root / "DEBIAN/control").write_text("".join(f"{k}: {v}\n" for k, v in control.items()))
    deb = out_dir / f"{package['name']}_{package['version'].replace(':', '%3a')}_{control['Architecture']}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(deb)], check=True, capture_output=True)
    return deb, control


def write_index(repo_dir, debs, suite=None, component=None):
    stanzas = []
    for deb, control in debs:
        data = deb.read_bytes()
        prefix = control.pop("_prefix", "./")
        fields = dict(control, Filename=f"{prefix}{deb.name}", Size=str(len(data)), SHA256=hashlib.sha256(data).hexdigest())
        stanzas.append("".join(f"{k}: {v}\n" for k, v in fields.items()))
    packages = "\n".join(stanzas).encode()
    release_dir, names = repo_dir, ["Packages", "Packages.gz"]
    if suite:
        release_dir = repo_dir / "dists" / suite
        names = [f"{component}/binary-{arch}/{n}" for arch in ("amd64", "arm64") for n in names]
    for name in names:
        (release_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (release_dir / name).write_bytes(gzip.compress(packages, mtime=0) if name.endswith(".gz") else packages)
    sums = "".join(f" {hashlib.sha256((release_dir / n).read_bytes()).hexdigest()} {(release_dir / n).stat().st_size} {n}\n" for n in names)
    header = f"Suite: {suite}\nCodename: {suite}\nComponents: {component}\n" if suite else ""
    release = (
        f"Origin: liveavatar-molecule\nLabel: liveavatar-molecule\n{header}Architectures: amd64 arm64 all\nDate: {formatdate(usegmt=True)}\nSHA256:\n{sums}"
    )
    (release_dir / "Release").write_text(release)
    return release_dir


def sign(repo_dirs, out_dir):
    """One throw-away key signs every repository; its public half is served as key.asc."""
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, GNUPGHOME=home)
        gpg = ["gpg", "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", ""]
        subprocess.run([*gpg, "--quick-gen-key", "liveavatar molecule mirror <molecule@localhost>", "ed25519", "sign", "1d"], env=env, check=True)
        public = subprocess.run([*gpg, "--armor", "--export"], env=env, check=True, capture_output=True).stdout
        (out_dir / "key.asc").write_bytes(public)
        for repo_dir in repo_dirs:
            release = repo_dir / "Release"
            subprocess.run([*gpg, "--yes", "--clearsign", "-o", str(repo_dir / "InRelease"), str(release)], env=env, check=True)
            subprocess.run([*gpg, "--yes", "--armor", "--detach-sign", "-o", str(repo_dir / "Release.gpg"), str(release)], env=env, check=True)


def main(argv):
    if len(argv) != 3:
        sys.exit(textwrap.dedent(__doc__).strip().splitlines()[-1])
    spec = yaml.safe_load(Path(argv[1]).read_text())
    out_dir = Path(argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    repo_dirs = []
    with tempfile.TemporaryDirectory() as work:
        for repo, entry in spec.items():
            layout = entry if isinstance(entry, dict) else {"packages": entry}
            repo_dir = out_dir / repo
            pool = repo_dir / "pool" if layout.get("suite") else repo_dir
            pool.mkdir(parents=True, exist_ok=True)
            debs = [build_deb(p, pool, Path(work)) for p in layout["packages"]]
            if layout.get("suite"):
                debs = [(deb, dict(control, _prefix="pool/")) for deb, control in debs]
            repo_dirs.append(write_index(repo_dir, debs, layout.get("suite"), layout.get("component", "main")))
    sign(repo_dirs, out_dir)
    print(f"apt_mirror: {', '.join(str(d) for d in repo_dirs)} signed; key {out_dir / 'key.asc'}")


if __name__ == "__main__":
    main(sys.argv)
