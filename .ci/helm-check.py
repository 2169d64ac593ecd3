#!/usr/bin/env python3
"""Checks of the chart's rendered manifests that no linter makes (used by .ci/helm-lint.sh).

    python3 .ci/helm-check.py CASE MANIFESTS [--write-config PATH]

CASE names the values the manifests were rendered with: default, or <case> of
helm/sfgate/ci/<case>-values.yaml; default, options and secrets have checks of their own. The ConfigMap's sfgate.toml must be valid TOML with the keys sfgate's
configuration loader needs; the Deployment must keep the pod hardening, the gRPC probes, the
grace period above shutdown_grace_seconds and the Secret wiring; the admin port (/metrics names the
tenants) must be on a ClusterIP Service of its own, whatever service.type is, which the ServiceMonitor
selects alone. service-<type> cases are the default values with service.type <type> and the
ServiceMonitor on. --write-config writes sfgate.toml.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml

failures: list[str] = []


def check(condition: bool, message: str) -> None:
    if not condition:
        failures.append(message)


def dig(document: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(document, dict) or key not in document:
            return None
        document = document[key]
    return document


def require(config: dict[str, Any], *keys: str) -> None:
    for key in keys:
        check(dig(config, key) is not None, f"sfgate.toml lacks {key}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("case", help="default, or the name of a helm/sfgate/ci/<case>-values.yaml")
    parser.add_argument("manifests", type=Path)
    parser.add_argument("--namespace", default="sfgate", help="the namespace the manifests were rendered for")
    parser.add_argument("--write-config", type=Path, default=None)
    args = parser.parse_args()

    documents = [d for d in yaml.safe_load_all(args.manifests.read_text()) if d]
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for document in documents:
        by_kind.setdefault(document["kind"], []).append(document)

    (configmap,) = by_kind["ConfigMap"]
    text = configmap["data"]["sfgate.toml"]
    try:
        config = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        print(f"{args.case}: sfgate.toml is not valid TOML: {error}\n{text}", file=sys.stderr)
        return 1
    if args.write_config:
        args.write_config.write_text(text)

    # sfgate.toml: the keys of src/config.rs.
    require(config, "listen", "shutdown_grace_seconds", "reload_poll_seconds", "admin.listen",
            "telemetry.service_name", "telemetry.sample_ratio")
    check(config["listen"].startswith("0.0.0.0:"), "listen must bind every interface in a pod")
    check(dig(config, "admin.listen") == "0.0.0.0:9464", "admin.listen")
    check(isinstance(dig(config, "telemetry.sample_ratio"), float), "telemetry.sample_ratio must be a float")
    tenants = config.get("tenants") or {}
    check(bool(tenants), "sfgate.toml has no tenant")
    for tenant_id, tenant in tenants.items():
        check(re.fullmatch(r"[A-Za-z0-9_-]{1,64}", tenant_id) is not None, f"tenant id {tenant_id!r}")
        for key in ("login_url", "grant", "credentials_path"):
            check(key in tenant, f"tenants.{tenant_id} lacks {key}")
        for api_key in tenant.get("api_keys", []):
            check(set(api_key) == {"caller", "sha256"}, f"tenants.{tenant_id}.api_keys: {api_key}")
            check(re.fullmatch(r"[0-9a-fA-F]{64}", api_key["sha256"]) is not None,
                  f"tenants.{tenant_id}.api_keys sha256 {api_key['sha256']!r}")
        rate = tenant.get("rate_limit")
        if rate is not None:
            check("requests_per_second" in rate, f"tenants.{tenant_id}.rate_limit")
    vault = dig(config, "credentials.vault")
    if vault is not None:
        require(config, "credentials.vault.address", "credentials.vault.mount", "credentials.vault.auth.method")

    deployment = by_kind["Deployment"][0]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container.get("env", [])}
    mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    hardened = container["securityContext"]
    check(hardened.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem")
    check(hardened.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation")
    check(hardened.get("capabilities", {}).get("drop") == ["ALL"], "capabilities.drop ALL")
    check(pod["securityContext"].get("runAsNonRoot") is True, "runAsNonRoot")
    check(pod["securityContext"].get("seccompProfile", {}).get("type") == "RuntimeDefault", "seccompProfile")
    check(container["command"] == ["/usr/local/bin/sfgate"], "command")
    args_ = container["args"]
    check(args_[args_.index("--config") + 1] == "/etc/sfgate/sfgate.toml", "--config")
    check("--log-format" in args_, "--log-format")
    check("/etc/sfgate" in mounts and "/tmp" in mounts, "config and /tmp mounts")
    grpc_port = int(config["listen"].rsplit(":", 1)[1])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    check(ports == {"grpc": grpc_port, "admin": 9464}, f"container ports {ports}")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/readyz")):
        handler = container.get(probe, {})
        check(handler.get("grpc", {}).get("port") == grpc_port or handler.get("httpGet") == {"path": path, "port": "admin"},
              f"{probe}: a gRPC probe of port {grpc_port} or GET {path} on the admin port")
    pre_stop = dig(container, "lifecycle.preStop.exec.command") or ["", "0"]
    grace = pod["terminationGracePeriodSeconds"]
    check(grace > config["shutdown_grace_seconds"] + int(pre_stop[-1]),
          f"terminationGracePeriodSeconds {grace} must exceed shutdown_grace_seconds + preStop sleep")
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    check(re.fullmatch(r"[0-9a-f]{64}", annotations.get("checksum/config", "")) is not None, "checksum/config")

    # Services: the gRPC port on one Service (of service.type), the admin port on another that is
    # ClusterIP whatever service.type is, since /metrics names every tenant and shows each org's API
    # usage; the ServiceMonitor selects that Service alone.
    admin_port = ports.get("admin")
    services = {s["metadata"]["name"]: s for s in by_kind["Service"]}
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]

    def targets(port: dict[str, Any], name: str, number: int | None) -> bool:
        target = port.get("targetPort", port["port"])
        return port.get("name") == name or target in (name, number)

    def serving(name: str, number: int | None) -> list[str]:
        return sorted(n for n, s in services.items() if any(targets(p, name, number) for p in s["spec"]["ports"]))

    admin_services = serving("admin", admin_port)
    grpc_services = serving("grpc", grpc_port)
    for name in admin_services:
        spec = services[name]["spec"]
        check(spec.get("type", "ClusterIP") == "ClusterIP", f"Service {name} exposes the admin port as {spec.get('type')}")
        for field in ("externalIPs", "externalName", "loadBalancerIP", "loadBalancerSourceRanges"):
            check(field not in spec, f"Service {name} exposes the admin port with {field}")
    check(len(admin_services) == 1 and admin_services != grpc_services,
          f"one Service of its own for the admin port, not {admin_services} (gRPC: {grpc_services})")
    check(len(grpc_services) == 1, f"one Service for the gRPC port, not {grpc_services}")
    admin_service = services.get(admin_services[0]) if admin_services else None
    grpc_service = services.get(grpc_services[0]) if grpc_services else None
    if grpc_service is not None:
        check({p["name"]: p.get("appProtocol") for p in grpc_service["spec"]["ports"]} == {"grpc": "grpc"},
              f"the gRPC Service carries the gRPC port alone: {grpc_service['spec']['ports']}")
        check(grpc_service["metadata"]["name"] == deployment["metadata"]["name"], "the gRPC Service is <fullname>")
    if admin_service is not None:
        check({p["name"]: p.get("appProtocol") for p in admin_service["spec"]["ports"]} == {"admin": "http"},
              f"the admin Service carries the admin port alone: {admin_service['spec']['ports']}")
        name = admin_service["metadata"]["name"]
        check(name == f"{deployment['metadata']['name'][:57].rstrip('-')}-admin" and len(name) <= 63,
              f"the admin Service {name} is <fullname>-admin (the full name cut to 57 characters)")
        check((admin_service["metadata"].get("labels") or {}).get("app.kubernetes.io/component") == "admin",
              "the admin Service's component label")
    for name, svc in services.items():
        selector = svc["spec"]["selector"]
        check(all(pod_labels.get(k) == v for k, v in selector.items()), f"Service {name} selects the pods")
    for monitor in by_kind.get("ServiceMonitor", []):
        selector = monitor["spec"]["selector"]
        check(set(selector) == {"matchLabels"}, f"ServiceMonitor selector {selector}: matchLabels only")
        match = selector.get("matchLabels", {})
        selected = sorted(n for n, s in services.items()
                          if all(s["metadata"].get("labels", {}).get(k) == v for k, v in match.items()))
        check(selected == admin_services, f"the ServiceMonitor must select the admin Service alone, not {selected}")
        check(monitor["spec"]["namespaceSelector"] == {"matchNames": [args.namespace]},
              f"ServiceMonitor namespaceSelector {monitor['spec']['namespaceSelector']}")
        for endpoint in monitor["spec"]["endpoints"]:
            check(endpoint["port"] == "admin" and endpoint["path"] == "/metrics",
                  f"ServiceMonitor scrapes admin /metrics: {endpoint}")
    policies = by_kind.get("NetworkPolicy", [])
    for policy in policies:
        rules = {tuple(p["port"] for p in rule["ports"]): rule for rule in policy["spec"]["ingress"]}
        check(set(rules) == {("grpc",), ("admin",)}, f"NetworkPolicy: one ingress rule a port, not {list(rules)}")

    shared = config.get("shared_limits")
    if args.case == "default":
        check(container["image"] == f"sfgate:{configmap['metadata']['labels']['app.kubernetes.io/version']}", "image")
        check(shared is None, "shared_limits must be off by default")
        check(dig(vault, "auth") == {"method": "kubernetes", "mount": "kubernetes", "role": "sfgate"},
              f"vault auth {dig(vault, 'auth')}")
        check(pod["automountServiceAccountToken"] is True, "kubernetes auth needs the service-account token")
        check(container["livenessProbe"].get("grpc") == {"port": 50051}, "gRPC probes by default")
        check("HorizontalPodAutoscaler" in by_kind and "replicas" not in deployment["spec"],
              "with the HPA the Deployment leaves replicas to it")
        check("PodDisruptionBudget" in by_kind and "ServiceMonitor" not in by_kind, "PDB on, ServiceMonitor off")
    elif args.case == "options":
        require(config, "telemetry.otlp_endpoint", "shared_limits.redis_url", "shared_limits.key_prefix",
                "credentials.vault.auth.role_id", "credentials.vault.auth.secret_id_file", "tls.cert_file")
        check(dig(config, "shared_limits.expected_replicas") == deployment["spec"]["replicas"] == 3,
              "expected_replicas must be replicaCount without the HPA")
        check(dig(config, "credentials.vault.auth.method") == "approle", "approle")
        secret_dir = str(Path(dig(config, "credentials.vault.auth.secret_id_file")).parent)
        check(secret_dir in mounts, "the AppRole secret id is mounted where secret_id_file points")
        check(pod["automountServiceAccountToken"] is False, "approle does not need the service-account token")
        check(dig(vault, "namespace") == "platform/sfgate", "vault.namespace")
        ca_dir = str(Path(dig(vault, "ca_file")).parent)
        check(ca_dir in mounts and volumes.get("vault-ca", {}).get("configMap", {}).get("name") == "internal-ca"
              and volumes["vault-ca"]["configMap"]["items"] == [{"key": "ca-bundle.pem", "path": "ca.crt"}],
              "Vault's CA from the ConfigMap is mounted where ca_file points")
        check("client_cert_file" not in vault, "no client certificate unless configured")
        check("HorizontalPodAutoscaler" not in by_kind, "autoscaling disabled")
        check("httpGet" in container["readinessProbe"], "probeType http")
        for kind in ("ServiceMonitor", "NetworkPolicy", "PodDisruptionBudget"):
            check(kind in by_kind, f"{kind} rendered")
        check(dig(grpc_service, "spec.type") == "LoadBalancer" and dig(admin_service, "spec.type") == "ClusterIP",
              "service.type LoadBalancer: the gRPC Service only")
        check(dig(grpc_service, "metadata.annotations") == {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"}
              and dig(admin_service, "metadata.annotations") == {"prometheus.io/scrape": "true"},
              "service.annotations on the gRPC Service, service.adminAnnotations on the admin Service")
        if policies:
            admin_rule = next((r for r in policies[0]["spec"]["ingress"] if r["ports"][0]["port"] == "admin"), {})
            check(dig(admin_rule, "from") == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
                  "networkPolicy.adminFrom")
        check("acme" not in tenants and {"globex", "initech-sandbox"} <= set(tenants), "acme: null drops the example")
    elif args.case == "secrets":
        check(shared is not None and "redis_url" not in shared, "redis_url comes from the environment")
        check(dig(config, "shared_limits.expected_replicas") == 6, "expected_replicas must be autoscaling.maxReplicas")
        check(dig(env, "SFGATE__SHARED_LIMITS__REDIS_URL.valueFrom.secretKeyRef.name") == "sfgate-redis", "Redis URL Secret")
        check(dig(env, "VAULT_TOKEN.valueFrom.secretKeyRef.name") == "sfgate-vault-token", "VAULT_TOKEN Secret")
        check(dig(config, "credentials.vault.auth") == {"method": "token"}, "token auth")
        check(volumes.get("vault-ca", {}).get("secret", {}).get("secretName") == "vault-ca"
              and str(Path(dig(vault, "ca_file")).parent) in mounts, "Vault's CA from the Secret, mounted where ca_file points")
        client = volumes.get("vault-client-certificate", {}).get("secret", {})
        check(client.get("secretName") == "sfgate-vault-client"
              and str(Path(dig(vault, "client_cert_file")).parent) in mounts
              and Path(dig(vault, "client_key_file")).parent == Path(dig(vault, "client_cert_file")).parent,
              "the client certificate Secret is mounted where client_cert_file and client_key_file point")
        check("namespace" not in vault, "no namespace unless configured")
        check(pod["serviceAccountName"] == "sfgate-workload" and "ServiceAccount" not in by_kind, "existing service account")
        check(grace == 120, "explicit terminationGracePeriodSeconds")
    elif args.case.startswith("service-"):
        # Rendered by .ci/helm-lint.sh with service.type <type> and the ServiceMonitor on.
        expected = args.case.removeprefix("service-")
        check(dig(grpc_service, "spec.type") == expected, f"the gRPC Service is a {expected}")
        check("ServiceMonitor" in by_kind, "ServiceMonitor rendered")

    for failure in failures:
        print(f"{args.case}: {failure}", file=sys.stderr)
    if not failures:
        print(f"{args.case}: sfgate.toml is valid TOML with {len(tenants)} tenant(s); manifests checked")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
