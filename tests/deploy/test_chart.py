"""The Helm chart deploy/helm/portcullis, rendered offline with Helm's own
Go SDK (helm-python-sdk), linted strictly, and validated against the
Kubernetes OpenAPI schemas (kubernetes-validate)."""

from __future__ import annotations

import re

import pytest
import yaml

from conftest import (
    BASE_EXTRAS,
    CHART_DIR,
    DATABASE_URL,
    EXAMPLES,
    REPO,
    SECRET_KEY,
    container,
    example_values,
    load_yaml,
    merge,
    render,
)

# The Kubernetes versions validated against: the chart's kubeVersion floor
# (Chart.yaml: >=1.25) and a current release.
KUBE_VERSIONS = ("1.25.0", "1.31.0")

# Custom resources kubernetes-validate has no schema for; their shape is
# checked by check_service_monitor below instead.
CRD_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}

# Rendered variants of every example: the defaults (SQLite on a PVC, one
# replica), and a highly available one that switches on every optional
# template (PostgreSQL, three replicas, PDB, migration Job, Ingress with TLS,
# ServiceMonitor).
HA = {
    "replicaCount": 3,
    "database": {"url": DATABASE_URL},
    "secretKey": {"value": SECRET_KEY},
    "ingress": {
        "enabled": True,
        "className": "nginx",
        "hosts": [{"host": "portcullis.example.com", "paths": [{"path": "/", "pathType": "Prefix"}]}],
        "tls": [{"secretName": "portcullis-tls", "hosts": ["portcullis.example.com"]}],
    },
    "metrics": {"serviceMonitor": {"enabled": True}},
    "topologySpreadConstraints": [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "portcullis"}},
        }
    ],
}
VARIANTS = {"sqlite": {}, "ha": HA}

CASES = [pytest.param(e, v, id=f"{e.stem}-{v}") for e in EXAMPLES for v in VARIANTS]


def secret_values(values: dict) -> dict[str, str]:
    """Every value that must stay inside Secret objects."""
    out = {k: v for k, v in (values.get("secrets") or {}).items() if k != "existingSecret"}
    if values.get("database", {}).get("url"):
        out["database.url"] = values["database"]["url"]
    if values.get("secretKey", {}).get("value"):
        out["secretKey.value"] = values["secretKey"]["value"]
    return out


def with_sentinels(values: dict) -> dict:
    """The same values with every secret replaced by a value that cannot
    occur by chance in the chart's own text."""
    v = merge(values, {})
    if v.get("secrets"):
        v["secrets"] = {k: (s if k == "existingSecret" else f"sentinel-{k}-7c1e9a") for k, s in v["secrets"].items()}
    if v.get("database", {}).get("url"):
        v["database"]["url"] = "postgres://u:sentinel-db-7c1e9a@db.example.internal/p"
    if v.get("secretKey", {}).get("value"):
        v["secretKey"]["value"] = "c2VudGluZWwta2V5LTdjMWU5YS0wMDAwMDAwMDAwMDA="
    return v


def check_service_monitor(obj: dict, rendered) -> None:
    assert obj["apiVersion"] == "monitoring.coreos.com/v1"
    spec = obj["spec"]
    service = rendered.one("Service")
    wanted = spec["selector"]["matchLabels"]
    assert wanted.items() <= service["metadata"]["labels"].items(), "the ServiceMonitor selects no Service"
    assert spec["namespaceSelector"] == {"matchNames": ["portcullis"]}
    (endpoint,) = spec["endpoints"]
    assert endpoint["port"] == "metrics" and endpoint["path"] == "/metrics"
    assert "metrics" in [p["name"] for p in service["spec"]["ports"]]
    assert re.fullmatch(r"\d+[smh]", endpoint["interval"])


