#!/usr/bin/env bash
# Lints the Helm chart helm/sfgate, offline: no cluster, no network, no helm executable.
#
#   .ci/helm-lint.sh                        every check below
#   .ci/helm-lint.sh --write-config PATH    also write sfgate.toml rendered from the chart's default
#                                           values to PATH (or set SFGATE_HELM_WRITE_CONFIG=PATH),
#                                           e.g. for a test that feeds it to sfgate's config loader
#   .ci/helm-lint.sh --config-only PATH     only render and write that sfgate.toml, then stop
#
# Needs the PyPI packages of .ci/helm-requirements.txt (`python3 -m pip install -r
# .ci/helm-requirements.txt`): helm-python-sdk is Helm's Go SDK (v4) as a Python library, which
# .ci/helm.py drives as `helm lint` / `helm template`; yamllint; kubernetes-validate, which carries
# the Kubernetes API schemas in the package.
#
# Checks: yamllint of the chart's own YAML; then, for the default values and each
# helm/sfgate/ci/*-values.yaml, `helm lint --strict`, `helm template`, yamllint of the manifests
# (helm/yamllint.yaml), their validation against the Kubernetes API of the oldest and newest versions
# the chart supports, and .ci/helm-check.py (the ConfigMap's sfgate.toml is valid TOML with the keys
# sfgate needs; pod hardening, probes, grace period, Secret wiring; the admin port on a ClusterIP
# Service of its own, which the ServiceMonitor selects alone) and `sfgate check-config` on it
# (the binary from SFGATE_BINARY, default target/debug/sfgate); the Service and ServiceMonitor checks
# again with service.type NodePort and LoadBalancer. Then values that must be refused
# (wrong types, unknown keys, unknown enum values, inconsistent settings) are checked to be refused.
set -euo pipefail
cd "$(dirname "$0")/.."

chart=helm/sfgate
write_config=${SFGATE_HELM_WRITE_CONFIG:-}
config_only=false
while [ $# -gt 0 ]; do
    case $1 in
        --write-config) write_config=${2:?--write-config needs a path}; shift 2 ;;
        --config-only) write_config=${2:?--config-only needs a path}; config_only=true; shift 2 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "helm-lint: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

for module in helm_python yaml; do
    if ! python3 -c "import $module" 2>/dev/null; then
        echo "helm-lint: python3 cannot import $module: python3 -m pip install -r .ci/helm-requirements.txt" >&2
        exit 1
    fi
done
helm() { python3 .ci/helm.py "$@"; }

# The binary that checks the rendered sfgate.toml (`sfgate check-config`); built by the tests.
sfgate=${SFGATE_BINARY:-target/debug/sfgate}
if [ ! -x "$sfgate" ]; then
    if [ "${SFGATE_TEST_REQUIRE_SERVERS:-}" = 1 ]; then
        echo "helm-lint: $sfgate not built: the rendered configurations cannot be checked (cargo build)" >&2
        exit 1
    fi
    echo "!!! helm-lint: $sfgate not built: skipping sfgate check-config of the rendered configurations !!!" >&2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "$config_only" = true ]; then
    helm template sfgate "$chart" >"$work/default.yaml"
    python3 .ci/helm-check.py default "$work/default.yaml" --write-config "$write_config"
    exit 0
fi

for tool in yamllint kubernetes-validate; do
    if ! command -v "$tool" >/dev/null; then
        echo "helm-lint: $tool not found: python3 -m pip install -r .ci/helm-requirements.txt" >&2
        exit 1
    fi
done

# The chart deploys the image `docker build -t sfgate:<version> .` makes: appVersion = the crate's version.
app_version=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$chart/Chart.yaml")
crate_version=$(sed -n '/^\[package\]/,/^\[/s/^version = "\(.*\)"$/\1/p' Cargo.toml)
if [ "$app_version" != "$crate_version" ]; then
    echo "helm-lint: $chart/Chart.yaml appVersion $app_version differs from Cargo.toml version $crate_version" >&2
    exit 1
