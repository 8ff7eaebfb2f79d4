"""Shared helpers of the deployment tests: the chart, rendering, and the
manifests' containers and Secrets."""

from __future__ import annotations

import base64
import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART_DIR = REPO / "deploy" / "helm" / "portcullis"
EXAMPLES = sorted((CHART_DIR / "examples").glob("*.yaml"))
RELEASE = "portcullis-test"
NAMESPACE = "portcullis"

# Extras every example needs to render (the examples hold only the
# documentation's snippets).
BASE_EXTRAS: dict[str, Any] = {"publicUrl": "https://portcullis.example.com"}
# A secret key in the documented form (`openssl rand -base64 32`); fixed so
# that renders compare.
SECRET_KEY = "q0Yc1mB7n0zq8vJ5f8s4mVdN1p9Xw2Lr6tH3kE5uA7c="
DATABASE_URL = "postgres://portcullis:db-password-9f3b@postgres.example.internal:5432/portcullis"


def load_yaml(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f) or {}


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep merge (override wins), as Helm merges several values files."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def example_values(path: Path, *extra: dict[str, Any]) -> dict[str, Any]:
    values = merge(load_yaml(path), BASE_EXTRAS)
    for e in extra:
        values = merge(values, e)
    return values


@pytest.fixture(scope="session")
def helm():
    import helm_python

    return helm_python


@pytest.fixture(scope="session")
def chart(helm):
    c = helm.Chart.load(str(CHART_DIR))
    yield c
    c.close()


class Rendered:
    """The result of one render: template path -> text, and the parsed
    Kubernetes objects."""

    def __init__(self, manifests: dict[str, str]):
        self.manifests = manifests
        self.objects: list[tuple[str, dict[str, Any]]] = []
        for path, text in manifests.items():
            if path.endswith("NOTES.txt"):
                continue
            for doc in yaml.safe_load_all(text):
                if doc:
                    self.objects.append((path, doc))

    @property
    def notes(self) -> str:
        return next((t for p, t in self.manifests.items() if p.endswith("NOTES.txt")), "")

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for _, o in self.objects if o.get("kind") == kind]

    def one(self, kind: str) -> dict[str, Any]:
        found = self.of_kind(kind)
        assert len(found) == 1, f"expected one {kind}, rendered {len(found)}"
        return found[0]

    def secret(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self.of_kind("Secret") if s["metadata"]["name"] == name), None)

    def secret_data(self, name: str) -> dict[str, str] | None:
        """A rendered Secret's content (stringData, and base64 data)."""
        s = self.secret(name)
        if s is None:
            return None
        data = {k: base64.b64decode(v).decode() for k, v in (s.get("data") or {}).items()}
        data.update(s.get("stringData") or {})
        return data

    def non_secret_text(self) -> str:
        """Everything rendered except Secret objects (NOTES.txt included)."""
        parts = [self.notes]
        parts += [yaml.safe_dump(o) for _, o in self.objects if o.get("kind") != "Secret"]
        # The raw text too, so that comments are searched as well.
        for path, text in self.manifests.items():
            if not any(o.get("kind") == "Secret" for p, o in self.objects if p == path):
                parts.append(text)
        return "\n".join(parts)


def render(chart, values: dict[str, Any], **kw) -> Rendered:
    kw.setdefault("name", RELEASE)
    kw.setdefault("namespace", NAMESPACE)
    kw.setdefault("is_install", True)
    return Rendered(chart.render(values, **kw))


def container(obj: dict[str, Any]) -> dict[str, Any]:
    containers = obj["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def process_env(r: Rendered, c: dict[str, Any]) -> dict[str, str]:
    """The environment Kubernetes would give container `c`: envFrom first,
    then env (which wins), secrets resolved through the rendered Secrets."""
    env: dict[str, str] = {}
    for source in c.get("envFrom") or []:
        assert set(source) == {"secretRef"}, f"unexpected envFrom source {source}"
        name = source["secretRef"]["name"]
        data = r.secret_data(name)
        assert data is not None, f"envFrom names the Secret {name}, which the chart did not render"
        env.update(data)
    for entry in c.get("env") or []:
        if "value" in entry:
            env[entry["name"]] = entry["value"]
            continue
        ref = entry["valueFrom"]["secretKeyRef"]
        data = r.secret_data(ref["name"])
        assert data is not None, f"{entry['name']} comes from the Secret {ref['name']}, which the chart did not render"
        assert ref["key"] in data, f"{entry['name']}: the Secret {ref['name']} has no key {ref['key']}"
        env[entry["name"]] = data[ref["key"]]
    return env


def server_binary() -> Path:
    """The portcullis-server binary for the tests that run it."""
    explicit = os.environ.get("PORTCULLIS_SERVER_BIN")
    if explicit:
        return Path(explicit)
    for profile in ("debug", "release"):
        p = REPO / "target" / profile / "portcullis-server"
        if p.exists():
            return p
    pytest.fail(
        "no portcullis-server binary: build it with `cargo build -p portcullis-server` "
        "(or set PORTCULLIS_SERVER_BIN)"
    )
