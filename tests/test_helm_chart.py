"""The Helm chart (helm/wattbit) and the image (Dockerfile), without a cluster.

The chart is rendered with the real Helm engine (helm-python-sdk, see tests/helm_render.py)
for its default values, each scheduling mode, the webhook and a cluster with the Prometheus
Operator; linted; and every rendered object is validated against the Kubernetes OpenAPI
schemas (kubernetes-validate). The second scheduler's KubeSchedulerConfiguration is compared
with the protocol fixture and with the routes the service really serves, the rendered
config.yaml/sites.yaml with the service's contract and the project's own sites reader.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from policies.policy import builtin_policies, parse_policy
from policies.sites_file import read_sites_yaml
from scheduler.cluster.config import load_serve_config
from scheduler.cluster.kube import API_CALLS
from scheduler.extender.gates import GATE
from scheduler.extender.http import create_app
from scheduler.extender.pods import GPU_RESOURCE, MANAGED_LABEL
from tests.helm_render import (
    CHART_DIR,
    HELM_UNAVAILABLE,
    NAMESPACE,
    RELEASE,
    REPO,
    find,
    notes,
    render_objects,
    render_templates,
)

pytestmark = pytest.mark.skipif(HELM_UNAVAILABLE is not None, reason=str(HELM_UNAVAILABLE))

DASHBOARD = CHART_DIR / "dashboards" / "wattbit.json"
FULLNAME = "wattbit"  # release "wattbit" + chart "wattbit"
SCHEDULER = f"{FULLNAME}-scheduler"
CONFIG_DIR = "/etc/wattbit"
NONROOT_UID = 65532

# Kubernetes versions the objects are validated against: the chart's floor (scheduling gates
# GA) and the newest schema kubernetes-validate ships.
K8S_VERSIONS = ("1.30", kubernetes_validate.latest_version())

# The service's config.yaml contract: section → keys (None: a scalar).
CONFIG_KEYS: dict[str, set[str] | None] = {
    "sites": None,
    "policy": None,
    "forecast": {"file", "providers"},
    "server": {"host", "port", "metrics_port", "dr_token_file"},
    "kubernetes": {"managed_selector", "site_label", "resync_seconds"},
    "leader_election": {"enabled", "lease_name", "lease_duration_seconds", "renew_seconds"},
    "planner": {"replan_seconds", "debounce_seconds", "time_limit_seconds",
                "max_plan_age_minutes"},
}

# The leader-election Lease lives in the release namespace; every other call is cluster-wide.
NAMESPACED = {("coordination.k8s.io", "leases")}

SECRETS_VALUES: dict[str, Any] = {
    "replicas": 1,
    "dryRun": True,
    "drApi": {"tokenSecret": {"name": "wattbit-dr", "key": "bearer"}},
    "forecast": {"providers": {
        "chugoku": {"provider": "jp-tso"},
        "tokyo": {"provider": "electricitymaps", "region": "JP-TK",
                  "token": {"secretKeyRef": {"name": "emaps", "key": "api-token"}}}}},
    "policyInline": {"name": "site-policy", "carbon_weight_per_kg": 1.0,
                     "cost_weight_per_jpy": 0.002, "carbon_signal": "marginal"},
}
WEBHOOK_SECRET_VALUES: dict[str, Any] = {
    "webhook": {"enabled": True, "certManager": False, "existingSecret": "wattbit-webhook-tls",
                "caBundle": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="}}

# name → (values, API versions the cluster serves beyond the built-in ones)
CASES: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "defaults": ({}, ()),
    "second-scheduler": ({"schedulingMode": "secondScheduler"}, ()),
    "default-scheduler": ({"schedulingMode": "defaultScheduler"}, ()),
    "webhook-cert-manager": ({"webhook": {"enabled": True}}, ("cert-manager.io/v1",)),
    "webhook-own-secret": (WEBHOOK_SECRET_VALUES, ()),
    "service-monitor": ({}, ("monitoring.coreos.com/v1",)),
    "secrets-and-inline-policy": (SECRETS_VALUES, ()),
    "forecast-file": ({"forecast": {"file": "/data/forecast.csv"}, "schedulingMode":
                       "defaultScheduler", "networkPolicy": {"enabled": False}}, ()),
}


@cache
def _render_case(case: str) -> str:
    values, api_versions = CASES[case]
    return json.dumps(render_objects(values, api_versions=api_versions))


def rendered(case: str) -> list[dict[str, Any]]:
    """The objects of one case (rendered once, a fresh copy each call)."""
    objects: list[dict[str, Any]] = json.loads(_render_case(case))
    return objects


def config_data(objects: list[dict[str, Any]]) -> dict[str, str]:
    return find(objects, "ConfigMap", f"{FULLNAME}-config")["data"]


def wattbit_deployment(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return find(objects, "Deployment", FULLNAME)


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: dict[str, Any] = containers[0]
    return result


def container_port(deployment: dict[str, Any], name: str) -> int:
    ports = {p["name"]: p["containerPort"] for p in container(deployment)["ports"]}
    return ports[name]


def service_port(service: dict[str, Any], name: str) -> dict[str, Any]:
    hits = [p for p in service["spec"]["ports"] if p["name"] == name]
    assert len(hits) == 1, f"Service port {name!r} missing"
    return hits[0]


def volume_for_mount(deployment: dict[str, Any], path: str) -> dict[str, Any]:
    """The pod volume mounted at `path` (exactly)."""
    pod = deployment["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m["name"] for m in container(deployment)["volumeMounts"]}
    assert path in mounts, f"nothing mounted at {path}: {sorted(mounts)}"
    return next(v for v in pod["volumes"] if v["name"] == mounts[path])


def kube_scheduler_config(objects: list[dict[str, Any]]) -> dict[str, Any]:
    cm = find(objects, "ConfigMap", f"{SCHEDULER}-config")
    cfg: dict[str, Any] = yaml.safe_load(cm["data"]["scheduler-config.yaml"])
    return cfg


def fixture_extender(k8s_fixtures: Path) -> dict[str, Any]:
    doc = yaml.safe_load((k8s_fixtures / "scheduler-config-example.yaml").read_text())
    assert len(doc["extenders"]) == 1
    ext: dict[str, Any] = doc["extenders"][0]
    return ext


# --- the Helm engine: render and lint ------------------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_chart_renders_with_the_real_helm_engine(case: str) -> None:
    objects = rendered(case)
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "Service", "ServiceAccount", "ConfigMap", "ClusterRole",
            "ClusterRoleBinding", "Role", "RoleBinding"} <= kinds
    policy_on = CASES[case][0].get("networkPolicy", {}).get("enabled", True)
    assert ("NetworkPolicy" in kinds) == policy_on
    names = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects]
    assert len(names) == len(set(names)), "an object is rendered twice"


@pytest.mark.parametrize("values", [{}, {"schedulingMode": "defaultScheduler"},
                                    {"webhook": {"enabled": True}}, SECRETS_VALUES],
                         ids=["defaults", "default-scheduler", "webhook", "secrets"])
def test_helm_lint_is_clean_in_strict_mode(values: dict[str, Any]) -> None:
    import helm_python as helm

    report = helm.lint(CHART_DIR, values or None, strict=True, namespace=NAMESPACE)
    findings = [m for m in report["messages"] if m["severity"] >= 2]  # warnings and errors
    assert not findings and not report["errors"], report


def test_notes_render_in_both_modes() -> None:
    second = notes({})
    assert "schedulerName: wattbit-scheduler" in second
    default = notes({"schedulingMode": "defaultScheduler"})
    assert f"http://{FULLNAME}.{NAMESPACE}.svc:8888" in default
    assert f"{FULLNAME}-extender-snippet" in default
    assert "extenders:" in default


# --- every object against the Kubernetes OpenAPI schemas -----------------------------------

# Custom resources have no schema in kubernetes-validate (it ships the core API only); they
# are checked against the fields the chart relies on (cert-manager.io/v1 and
# monitoring.coreos.com/v1 CRDs) instead.
_META = {"type": "object", "required": ["name", "namespace"]}
CRD_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): {
        "type": "object", "required": ["metadata", "spec"],
        "properties": {"metadata": _META, "spec": {
            "type": "object", "additionalProperties": False,
            "required": ["selector", "endpoints"],
            "properties": {
                "selector": {"type": "object", "required": ["matchLabels"]},
                "namespaceSelector": {"type": "object"},
                "endpoints": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["port"], "additionalProperties": False,
                    "properties": {"port": {"type": "string"}, "path": {"type": "string"},
                                   "scheme": {"enum": ["http", "https"]},
                                   "interval": {"type": "string"},
                                   "scrapeTimeout": {"type": "string"}}}}}}}},
    ("cert-manager.io/v1", "Issuer"): {
        "type": "object", "required": ["metadata", "spec"],
        "properties": {"metadata": _META, "spec": {
            "type": "object", "required": ["selfSigned"], "additionalProperties": False,
            "properties": {"selfSigned": {"type": "object"}}}}},
    ("cert-manager.io/v1", "Certificate"): {
        "type": "object", "required": ["metadata", "spec"],
        "properties": {"metadata": _META, "spec": {
            "type": "object", "required": ["secretName", "issuerRef", "dnsNames"],
            "additionalProperties": False,
            "properties": {
                "secretName": {"type": "string"}, "duration": {"type": "string"},
                "renewBefore": {"type": "string"},
                "dnsNames": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                "issuerRef": {"type": "object", "required": ["name", "kind"]},
                "privateKey": {"type": "object", "properties": {
                    "algorithm": {"enum": ["RSA", "ECDSA", "Ed25519"]},
                    "size": {"type": "integer"},
                    "rotationPolicy": {"enum": ["Never", "Always"]}}}}}}},
}


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_object_is_valid_kubernetes(case: str, version: str) -> None:
    for obj in rendered(case):
        what = f"{obj['kind']}/{obj['metadata']['name']}"
        crd = CRD_SCHEMAS.get((obj["apiVersion"], obj["kind"]))
        if crd is not None:
            jsonschema.validate(obj, crd)
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{case}: {what} is invalid for Kubernetes {version}: {path}: "
                        f"{exc.message}")


@pytest.mark.parametrize("case", sorted(CASES))
def test_objects_carry_the_standard_labels_and_the_release_namespace(case: str) -> None:
    for obj in rendered(case):
        meta = obj["metadata"]
        labels = meta.get("labels", {})
        assert labels.get("app.kubernetes.io/name") == "wattbit", meta["name"]
        assert labels.get("app.kubernetes.io/instance") == RELEASE, meta["name"]
        assert labels.get("app.kubernetes.io/managed-by") == "Helm", meta["name"]
        assert labels.get("helm.sh/chart", "").startswith("wattbit-"), meta["name"]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", meta["name"]), meta["name"]
        if obj["kind"] in {"ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration"}:
            assert "namespace" not in meta
        elif meta["name"] == f"{SCHEDULER}-extension-apiserver-authentication-reader":
            assert meta["namespace"] == "kube-system"  # where that built-in Role lives
        else:
            assert meta["namespace"] == NAMESPACE, meta["name"]


# --- the two scheduling modes ----------------------------------------------------------------


def test_mode_a_runs_a_second_kube_scheduler_as_upstream_documents_it() -> None:
    objects = rendered("second-scheduler")
    deploy = find(objects, "Deployment", SCHEDULER)
    pod = deploy["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == SCHEDULER
    (ks,) = pod["containers"]
    assert ks["image"].startswith("registry.k8s.io/kube-scheduler:v")
    assert "--config=/etc/kubernetes/wattbit-scheduler/scheduler-config.yaml" in ks["command"]
    assert volume_for_mount(deploy, "/etc/kubernetes/wattbit-scheduler")["configMap"][
        "name"] == f"{SCHEDULER}-config"
    bound = {(b["kind"], b["roleRef"]["kind"], b["roleRef"]["name"])
             for b in objects if b["kind"] in {"ClusterRoleBinding", "RoleBinding"}
             and b["subjects"] == [{"kind": "ServiceAccount", "name": SCHEDULER,
                                    "namespace": NAMESPACE}]}
    assert bound == {("ClusterRoleBinding", "ClusterRole", "system:kube-scheduler"),
                     ("ClusterRoleBinding", "ClusterRole", "system:volume-scheduler"),
                     ("RoleBinding", "Role", "extension-apiserver-authentication-reader"),
                     ("RoleBinding", "Role", f"{SCHEDULER}-leader-election")}
    # leader election on, with its own Lease, which its Role may get and update
    cfg = kube_scheduler_config(objects)
    election = cfg["leaderElection"]
    assert election["leaderElect"] is True
    assert election["resourceName"] == "wattbit-scheduler" != "kube-scheduler"
    assert election["resourceNamespace"] == NAMESPACE
    role = find(objects, "Role", f"{SCHEDULER}-leader-election")
    assert role["rules"] == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                              "resourceNames": ["wattbit-scheduler"],
                              "verbs": ["get", "update"]}]
    assert cfg["profiles"] == [{"schedulerName": "wattbit-scheduler"}]
    assert not [o for o in objects if o["metadata"]["name"].endswith("-extender-snippet")]


def test_mode_b_deploys_no_scheduler_and_renders_the_stanza_to_paste() -> None:
    objects = rendered("default-scheduler")
    assert [o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"] == [FULLNAME]
    assert not [o for o in objects if o["metadata"]["name"].startswith(SCHEDULER)]
    snippet = yaml.safe_load(
        find(objects, "ConfigMap", f"{FULLNAME}-extender-snippet")["data"]["extenders.yaml"])
    assert snippet == {"extenders": kube_scheduler_config(rendered("second-scheduler"))[
        "extenders"]}


def test_the_kube_scheduler_config_matches_the_protocol_fixture(k8s_fixtures: Path) -> None:
    """Field by field against k8s-extender/fixtures/scheduler-config-example.yaml; the URL
    points at the chart's Service on its extender port."""
    objects = rendered("second-scheduler")
    cfg = kube_scheduler_config(objects)
    fixture = yaml.safe_load((k8s_fixtures / "scheduler-config-example.yaml").read_text())
    assert cfg["apiVersion"] == fixture["apiVersion"] == "kubescheduler.config.k8s.io/v1"
    assert cfg["kind"] == fixture["kind"] == "KubeSchedulerConfiguration"
    assert cfg["percentageOfNodesToScore"] == fixture["percentageOfNodesToScore"] == 100
    (ext,) = cfg["extenders"]
    want = fixture_extender(k8s_fixtures)
    assert set(ext) == set(want)  # same field names, case-sensitive (the API decodes strictly)
    for field in ("filterVerb", "prioritizeVerb", "weight", "nodeCacheCapable", "ignorable",
                  "httpTimeout", "enableHTTPS", "managedResources"):
        assert ext[field] == want[field], field
    assert "bindVerb" not in ext and "preemptVerb" not in ext
    # the URL: http://<Service>.<namespace>.svc:<Service port that targets the extender>
    service = find(objects, "Service", FULLNAME)
    port = service_port(service, "extender")
    assert port["targetPort"] == "extender"
    assert container_port(wattbit_deployment(objects), "extender") == port["port"]
    assert ext["urlPrefix"] == f"http://{service['metadata']['name']}.{NAMESPACE}.svc:{port['port']}"
    assert re.fullmatch(r"http://[a-z0-9-]+\.[a-z0-9-]+\.svc:\d+", want["urlPrefix"])
    # the Service reaches the wattbit pods
    labels = wattbit_deployment(objects)["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()


def test_the_verbs_and_probes_are_routes_the_service_serves() -> None:
    """The scheduler POSTs urlPrefix/<verb>; the probes GET /healthz and /readyz."""
    app = create_app(object())  # type: ignore[arg-type]  # routes only, never called
    routes = {(method, route.path) for route in app.routes
              for method in getattr(route, "methods", None) or ()}
    (ext,) = kube_scheduler_config(rendered("second-scheduler"))["extenders"]
    assert ("POST", "/" + ext["filterVerb"]) in routes
    assert ("POST", "/" + ext["prioritizeVerb"]) in routes
    c = container(wattbit_deployment(rendered("defaults")))
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert ("GET", c[probe]["httpGet"]["path"]) in routes, probe
    assert [m["name"] for m in ext["managedResources"]] == [GPU_RESOURCE]


@pytest.mark.parametrize(("kube_version", "tag"), [("v1.31.4", "v1.31.4"),
                                                   ("v1.32.2-eks-8f6f7a1", "v1.32.2"),
                                                   ("v1.33.1+k3s1", "v1.33.1")])
def test_the_second_scheduler_follows_the_cluster_version(kube_version: str, tag: str) -> None:
    deploy = find(render_objects({}, kube_version=kube_version), "Deployment", SCHEDULER)
    assert container(deploy)["image"] == f"registry.k8s.io/kube-scheduler:{tag}"
    pinned = render_objects({"scheduler": {"image": {"tag": "v1.30.9"}}},
                            kube_version=kube_version)
    assert container(find(pinned, "Deployment", SCHEDULER))["image"].endswith(":v1.30.9")


# --- values.schema.json ----------------------------------------------------------------------

SITE = {"id": "x", "region": "chugoku", "gpus": 8, "power_cap_kw": 10, "pue": 1.2}


@pytest.mark.parametrize(("values", "message"), [
    ({"replicas": -1}, "'/replicas': minimum"),
    ({"scheduler": {"replicas": -2}}, "'/scheduler/replicas': minimum"),
    ({"schedulingMode": "tertiaryScheduler"}, "'/schedulingMode': value must be one of"),
    ({"sites": None}, "missing property 'sites'"),
    ({"sites": []}, "'/sites': minItems"),
    ({"sites": [{k: v for k, v in SITE.items() if k != "id"}]},
     "'/sites/0': missing property 'id'"),
    ({"sites": [{**SITE, "id": ""}]}, "'/sites/0/id'"),
    ({"sites": [{**SITE, "gpus": -8}]}, "'/sites/0/gpus'"),
    ({"ports": {"extender": 70000}}, "'/ports/extender': maximum"),
    ({"ports": {"metrics": 80}}, "'/ports/metrics': minimum"),
    ({"ports": {"extender": "http"}}, "'/ports/extender': got string, want integer"),
    ({"forecast": {"providers": None}}, "'/forecast': missing property 'providers'"),
    ({"forecast": {"providers": {"tokyo": {"provider": "crystal-ball"}}}},
     "'/forecast/providers/tokyo/provider'"),
    ({"replica": 3}, "additional properties 'replica' not allowed"),
    ({"webhook": {"enabled": True, "certManager": False}}, "'/webhook/caBundle'"),
], ids=["negative-replicas", "negative-scheduler-replicas", "unknown-mode", "no-site-list",
        "empty-site-list", "site-without-id", "empty-site-id", "negative-gpus",
        "port-too-high", "privileged-port", "port-not-a-number", "no-forecast",
        "unknown-provider", "typo-in-a-key", "webhook-without-cert"])
def test_the_schema_rejects_wrong_values_naming_the_field(values: dict[str, Any],
                                                          message: str) -> None:
    import helm_python as helm

    with pytest.raises(helm.HelmValuesError) as exc:
        render_templates(values)  # what `helm install` does
    assert message in str(exc.value), str(exc.value)


def test_the_schema_accepts_the_defaults_and_every_case() -> None:
    from tests.helm_render import chart

    for values, _ in CASES.values():
        chart().validate_schema(values)


# --- config.yaml and sites.yaml: the service's contract ------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_yaml_has_exactly_the_contract_keys(case: str) -> None:
    objects = rendered(case)
    cfg = yaml.safe_load(config_data(objects)["config.yaml"])
    webhook = CASES[case][0].get("webhook", {}).get("enabled", False)
    assert set(cfg) == set(CONFIG_KEYS) | ({"webhook"} if webhook else set())
    for section, keys in CONFIG_KEYS.items():
        if section == "forecast":
            assert len(cfg["forecast"]) == 1 and set(cfg["forecast"]) <= keys
        elif keys is not None:
            assert set(cfg[section]) == keys, section
    deploy = wattbit_deployment(objects)
    assert cfg["sites"] == "sites.yaml"
    assert cfg["server"]["host"] == "0.0.0.0"
    assert cfg["server"]["port"] == container_port(deploy, "extender") == 8888
    assert cfg["server"]["metrics_port"] == container_port(deploy, "metrics") == 9090
    assert cfg["kubernetes"] == {"managed_selector": f"{MANAGED_LABEL}=true",
                                 "site_label": "topology.kubernetes.io/region",
                                 "resync_seconds": 300}
    assert cfg["leader_election"]["enabled"] is True
    assert cfg["planner"] == {"replan_seconds": 300, "debounce_seconds": 5,
                              "time_limit_seconds": 20, "max_plan_age_minutes": 30}
    assert volume_for_mount(deploy, CONFIG_DIR)["configMap"]["name"] == f"{FULLNAME}-config"


def test_default_config_plans_the_default_sites_with_synthetic_forecasts(
        tmp_path: Path) -> None:
    data = config_data(rendered("defaults"))
    cfg = yaml.safe_load(data["config.yaml"])
    (tmp_path / "sites.yaml").write_text(data["sites.yaml"])
    sites = read_sites_yaml(tmp_path / "sites.yaml")
    assert [s.id for s in sites] == ["matsue", "shiroi"]
    assert [s.region for s in sites] == ["chugoku", "tokyo"]
    assert [s.node_selector for s in sites] == [{"topology.kubernetes.io/region": "jp-chugoku"},
                                                {"topology.kubernetes.io/region": "jp-tokyo"}]
    assert [s.id for s in sites if s.home] == ["shiroi"]
    # no secret needed: a synthetic provider for every site's region
    assert cfg["forecast"] == {"providers": {s.region: {"provider": "synthetic"}
                                             for s in sites}}
    assert cfg["policy"] == "min-carbon" and cfg["policy"] in builtin_policies()
    assert cfg["server"]["dr_token_file"] is None
    assert "policy.yaml" not in data


def test_the_lease_in_config_is_the_one_rbac_allows() -> None:
    objects = rendered("defaults")
    lease = yaml.safe_load(config_data(objects)["config.yaml"])["leader_election"]["lease_name"]
    role = find(objects, "Role", f"{FULLNAME}-leader-election")
    named = [r for r in role["rules"] if r.get("resourceNames")]
    assert [r["resourceNames"] for r in named] == [[lease]]


def test_secrets_are_referenced_and_mounted_never_created(tmp_path: Path) -> None:
    objects = rendered("secrets-and-inline-policy")
    assert not [o for o in objects if o["kind"] == "Secret"]
    data = config_data(objects)
    cfg = yaml.safe_load(data["config.yaml"])
    deploy = wattbit_deployment(objects)
    # the DR API token: secret wattbit-dr, key bearer
    token_file = Path(cfg["server"]["dr_token_file"])
    assert token_file == Path("/var/run/secrets/wattbit/dr-token/bearer")
    volume = volume_for_mount(deploy, str(token_file.parent))
    assert volume["secret"]["secretName"] == "wattbit-dr"
    assert volume["secret"]["items"] == [{"key": "bearer", "path": "bearer"}]
    # a provider's secret setting becomes <setting>_file pointing into the mounted Secret
    tokyo = cfg["forecast"]["providers"]["tokyo"]
    assert tokyo == {"provider": "electricitymaps", "region": "JP-TK",
                     "token_file": "/var/run/secrets/wattbit/forecast/emaps/api-token"}
    assert volume_for_mount(deploy, "/var/run/secrets/wattbit/forecast/emaps")["secret"][
        "secretName"] == "emaps"
    assert cfg["forecast"]["providers"]["chugoku"] == {"provider": "jp-tso"}
    # the inline policy is shipped and parses with the project's own reader
    assert cfg["policy"] == f"{CONFIG_DIR}/policy.yaml"
    policy = parse_policy("policy.yaml", yaml.safe_load(data["policy.yaml"]))
    assert policy.name == "site-policy" and policy.cost_weight_per_jpy == 0.002
    assert container(deploy)["args"][-1] == "--dry-run"
    for mount in container(deploy)["volumeMounts"]:
        if mount["mountPath"].startswith("/var/run/secrets/"):
            assert mount["readOnly"] is True


SECRETS_ROOT = "/var/run/secrets/wattbit"


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_service_loads_the_rendered_config(case: str, tmp_path: Path) -> None:
    """config.yaml, sites.yaml and policy.yaml as mounted, read by `wattbit serve`'s own
    loader (scheduler/cluster/config.py); /etc/wattbit and the secret mounts are mapped
    into tmp_path, each referenced secret file holding a dummy value."""
    objects = rendered(case)
    etc, secrets = tmp_path / "etc-wattbit", tmp_path / "secrets"
    etc.mkdir()
    for name, text in config_data(objects).items():
        (etc / name).write_text(text.replace(CONFIG_DIR, str(etc))
                                .replace(SECRETS_ROOT, str(secrets)))
    for line in (etc / "config.yaml").read_text().splitlines():
        value = line.partition(":")[2].strip()
        if value.startswith(str(secrets)):
            Path(value).parent.mkdir(parents=True, exist_ok=True)
            Path(value).write_text("dummy-secret\n")
    cfg = load_serve_config(etc / "config.yaml")
    assert [s.id for s in cfg.sites] == [s["id"] for s in
                                         yaml.safe_load(config_data(objects)["sites.yaml"])[
                                             "sites"]]
    assert cfg.server.port == container_port(wattbit_deployment(objects), "extender")
    assert cfg.server.metrics_port == container_port(wattbit_deployment(objects), "metrics")
    if case == "secrets-and-inline-policy":
        assert cfg.policy.name == "site-policy"
        assert cfg.providers["tokyo"]["token"] == "dummy-secret"
        assert cfg.server.dr_token_file == secrets / "dr-token" / "bearer"


def test_a_forecast_file_replaces_the_providers() -> None:
    cfg = yaml.safe_load(config_data(rendered("forecast-file"))["config.yaml"])
    assert cfg["forecast"] == {"file": "/data/forecast.csv"}


def test_a_config_change_rolls_the_pods() -> None:
    def checksum(values: dict[str, Any]) -> tuple[str, str]:
        templates = render_templates(values)
        cm = templates["wattbit/templates/configmap.yaml"]
        deploy = next(d for d in yaml.safe_load_all(templates["wattbit/templates/deployment.yaml"])
                      if d)
        return deploy["spec"]["template"]["metadata"]["annotations"]["checksum/config"], cm

    before, cm = checksum({})
    assert before == hashlib.sha256(cm.encode()).hexdigest()
    after, _ = checksum({"planner": {"replanSeconds": 600}})
    assert after != before


# --- security and RBAC ---------------------------------------------------------------------


@pytest.mark.parametrize("case", ["defaults", "secrets-and-inline-policy"])
def test_the_wattbit_pod_is_locked_down(case: str) -> None:
    deploy = wattbit_deployment(rendered(case))
    pod = deploy["spec"]["template"]["spec"]
    c = container(deploy)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == NONROOT_UID
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == NONROOT_UID
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc.get("privileged", False) is False
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(key), key
    assert not [v for v in pod["volumes"] if "hostPath" in v]
    assert "emptyDir" in volume_for_mount(deploy, "/tmp")
    assert {"cpu", "memory"} <= set(c["resources"]["limits"])
    assert {"cpu", "memory"} <= set(c["resources"]["requests"])
    # probes: liveness /healthz, readiness /readyz, on the named extender port
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "extender"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "extender"}
    assert {p["name"] for p in c["ports"]} >= {"extender", "metrics"}
    # the command and the downward API
    assert c["args"][:3] == ["serve", "--config", f"{CONFIG_DIR}/config.yaml"]
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in c["env"]
           if "valueFrom" in e}
    assert env == {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"}
    assert pod["serviceAccountName"] == FULLNAME


def test_the_second_scheduler_pod_is_locked_down_too() -> None:
    deploy = find(rendered("second-scheduler"), "Deployment", SCHEDULER)
    pod = deploy["spec"]["template"]["spec"]
    sc = container(deploy)["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc.get("privileged", False) is False
    assert not pod.get("hostNetwork")
    assert {"cpu", "memory"} <= set(container(deploy)["resources"]["limits"])


def _calls(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(API group, resource, verb) a Role/ClusterRole grants."""
    out: set[tuple[str, str, str]] = set()
    for rule in role["rules"]:
        assert "nonResourceURLs" not in rule
        out |= {(g, r, v) for g in rule["apiGroups"] for r in rule["resources"]
                for v in rule["verbs"]}
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_rbac_grants_exactly_the_api_calls_the_service_makes(case: str) -> None:
    """The ClusterRole and the lease Role against scheduler/cluster/kube.py API_CALLS."""
    objects = rendered(case)
    cluster_role = _calls(find(objects, "ClusterRole", FULLNAME))
    role = find(objects, "Role", f"{FULLNAME}-leader-election")
    assert cluster_role == {c for c in API_CALLS if c[:2] not in NAMESPACED}
    assert _calls(role) == {c for c in API_CALLS if c[:2] in NAMESPACED}
    # the lease Role names the planner's Lease wherever a name can be given (not create)
    lease = yaml.safe_load(config_data(objects)["config.yaml"])["leader_election"]["lease_name"]
    for rule in role["rules"]:
        assert rule.get("resourceNames") == ([lease] if rule["verbs"] != ["create"] else None)
    for obj in objects:
        if obj["kind"] in {"ClusterRole", "Role"}:
            for rule in obj["rules"]:
                flat = rule["apiGroups"] + rule["resources"] + rule["verbs"]
                assert "*" not in flat, obj["metadata"]["name"]
                assert "secrets" not in rule["resources"], obj["metadata"]["name"]
    # the chart creates no other role; the binding names only the chart's service account
    assert {o["metadata"]["name"] for o in objects if o["kind"] in {"ClusterRole", "Role"}} <= {
        FULLNAME, f"{FULLNAME}-leader-election", f"{SCHEDULER}-leader-election"}
    binding = find(objects, "ClusterRoleBinding", FULLNAME)
    assert binding["roleRef"]["name"] == FULLNAME
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": FULLNAME,
                                    "namespace": NAMESPACE}]


def test_without_leader_election_there_is_no_lease_role() -> None:
    objects = render_objects({"leaderElection": {"enabled": False}, "replicas": 1})
    assert not [o for o in objects if o["kind"] in {"Role", "RoleBinding"}
                and o["metadata"]["name"] == f"{FULLNAME}-leader-election"]
    cfg = yaml.safe_load(config_data(objects)["config.yaml"])
    assert cfg["leader_election"]["enabled"] is False


@pytest.mark.parametrize(("replicas", "spec"), [(2, {"minAvailable": 1}),
                                                (3, {"minAvailable": 1}),
                                                (1, {"maxUnavailable": 1})])
def test_the_scheduler_budget_never_blocks_a_drain(replicas: int, spec: dict[str, int]) -> None:
    objects = render_objects({"scheduler": {"replicas": replicas}})
    pdb = find(objects, "PodDisruptionBudget", SCHEDULER)
    selector = pdb["spec"].pop("selector")
    assert pdb["spec"] == {**spec, "unhealthyPodEvictionPolicy": "AlwaysAllow"}
    labels = find(objects, "Deployment", SCHEDULER)["spec"]["template"]["metadata"]["labels"]
    assert selector["matchLabels"].items() <= labels.items()


def test_wattbit_has_no_budget_unless_asked() -> None:
    """Only the leader is Ready, so a budget would block draining its node (values.yaml)."""
    assert [o["metadata"]["name"] for o in rendered("defaults")
            if o["kind"] == "PodDisruptionBudget"] == [SCHEDULER]
    objects = render_objects({"podDisruptionBudget": {"wattbit": True}, "replicas": 1})
    pdb = find(objects, "PodDisruptionBudget", FULLNAME)
    assert pdb["spec"]["maxUnavailable"] == 1
    labels = wattbit_deployment(objects)["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    # and no rolling update that would wait for a standby to become Ready
    assert wattbit_deployment(objects)["spec"]["strategy"] == {"type": "Recreate"}


# --- network policy, monitoring, dashboard, webhook ------------------------------------------


def _ingress_by_port(objects: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    policy = find(objects, "NetworkPolicy", FULLNAME)
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    labels = wattbit_deployment(objects)["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    out: dict[str, list[dict[str, Any]]] = {}
    for rule in policy["spec"]["ingress"]:
        (port,) = rule["ports"]
        out[port["port"]] = rule.get("from", [])
    return out


def test_only_the_scheduler_and_prometheus_reach_wattbit() -> None:
    objects = rendered("second-scheduler")
    ingress = _ingress_by_port(objects)
    assert set(ingress) == {"extender", "metrics"}
    scheduler_labels = find(objects, "Deployment", SCHEDULER)["spec"]["template"][
        "metadata"]["labels"]
    (peer,) = ingress["extender"]
    assert set(peer) == {"podSelector"}
    assert peer["podSelector"]["matchLabels"].items() <= scheduler_labels.items()
    (prometheus,) = ingress["metrics"]
    assert prometheus == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}
    # mode (b): the configurable scheduler peers, default kube-system
    ingress_b = _ingress_by_port(rendered("default-scheduler"))
    assert ingress_b["extender"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}]
    # the webhook port is open only when the webhook is on
    assert set(_ingress_by_port(rendered("webhook-cert-manager"))) == {
        "extender", "metrics", "webhook"}


def test_the_service_monitor_needs_the_prometheus_operator() -> None:
    assert not [o for o in rendered("defaults") if o["kind"] == "ServiceMonitor"]
    objects = rendered("service-monitor")
    monitor = find(objects, "ServiceMonitor", FULLNAME)
    service = find(objects, "Service", FULLNAME)
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"][
        "labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert service_port(service, endpoint["port"])["port"] == 9090
    off = render_objects({"serviceMonitor": {"enabled": False}},
                         api_versions=("monitoring.coreos.com/v1",))
    assert not [o for o in off if o["kind"] == "ServiceMonitor"]


def test_the_dashboard_configmap_is_the_dashboard_file() -> None:
    cm = find(rendered("defaults"), "ConfigMap", f"{FULLNAME}-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(cm["data"]["wattbit.json"]) == json.loads(DASHBOARD.read_text())
    assert not (REPO / "helm" / "dashboards").exists(), "one copy of the dashboard only"


@pytest.mark.parametrize("case", ["webhook-cert-manager", "webhook-own-secret"])
def test_the_webhook_gates_managed_pods_and_fails_open(case: str) -> None:
    objects = rendered(case)
    config = find(objects, "MutatingWebhookConfiguration", FULLNAME)
    (hook,) = config["webhooks"]
    assert hook["failurePolicy"] == "Ignore" and hook["sideEffects"] == "None"
    assert hook["objectSelector"] == {"matchLabels": {MANAGED_LABEL: "true"}}
    assert hook["rules"] == [{"apiGroups": [""], "apiVersions": ["v1"],
                              "operations": ["CREATE"], "resources": ["pods"],
                              "scope": "Namespaced"}]  # gates can only be set at creation
    service = find(objects, "Service", FULLNAME)
    client = hook["clientConfig"]["service"]
    assert (client["name"], client["namespace"], client["path"]) == (
        service["metadata"]["name"], NAMESPACE, "/mutate")
    assert client["port"] == service_port(service, "webhook")["port"] == 8443
    deploy = wattbit_deployment(objects)
    assert container_port(deploy, "webhook") == 8443
    cfg = yaml.safe_load(config_data(objects)["config.yaml"])
    webhook = cfg["webhook"]
    assert webhook["port"] == 8443
    tls = volume_for_mount(deploy, str(Path(webhook["cert_file"]).parent))["secret"]
    assert Path(webhook["key_file"]).parent == Path(webhook["cert_file"]).parent
    if case == "webhook-cert-manager":
        cert = find(objects, "Certificate", f"{FULLNAME}-webhook")
        assert config["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == (
            f"{NAMESPACE}/{cert['metadata']['name']}")
        assert f"{FULLNAME}.{NAMESPACE}.svc" in cert["spec"]["dnsNames"]
        assert tls["secretName"] == cert["spec"]["secretName"]
        issuer = find(objects, "Issuer", cert["spec"]["issuerRef"]["name"])
        assert "selfSigned" in issuer["spec"]
    else:
        assert tls["secretName"] == "wattbit-webhook-tls"
        assert hook["clientConfig"]["caBundle"] == WEBHOOK_SECRET_VALUES["webhook"]["caBundle"]
    assert GATE in notes(CASES[case][0])


# --- the image: Dockerfile and constraints.txt ---------------------------------------------


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's stages, each a list of (INSTRUCTION, arguments); continuation lines
    joined, comments dropped, ARG defaults substituted into FROM."""
    text = (REPO / "Dockerfile").read_text()
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    args: dict[str, str] = {}
    stages: list[list[tuple[str, str]]] = []
    for line in lines:
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        if instruction == "FROM":
            rest = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], rest)
            stages.append([])
        if stages:
            stages[-1].append((instruction, " ".join(rest.split())))
    return stages


def constraints() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep and re.fullmatch(r"[A-Za-z0-9._-]+", name) and version, (
            f"constraints.txt: {line!r} is not pinned as name==version")
        pins[canonicalize_name(name)] = version
    return pins


def test_the_dockerfile_is_multi_stage_slim_and_non_root() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2, "multi-stage: build wheels, then install them"
    build, final = stages[0], stages[-1]
    assert build[0] == ("FROM", "python:3.11-slim AS build")
    assert final[0][1].split()[0] == "python:3.11-slim"
    build_runs = " ".join(arg for ins, arg in build if ins == "RUN")
    assert re.search(r"pip wheel .*(-c|--constraint) constraints\.txt", build_runs)
    final_runs = " ".join(arg for ins, arg in final if ins == "RUN")
    assert "--no-index" in final_runs and "from=build" in final_runs
    users = [arg for ins, arg in final if ins == "USER"]
    assert users, "the final stage sets USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0, "USER must be numeric and non-root"
    assert not gid or (gid.isdigit() and int(gid) != 0)
    assert int(uid) == NONROOT_UID  # the chart's runAsUser
    entrypoint = [json.loads(arg) for ins, arg in final if ins == "ENTRYPOINT"]
    cmd = [json.loads(arg) for ins, arg in final if ins == "CMD"]
    assert entrypoint == [["wattbit"]]
    assert cmd == [["serve", "--config", f"{CONFIG_DIR}/config.yaml"]]
    assert container(wattbit_deployment(rendered("defaults")))["args"] == cmd[0]


def test_every_package_reaches_the_image() -> None:
    """Each top-level package of pyproject.toml is copied into the build stage and let
    through .dockerignore (an allow-list)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"][
        "include"]]
    copied = " ".join(arg for ins, arg in dockerfile_stages()[0] if ins == "COPY")
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    for package in packages:
        assert re.search(rf"\b{package}\b", copied), f"{package}/ is not copied"
        assert f"!{package}/" in ignore, f".dockerignore keeps {package}/ out"
    for needed in ("pyproject.toml", "constraints.txt", project["project"]["readme"]):
        assert needed in copied and f"!{needed}" in ignore, needed


def test_every_runtime_dependency_is_pinned() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    pins = constraints()
    assert "wattbit" not in pins
    for spec in project["project"]["dependencies"]:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not pinned in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {req.name}=={pins[name]}, outside {req.specifier}")


def test_the_chart_runs_the_project_version() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    meta = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    assert meta["appVersion"] == project["project"]["version"]
    image = container(wattbit_deployment(rendered("defaults")))["image"]
    assert image.endswith(f":{project['project']['version']}")