@pytest.mark.parametrize("example,variant", CASES)
def test_example_renders_lints_and_validates(chart, helm, example, variant):
    import kubernetes_validate

    values = example_values(example, VARIANTS[variant])
    rendered = render(chart, values)

    report = helm.lint(str(CHART_DIR), values, strict=True)
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not problems and not report["errors"], f"helm lint: {problems} {report['errors']}"

    kinds = sorted(o["kind"] for _, o in rendered.objects)
    expected = {"Deployment", "Service", "ServiceAccount"}
    if variant == "ha":
        expected |= {"PodDisruptionBudget", "Job", "Ingress", "ServiceMonitor", "Secret"}
    else:
        expected |= {"PersistentVolumeClaim"}
    assert expected <= set(kinds), kinds

    for path, obj in rendered.objects:
        key = (obj["apiVersion"], obj["kind"])
        if key in CRD_KINDS:
            check_service_monitor(obj, rendered)
            continue
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                pytest.fail(f"{path}: {obj['kind']} is invalid for Kubernetes {version}: {e.message}")

    deployment = rendered.one("Deployment")
    c = container(deployment)
    env = {e["name"]: e for e in c["env"]}
    # envVars: plain env entries with string values.
    for name, value in values.get("envVars", {}).items():
        assert env[name] == {"name": name, "value": value}
    # secrets: in a Secret the Deployment takes by envFrom, never as env values.
    inline = {k: v for k, v in values.get("secrets", {}).items() if k != "existingSecret"}
    if inline:
        (source,) = c["envFrom"]
        data = rendered.secret_data(source["secretRef"]["name"])
        assert data == inline
        assert not set(inline) & set(env)
    # The database URL and the secret key: secretKeyRef into the chart's Secret.
    if variant == "ha":
        for name, value in (("DATABASE_URL", DATABASE_URL), ("PORTCULLIS_SECRET_KEY", SECRET_KEY)):
            ref = env[name]["valueFrom"]["secretKeyRef"]
            assert rendered.secret_data(ref["name"])[ref["key"]] == value
    else:
        assert "DATABASE_URL" not in env and "PORTCULLIS_SECRET_KEY" not in env

    # No secret value outside Secret objects. First with values that cannot
    # occur by chance, then the example's own values (ignoring those the
    # chart prints anyway, such as "default", which the render with
    # sentinels shows).
    sentinel_values = with_sentinels(values)
    sentinel_text = render(chart, sentinel_values).non_secret_text()
    for name, secret in secret_values(sentinel_values).items():
        assert secret not in sentinel_text, f"the value of {name} appears outside a Secret"
    text = rendered.non_secret_text()
    for name, secret in secret_values(values).items():
        if secret in text:
            assert secret in sentinel_text, f"the value of {name} ({secret!r}) appears outside a Secret"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_variable_names_are_documented(example):
    """A cheap guard against typos: every variable an example sets is named in
    docs/configuration.md."""
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)(?:=[^`]*)?`", (REPO / "docs" / "configuration.md").read_text()))
    values = load_yaml(example)
    names = set(values.get("envVars", {})) | (set(values.get("secrets", {})) - {"existingSecret"})
    assert names, "an example with no variables"
    assert not names - documented, f"not in docs/configuration.md: {sorted(names - documented)}"


SNIPPETS = {
    "entra_id": ["ENTRA_ID_CLIENT_ID"],
    "entra_id-cli": ["ENTRA_ID_CLIENT_ID", "ENTRA_ID_DEVICE_AUTHORIZATION_CLIENT_ID"],
    "okta": ["OKTA_CLIENT_ID", "OKTA_DEVICE_AUTHORIZATION_CLIENT_ID"],
    "keycloak": ["KEYCLOAK_CLIENT_ID"],
    "workos": ["WORKOS_CLIENT_ID"],
    "auth0": ["AUTH0_CLIENT_ID"],
}


def doc_snippet(lines: list[str], first_key: str) -> list[str]:
    """The flattened documentation's YAML snippet whose first secret is
    `first_key`: back to its `envVars:`/`secrets:` head, on to the fence."""
    i = next(n for n, line in enumerate(lines) if line.startswith(first_key + ":"))
    start = i
    while start > 0 and re.match(r"^(envVars:|secrets:|[A-Z0-9_]+: \".*\")$", lines[start - 1]):
        start -= 1
        if lines[start] == "envVars:":
            break
    end = next(n for n in range(i, len(lines)) if lines[n].startswith("```"))
    return [line.strip() for line in lines[start:end] if line.strip()]


@pytest.mark.parametrize("stem", sorted(SNIPPETS))
def test_examples_reproduce_the_documentation_snippets(stem):
    """The examples hold the platform documentation's `envVars:`/`secrets:`
    snippets verbatim: each snippet's lines, in order, comments included."""
    spec = REPO.parent / "shared" / "spec" / "seed-sso-platform-docs.txt"
    if not spec.exists():
        pytest.skip(f"{spec} is not part of this checkout")
    lines = spec.read_text().splitlines()
    example = [line.strip() for line in (CHART_DIR / "examples" / f"{stem}.yaml").read_text().splitlines() if line.strip()]
    for key in SNIPPETS[stem]:
        snippet = doc_snippet(lines, key)
        assert len(snippet) >= 2
        pos = 0
        for line in snippet:
            assert line in example[pos:], f"examples/{stem}.yaml lacks the documentation's line {line!r} (in order)"
            pos = example.index(line, pos) + 1
    # And the indentation is YAML's: the snippet's keys are map entries.
    values = load_yaml(CHART_DIR / "examples" / f"{stem}.yaml")
    assert set(values) <= {"envVars", "secrets"}


def test_existing_secret_renders_no_secret_and_is_taken_by_env_from(chart):
    values = merge(BASE_EXTRAS, {"envVars": {"AUTH_PROVIDER": "okta"}, "secrets": {"existingSecret": "idp-credentials"}})
    rendered = render(chart, values)
    assert rendered.of_kind("Secret") == []
    assert container(rendered.one("Deployment"))["envFrom"] == [{"secretRef": {"name": "idp-credentials"}}]

    # Everything from Secrets the operator manages: the chart renders none.
    values.update(
        {
            "replicaCount": 2,
            "database": {"existingSecret": "pg", "existingSecretKey": "uri"},
            "secretKey": {"existingSecret": "portcullis-key", "existingSecretKey": "key"},
        }
    )
    rendered = render(chart, values)
    assert rendered.of_kind("Secret") == []
    env = {e["name"]: e for e in container(rendered.one("Deployment"))["env"]}
    assert env["DATABASE_URL"]["valueFrom"] == {"secretKeyRef": {"name": "pg", "key": "uri"}}
    assert env["PORTCULLIS_SECRET_KEY"]["valueFrom"] == {"secretKeyRef": {"name": "portcullis-key", "key": "key"}}
    job = rendered.one("Job")
    assert container(job)["envFrom"] == [{"secretRef": {"name": "idp-credentials"}}]


def test_existing_secret_with_inline_keys_fails(chart, helm):
    values = merge(BASE_EXTRAS, {"secrets": {"existingSecret": "idp-credentials", "OKTA_CLIENT_SECRET": "x"}})
    with pytest.raises(helm.HelmRenderError, match=r"secrets\.existingSecret \(idp-credentials\).*inline keys \(OKTA_CLIENT_SECRET\)"):
        render(chart, values)


@pytest.mark.parametrize(
    "name",
    [
        "OKTA_CLIENT_SECRET",
        "ENTRA_ID_CLIENT_SECRET",
        "MY_SECRET_TOKEN",
        "PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD",
        "DATABASE_URL",
        "PORTCULLIS_SECRET_KEY",
        "PORTCULLIS_SECRET_KEY_PREVIOUS",
    ],
)
def test_schema_refuses_secret_looking_env_vars(chart, helm, name):
    values = merge(BASE_EXTRAS, {"envVars": {name: "hunter2hunter2"}})
    with pytest.raises(helm.HelmValuesError) as e:
        chart.validate_schema(values)
    assert f"/envVars/{name}" in str(e.value) and "move it from envVars to secrets" in str(e.value)
    with pytest.raises(helm.HelmValuesError, match=name):
        render(chart, values)
    # The same name under secrets is what the schema asks for.
    chart.validate_schema(merge(BASE_EXTRAS, {"secrets": {name: "hunter2hunter2"}}))


@pytest.mark.parametrize(
    "values,where",
    [
        ({"envVars": {"PORTCULLIS_TRUSTED_PROXY_HOPS": 2}}, "/envVars/PORTCULLIS_TRUSTED_PROXY_HOPS"),
        ({"envVars": {"PORTCULLIS_REQUIRE_ROLE": True}}, "/envVars/PORTCULLIS_REQUIRE_ROLE"),
        ({"secrets": {"OKTA_CLIENT_SECRET": 12345}}, "/secrets/OKTA_CLIENT_SECRET"),
        ({"envVars": {"AUTH_PROVIDER": "google"}}, "/envVars/AUTH_PROVIDER"),
        ({"envVars": {"bad-name": "x"}}, "bad-name"),
    ],
)
def test_schema_refuses_non_string_env_values_and_bad_names(chart, helm, values, where):
    with pytest.raises(helm.HelmValuesError) as e:
        chart.validate_schema(merge(BASE_EXTRAS, values))
    assert where in str(e.value)


@pytest.mark.parametrize(
    "values,message",
    [
        ({"publicUrl": ""}, "publicUrl is required"),
        ({"replicaCount": 3}, "replicaCount is 3, but without database.url the database is SQLite"),
        ({"database": {"url": DATABASE_URL}}, r"secretKey is required .*openssl rand -base64 32"),
        ({"replicaCount": 2, "database": {"existingSecret": "pg"}}, r"secretKey is required .*openssl rand -base64 32"),
        ({"envVars": {"PORTCULLIS_LISTEN": "0.0.0.0:80"}}, r"envVars\.PORTCULLIS_LISTEN is set by the chart: use service\.port"),
        ({"secrets": {"DATABASE_URL": DATABASE_URL}}, r"secrets\.DATABASE_URL is set by the chart: use database\.url"),
        ({"envVars": {"OKTA_SITE": "a"}, "secrets": {"OKTA_SITE": "b"}}, "OKTA_SITE is in both envVars and secrets"),
        ({"metrics": {"port": 8080}}, "metrics.port and service.port are both 8080"),
    ],
)
def test_chart_refuses_with_a_message(chart, helm, values, message):
    v = merge(BASE_EXTRAS, values)
    with pytest.raises(helm.HelmRenderError, match=message):
        render(chart, v)
    # (Not a lint finding: Helm 4's lint mode turns `required` and `fail`
    # into log lines, by design, so only rendering shows them.)


def test_the_bare_chart_lints(helm):
    """`helm lint deploy/helm/portcullis` without values (as CI would run it)."""
    report = helm.lint(str(CHART_DIR), None, strict=True)
    assert not [m for m in report["messages"] if m["severity"] >= 2] and not report["errors"], report


def ha_values(**override) -> dict:
    return example_values(CHART_DIR / "examples" / "okta.yaml", HA, override)


def test_replicas_with_a_database_render_pdb_job_and_hooks(chart):
    rendered = render(chart, ha_values())
    deployment, job = rendered.one("Deployment"), rendered.one("Job")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"

    pdb = rendered.one("PodDisruptionBudget")
    assert pdb["apiVersion"] == "policy/v1" and pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    # The Job's pod is outside the Service's and the PDB's selector.
    job_labels = job["spec"]["template"]["metadata"]["labels"]
    assert not pdb["spec"]["selector"]["matchLabels"].items() <= job_labels.items()

    server, migrate = container(deployment), container(job)
    assert server["env"] == migrate["env"]
    assert server["envFrom"] == migrate["envFrom"]
    assert server["image"] == migrate["image"]
    assert server["volumeMounts"] == migrate["volumeMounts"]
    assert (server["command"], server["args"]) == (["portcullis-server"], ["serve"])
    assert (migrate["command"], migrate["args"]) == (["portcullis-server"], ["migrate"])

    hook = job["metadata"]["annotations"]
    assert hook["helm.sh/hook"] == "pre-install,pre-upgrade"
    secrets = rendered.of_kind("Secret")
    assert {s["metadata"]["name"] for s in secrets} == {"portcullis-test", "portcullis-test-env"}
    for s in secrets:
        a = s["metadata"]["annotations"]
        assert a["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert "before-hook-creation" in a["helm.sh/hook-delete-policy"]
        assert int(a["helm.sh/hook-weight"]) < int(hook["helm.sh/hook-weight"])

    # Only the data directory is writable, and it is an emptyDir here.
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"] == {"name": "data", "emptyDir": {}}
    assert rendered.of_kind("PersistentVolumeClaim") == []


def test_checksum_annotation_follows_the_secrets(chart):
    def checksum(values):
        d = render(chart, values).one("Deployment")
        return d["spec"]["template"]["metadata"]["annotations"]["checksum/secret"]

    base = checksum(ha_values())
    assert re.fullmatch(r"[0-9a-f]{64}", base)
    assert checksum(ha_values()) == base
    assert checksum(ha_values(secrets={"OKTA_CLIENT_SECRET": "rotated"})) != base
    assert checksum(ha_values(database={"url": DATABASE_URL + "?sslmode=require"})) != base
    assert checksum(ha_values(secretKey={"value": "b" * 44})) != base
    assert checksum(ha_values(envVars={"PORTCULLIS_LOG": "debug"})) == base


def test_defaults_single_replica_sqlite_no_job_no_pdb(chart):
    rendered = render(chart, example_values(CHART_DIR / "examples" / "local.yaml"))
    deployment = rendered.one("Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert rendered.of_kind("Job") == [] and rendered.of_kind("PodDisruptionBudget") == []
    pvc = rendered.one("PersistentVolumeClaim")
    assert pvc["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    pod = deployment["spec"]["template"]["spec"]
    assert {"name": "data", "persistentVolumeClaim": {"claimName": pvc["metadata"]["name"]}} in pod["volumes"]
    assert "PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD" in rendered.notes
    assert "NEVER change" in rendered.notes
    # Without a bootstrap owner, the setup link is in the pod log.
    notes = render(chart, merge(BASE_EXTRAS, {"envVars": {"AUTH_PROVIDER": "local"}})).notes
    assert "kubectl --namespace portcullis logs deployment/portcullis-test" in notes


def test_pod_security_probes_ports_and_env(chart):
    rendered = render(chart, example_values(CHART_DIR / "examples" / "okta.yaml", {"ingress": {"enabled": True}}))
    deployment = rendered.one("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    c = container(deployment)
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["automountServiceAccountToken"] is False and pod["enableServiceLinks"] is False
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz?tolerate=database", "port": "http"}
    assert (c["readinessProbe"]["periodSeconds"], c["readinessProbe"]["failureThreshold"]) == (5, 3)
    assert (c["livenessProbe"]["periodSeconds"], c["livenessProbe"]["failureThreshold"]) == (10, 6)
    assert c["resources"] == {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"http": 8080, "metrics": 9090}
    values = {e["name"]: e.get("value") for e in c["env"]}
    assert values["PORTCULLIS_LISTEN"] == "0.0.0.0:8080"
    assert values["PORTCULLIS_METRICS_LISTEN"] == "0.0.0.0:9090"
    assert values["PORTCULLIS_PUBLIC_URL"] == "https://portcullis.example.com"
    assert values["PORTCULLIS_DATA_DIR"] == "/var/lib/portcullis"
    assert values["PORTCULLIS_TRUST_X_FORWARDED_FOR"] == "true"
    assert c["image"] == "localhost/portcullis-server:0.1.0"
    service = rendered.one("Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {"http": 8080, "metrics": 9090}

    # Without an Ingress the client address is not taken from X-Forwarded-For,
    # unless asked; with metrics off, no metrics port or variable.
    rendered = render(chart, example_values(CHART_DIR / "examples" / "okta.yaml", {"metrics": {"enabled": False}}))
    c = container(rendered.one("Deployment"))
    names = [e["name"] for e in c["env"]]
    assert "PORTCULLIS_TRUST_X_FORWARDED_FOR" not in names and "PORTCULLIS_METRICS_LISTEN" not in names
    assert [p["name"] for p in c["ports"]] == ["http"]
    rendered = render(chart, example_values(CHART_DIR / "examples" / "okta.yaml", {"trustXForwardedFor": False, "ingress": {"enabled": True}}))
    env = {e["name"]: e.get("value") for e in container(rendered.one("Deployment"))["env"]}
    assert env["PORTCULLIS_TRUST_X_FORWARDED_FOR"] == "false"


def test_values_yaml_documents_the_secret_key_warning():
    text = (CHART_DIR / "values.yaml").read_text()
    assert "NEVER change" in text and "openssl rand -base64 32" in text and "rotate-key" in text
    assert yaml.safe_load(text)["replicaCount"] == 1
