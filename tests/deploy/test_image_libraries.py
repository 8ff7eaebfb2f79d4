"""The Containerfile's runtime stage provides every shared library the binary
needs, although the image cannot be built here (no container engine).

The binary is linked on this machine, which runs the runtime image's Debian
release. `ldd` lists the libraries it resolves; each one must be shipped by a
package of what the runtime stage installs: the closure of RUNTIME_PACKAGES
under Depends and Pre-Depends, as apt resolves it for an empty system (no
Recommends, like `--no-install-recommends`), plus the Priority: required
packages that debian:bookworm-slim consists of. File lists come from the
packages themselves (`apt-get download`, `dpkg-deb -c`), cached under
target/deploy-cache.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from pathlib import Path, PurePosixPath

import pytest

from conftest import REPO

CONTAINERFILE = REPO / "Containerfile"
CACHE = REPO / "target" / "deploy-cache" / "debs"
# Where the dynamic loader of Debian amd64 finds libraries (ld.so.conf and
# the built-in defaults), as package paths (usr-merged or not).
LIBRARY_DIRS = {
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib",
    "/usr/lib",
    "/lib64",
    "/usr/lib64",
}
# Provided by the kernel, not by a file.
KERNEL_PROVIDED = {"linux-vdso.so.1", "linux-gate.so.1"}


def containerfile_arg(name: str) -> str:
    m = re.search(rf'^ARG {name}="?([^"\n]*)"?$', CONTAINERFILE.read_text(), re.M)
    assert m, f"Containerfile has no line ARG {name}=..."
    return m.group(1)


def runtime_packages() -> list[str]:
    return containerfile_arg("RUNTIME_PACKAGES").split()


def release_binary() -> Path:
    """The binary whose libraries are checked.

    The release binary when there is one (PORTCULLIS_RELEASE_BIN, or
    target/release), else the debug one: it needs every library the release
    build does, because both link the same native libraries (the same build
    scripts emit the same link lines) and what the release profile changes,
    LTO and dead-code removal under the linker's --as-needed, can only drop a
    library, never add one. scripts/test.sh checks the debug binary, which it
    builds anyway, rather than spend ten minutes on a release build.
    """
    explicit = os.environ.get("PORTCULLIS_RELEASE_BIN")
    if explicit:
        return Path(explicit)
    for profile in ("release", "debug"):
        p = REPO / "target" / profile / "portcullis-server"
        if p.exists():
            return p
    pytest.fail("no binary: build one (cargo build -p portcullis-server) or set PORTCULLIS_RELEASE_BIN")


def ldd(binary: Path) -> dict[str, str | None]:
    """soname -> resolved path (None for the kernel's vDSO)."""
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    libs: dict[str, str | None] = {}
    for line in out.splitlines():
        line = line.strip()
        if m := re.match(r"^(\S+) => not found$", line):
            pytest.fail(f"ldd: {m.group(1)} is not found even on this machine")
        if m := re.match(r"^(\S+) => (\S+) \(0x[0-9a-f]+\)$", line):
            libs[m.group(1)] = m.group(2)
        elif m := re.match(r"^(\S+) \(0x[0-9a-f]+\)$", line):
            name = m.group(1)
            # The vDSO has no file; the loader is named by its path.
            libs[PurePosixPath(name).name] = None if name in KERNEL_PROVIDED else name
        elif line:
            pytest.fail(f"unexpected ldd line: {line!r}")
    assert libs, out
    return libs


@functools.lru_cache(maxsize=None)
def priority_required() -> tuple[str, ...]:
    """The packages Debian marks Priority: required (or Essential), which the
    -slim images consist of."""
    out = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, text=True, check=True).stdout
    names, package = set(), None
    for line in out.splitlines():
        if line.startswith("Package: "):
            package = line[9:].strip()
        elif line in ("Priority: required", "Essential: yes"):
            names.add(package)
    assert {"base-files", "dpkg", "coreutils"} <= names, "no Priority: required packages in the apt lists (run apt-get update)"
    return tuple(sorted(names))


def install_closure(packages: list[str]) -> dict[str, tuple[str, str]]:
    """What `apt-get install --no-install-recommends packages` installs on an
    empty system: package -> (version, architecture)."""
    status = CACHE.parent / "empty-dpkg-status"
    status.parent.mkdir(parents=True, exist_ok=True)
    status.write_text("")
    cmd = [
        "apt-get", "install", "--simulate", "--no-install-recommends", "-qq",
        "-o", f"Dir::State::status={status}", *packages,
    ]
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
    assert p.returncode == 0, f"{' '.join(cmd)} failed:\n{p.stdout}\n{p.stderr}"
    closure = {}
    for m in re.finditer(r"^Inst (\S+) \((\S+) .*\[([^\]]+)\]\)", p.stdout, re.M):
        closure[m.group(1).split(":")[0]] = (m.group(2), m.group(3))
    assert set(packages) <= set(closure), f"apt would not install {set(packages) - set(closure)}"
    return closure


def deb_name(package: str, version: str, arch: str) -> str:
    return f"{package}_{version.replace(':', '%3a')}_{arch}.deb"