fi

yamllint --strict -c helm/yamllint.yaml "$chart/Chart.yaml" "$chart/values.yaml" "$chart/ci" helm/yamllint.yaml

cases=(default)
for file in "$chart"/ci/*-values.yaml; do
    name=${file##*/}
    cases+=("${name%-values.yaml}")
done
for case in "${cases[@]}"; do
    values=()
    [ "$case" = default ] || values=(-f "$chart/ci/$case-values.yaml")
    echo "::: chart: $case values"
    helm lint "$chart" --strict "${values[@]}"
    helm template sfgate "$chart" --namespace sfgate "${values[@]}" >"$work/$case.yaml"
    yamllint --strict -c helm/yamllint.yaml "$work/$case.yaml"
    for kube in 1.25.0 1.37.0; do
        kubernetes-validate --strict --quiet --no-warn -k "$kube" "$work/$case.yaml"
    done
    python3 .ci/helm-check.py "$case" "$work/$case.yaml" --write-config "$work/$case.toml"
    [ "$case" = default ] && [ -n "$write_config" ] && cp "$work/$case.toml" "$write_config"
    # sfgate's own loader must accept what the chart renders.
    if [ -x "$sfgate" ]; then
        env=()
        if grep -q '^\[shared_limits\]' "$work/$case.toml" && ! grep -q '^redis_url' "$work/$case.toml"; then
            env+=(SFGATE__SHARED_LIMITS__REDIS_URL=redis://redis-from-secret:6379)
        fi
        # Token auth reads VAULT_TOKEN, which the Deployment takes from a Secret.
        grep -q '^method = "token"' "$work/$case.toml" && env+=(VAULT_TOKEN=token-from-secret)
        # Vault's CA and client certificate, which the Deployment mounts from a Secret or a
        # ConfigMap, are read at start: stand-ins made here take the mounted paths' place.
        if [ ! -f "$work/stand-in.crt" ]; then
            openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=stand-in \
                -keyout "$work/stand-in.key" -out "$work/stand-in.crt" 2>/dev/null
        fi
        sed -e "s|^ca_file = .*|ca_file = \"$work/stand-in.crt\"|" \
            -e "s|^client_cert_file = .*|client_cert_file = \"$work/stand-in.crt\"|" \
            -e "s|^client_key_file = .*|client_key_file = \"$work/stand-in.key\"|" \
            "$work/$case.toml" >"$work/$case.check.toml"
        env "${env[@]}" "$sfgate" check-config --config "$work/$case.check.toml"
    fi
done
# The admin port (/metrics names every tenant) stays on its ClusterIP Service whatever service.type
# is, and the ServiceMonitor scrapes that Service alone (options-values.yaml has a LoadBalancer too).
for type in NodePort LoadBalancer; do
    echo "::: chart: default values with service.type $type"
    helm template sfgate "$chart" --namespace sfgate --set-json "service={\"type\":\"$type\"}" \
        --set-json 'serviceMonitor={"enabled":true}' >"$work/service-$type.yaml"
    kubernetes-validate --strict --quiet --no-warn -k 1.37.0 "$work/service-$type.yaml"
    python3 .ci/helm-check.py "service-$type" "$work/service-$type.yaml"
done
helm template sfgate "$chart" --notes -f "$chart/ci/options-values.yaml" >"$work/notes.txt"
grep -q "expected_replicas = 3" "$work/notes.txt" || { echo "helm-lint: NOTES.txt" >&2; cat "$work/notes.txt" >&2; exit 1; }

# Values that must be refused, each with (part of) the error it must be refused with.
refused=0
expect_refused() {
    local what=$1 expected=$2
    shift 2
    local out status=0
    out=$(helm template sfgate "$chart" "$@" 2>&1) || status=$?
    if [ "$status" -eq 0 ] || ! grep -qF -- "$expected" <<<"$out"; then
        echo "helm-lint: $what was not refused with \"$expected\" (exit $status):" >&2
        echo "$out" | tail -5 >&2
        exit 1
    fi
    refused=$((refused + 1))
}
echo "::: chart: values that must be refused"
expect_refused "a wrong type from a values file" "/replicaCount" -f "$chart/ci/invalid/wrong-type-values.yaml"
if helm lint "$chart" --strict -f "$chart/ci/invalid/wrong-type-values.yaml" >"$work/lint.txt" 2>&1; then
    echo "helm-lint: helm lint accepted $chart/ci/invalid/wrong-type-values.yaml" >&2
    exit 1
fi
expect_refused "a string for replicaCount" "/replicaCount" --set-json 'replicaCount="two"'
expect_refused "a string for securityContext" "/securityContext" --set-json 'securityContext="none"'
expect_refused "a list for resources" "/resources" --set-json 'resources=[]'
expect_refused "logFormat xml" "/logFormat" --set-json 'logFormat="xml"'
expect_refused "an unknown top-level key" "additional properties 'replicas'" --set-json 'replicas=3'
expect_refused "an unknown Vault auth method" "/vault/auth/method" --set-json 'vault={"auth":{"method":"ldap"}}'
expect_refused "approle without its secret" "/vault/auth/secretIdSecret/name" \
    --set-json 'vault={"auth":{"method":"approle","roleId":"r"}}'
expect_refused "token auth without a Secret" "/vault/auth/tokenSecret/name" --set-json 'vault={"auth":{"method":"token"}}'
expect_refused "Vault's CA from both a Secret and a ConfigMap" "/vault/tls" \
    --set-json 'vault={"tls":{"caSecret":{"name":"a"},"caConfigMap":{"name":"b"}}}'
expect_refused "a Redis URL of another scheme" "/redis/url" --set-json 'redis={"url":"http://redis:6379"}'
expect_refused "expectedReplicas 0" "/redis/expectedReplicas" --set-json 'redis={"expectedReplicas":0}'
expect_refused "an https OTLP endpoint (the exporter has no TLS)" "/telemetry/otlpEndpoint" \
    --set-json 'telemetry={"otlpEndpoint":"https://otel-collector:4317"}'
expect_refused "a sample ratio above 1" "/telemetry/sampleRatio" --set-json 'telemetry={"sampleRatio":2}'
expect_refused "an unknown OAuth grant" "/tenants/acme/grant" --set-json 'tenants={"acme":{"grant":"magic"}}'
expect_refused "a misspelt tenant key" "'api_key' not allowed" --set-json 'tenants={"acme":{"api_key":[]}}'
expect_refused "an API key hash that is not 64 hex digits" "/tenants/acme/api_keys/0/sha256" \
    --set-json 'tenants={"acme":{"api_keys":[{"caller":"a","sha256":"abc"}]}}'
expect_refused "a tenant id with a space" "'two words' does not match" \
    --set-json 'tenants={"two words":{"login_url":"https://x.my.salesforce.com","grant":"password","credentials_path":"p"}}'
expect_refused "no tenant" "/tenants" --set-json 'tenants={"acme":null}'
expect_refused "Vault off while a tenant reads from it" "vault.enabled is false" --set-json 'vault={"enabled":false}'
expect_refused "maxReplicas below minReplicas" "maxReplicas must be at least" \
    --set-json 'autoscaling={"minReplicas":5,"maxReplicas":3}'
expect_refused "a grace period shorter than the shutdown grace" "terminationGracePeriodSeconds must exceed" \
    --set-json 'terminationGracePeriodSeconds=20'
echo "chart: $refused kinds of wrong values refused"
[ -z "$write_config" ] || echo "chart: sfgate.toml of the default values written to $write_config"
echo "::: chart lint passed"