def download(closure: dict[str, tuple[str, str]]) -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    missing = [f"{p}={v}" for p, (v, a) in closure.items() if not (CACHE / (deb_name(p, v, a) + ".contents")).exists()]
    if not missing:
        return
    cmd = ["apt-get", "download", "-qq", *missing]
    p = subprocess.run(cmd, cwd=CACHE, capture_output=True, text=True)
    if p.returncode != 0 and re.search(r"Unable to locate|Can't find a source|Version .* was not found", p.stderr):
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        p = subprocess.run(cmd, cwd=CACHE, capture_output=True, text=True)
    assert p.returncode == 0, f"apt-get download failed (needs Debian's package mirror):\n{p.stderr}"


def package_files(package: str, version: str, arch: str) -> list[str]:
    """The paths a package ships (files and symlinks), from `dpkg-deb -c`."""
    deb = CACHE / deb_name(package, version, arch)
    contents = deb.with_name(deb.name + ".contents")
    if not contents.exists():
        listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
        paths = []
        for line in listing.splitlines():
            m = re.match(r"^\S+\s+\S+\s+\d+\s+\S+\s+\S+\s+\.(/.*?)(?: -> .*)?$", line)
            assert m, f"unexpected dpkg-deb -c line: {line!r}"
            paths.append(m.group(1).rstrip("/") or "/")
        contents.write_text("\n".join(paths) + "\n")
        deb.unlink()  # the file list is all we keep
    return contents.read_text().split()


def shipped_libraries(packages: list[str]) -> dict[str, str]:
    """File name -> package, for files in the loader's directories of
    everything the runtime stage has."""
    return dict(_shipped_libraries(tuple(sorted(set(packages)))))


@functools.lru_cache(maxsize=None)
def _shipped_libraries(packages: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    closure = install_closure(sorted(set(packages) | set(priority_required())))
    download(closure)
    shipped: dict[str, str] = {}
    for package, (version, arch) in sorted(closure.items()):
        for path in package_files(package, version, arch):
            p = PurePosixPath(path)
            if str(p.parent) in LIBRARY_DIRS:
                shipped.setdefault(p.name, package)
    return tuple(shipped.items())


def unprovided(libraries: dict[str, str | None], packages: list[str]) -> dict[str, str]:
    """Libraries ldd resolved that no package of the image ships."""
    shipped = shipped_libraries(packages)
    return {name: path for name, path in libraries.items() if path and PurePosixPath(path).name not in shipped}


@pytest.fixture(scope="module")
def libraries() -> dict[str, str | None]:
    return ldd(release_binary())


def test_runtime_image_is_this_machines_debian_release():
    os_release = dict(re.findall(r'^(\w+)="?([^"\n]*)"?$', Path("/etc/os-release").read_text(), re.M))
    codename = os_release.get("VERSION_CODENAME")
    assert os_release.get("ID") == "debian" and codename, os_release
    assert containerfile_arg("RUNTIME_IMAGE") == f"docker.io/library/debian:{codename}-slim"
    assert containerfile_arg("BUILD_IMAGE").endswith(f"-{codename}")


def test_containerfile_runtime_stage():
    text = CONTAINERFILE.read_text()
    for line in [
        'ENTRYPOINT ["portcullis-server"]',
        'CMD ["serve"]',
        "USER 10001:10001",
        "EXPOSE 8080 9090",
        'VOLUME ["/var/lib/portcullis"]',
        "ENV PORTCULLIS_LISTEN=0.0.0.0:8080",
        "PORTCULLIS_DATA_DIR=/var/lib/portcullis",
        "apt-get install -y --no-install-recommends ${RUNTIME_PACKAGES}",
        "cargo build --release --locked -p portcullis-server --bin portcullis-server",
        "libxmlsec1-dev libclang-dev pkg-config",
    ]:
        assert line in text, f"Containerfile lacks {line!r}"
    assert {"libxmlsec1", "libxmlsec1-openssl", "ca-certificates"} <= set(runtime_packages())
    assert "/healthz" in text and "/readyz" in text


def test_runtime_packages_provide_every_library(libraries):
    packages = runtime_packages()
    shipped = shipped_libraries(packages)
    missing = {n: p for n, p in libraries.items() if p and PurePosixPath(p).name not in shipped}
    assert not missing, f"the runtime stage ({' '.join(packages)}) ships none of {missing}: add their packages to RUNTIME_PACKAGES"
    # The loader comes from libc6, the vDSO from the kernel.
    assert shipped["ld-linux-x86-64.so.2"] == "libc6"
    assert libraries.get("linux-vdso.so.1", None) is None
    # The SAML stack is linked in (not loaded at run time by name only).
    assert {"libxmlsec1.so.1", "libxmlsec1-openssl.so.1"} <= set(libraries)
    print("provided:", ", ".join(f"{n} ({shipped[PurePosixPath(p).name]})" for n, p in sorted(libraries.items()) if p))


def test_the_check_fails_without_libxmlsec1(libraries):
    """The same check with libxmlsec1 taken out of the list (and
    libxmlsec1-openssl, which depends on it and would bring it back) leaves
    the SAML libraries unprovided."""
    reduced = [p for p in runtime_packages() if not p.startswith("libxmlsec1")]
    assert reduced != runtime_packages()
    missing = unprovided(libraries, reduced)
    assert {"libxmlsec1.so.1", "libxmlsec1-openssl.so.1"} <= set(missing), missing
    # libxslt comes only through libxmlsec1 too.
    assert "libxslt.so.1" in missing
