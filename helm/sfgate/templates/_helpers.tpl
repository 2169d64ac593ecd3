{{/* Names and labels. */}}
{{- define "sfgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sfgate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sfgate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sfgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sfgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The labels of every object but the admin Service: component gateway. */}}
{{- define "sfgate.labels" -}}
{{ include "sfgate.componentLabels" (list . "gateway") }}
{{- end }}

{{/* The admin Service's: component admin, the label the ServiceMonitor selects it by. */}}
{{- define "sfgate.adminLabels" -}}
{{ include "sfgate.componentLabels" (list . "admin") }}
{{- end }}

{{/* (list $ "component") */}}
{{- define "sfgate.componentLabels" -}}
{{- $ := index . 0 -}}
helm.sh/chart: {{ include "sfgate.chart" $ }}
{{ include "sfgate.selectorLabels" $ }}
app.kubernetes.io/version: {{ include "sfgate.imageTag" $ | trunc 63 | quote }}
app.kubernetes.io/component: {{ index . 1 }}
app.kubernetes.io/managed-by: {{ $.Release.Service }}
{{- end }}

{{/*
The ClusterIP Service of the admin port: <fullname>-admin, the full name cut to keep it within 63
characters, so that it never collides with the gRPC Service's name.
*/}}
{{- define "sfgate.adminServiceName" -}}
{{- printf "%s-admin" (include "sfgate.fullname" . | trunc 57 | trimSuffix "-") }}
{{- end }}

{{- define "sfgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sfgate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sfgate.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{- define "sfgate.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "sfgate.imageTag" .) }}
{{- end }}
{{- end }}

{{/* Whether the pod needs its service-account token: Vault's kubernetes auth logs in with it. */}}
{{- define "sfgate.automountToken" -}}
{{- $vaultKubernetes := and .Values.vault.enabled (eq .Values.vault.auth.method "kubernetes") }}
{{- ternary "true" "false" (or $vaultKubernetes .Values.serviceAccount.automountToken) }}
{{- end }}

{{/* Shared limits are on when Redis has a URL, in values or in an existing Secret. */}}
{{- define "sfgate.sharedLimits" -}}
{{- if or .Values.redis.url .Values.redis.existingSecret.name }}true{{ end }}
{{- end }}

{{/*
expected_replicas: while Redis is down each replica enforces 1/expected_replicas of a tenant's
rate, so the most replicas that can run (the HPA's maximum) keeps the replicas together within the
rate at any scale; see README.md.
*/}}
{{- define "sfgate.expectedReplicas" -}}
{{- if not (kindIs "invalid" .Values.redis.expectedReplicas) }}
{{- .Values.redis.expectedReplicas | int }}
{{- else if .Values.autoscaling.enabled }}
{{- .Values.autoscaling.maxReplicas | int }}
{{- else }}
{{- .Values.replicaCount | int }}
{{- end }}
{{- end }}

{{- define "sfgate.vaultAuthMount" -}}
{{- if .Values.vault.auth.mount }}
{{- .Values.vault.auth.mount }}
{{- else if eq .Values.vault.auth.method "approle" }}
{{- "approle" }}
{{- else }}
{{- "kubernetes" }}
{{- end }}
{{- end }}

{{/* Where the AppRole secret id is mounted. */}}
{{- define "sfgate.secretIdDir" -}}
/var/run/secrets/sfgate/vault-approle
{{- end }}

{{/* Where Vault's CA and the client certificate are mounted. */}}
{{- define "sfgate.vaultCaDir" -}}
/var/run/secrets/sfgate/vault-ca
{{- end }}

{{- define "sfgate.vaultClientCertDir" -}}
/var/run/secrets/sfgate/vault-client
{{- end }}

{{/* "true" when Vault's CA comes from a Secret or a ConfigMap. */}}
{{- define "sfgate.vaultCa" -}}
{{- if and .Values.vault.enabled (or .Values.vault.tls.caSecret.name .Values.vault.tls.caConfigMap.name) }}true{{ end }}
{{- end }}

{{- define "sfgate.vaultClientCert" -}}
{{- if and .Values.vault.enabled .Values.vault.tls.clientCertificateSecret }}true{{ end }}
{{- end }}

{{- define "sfgate.terminationGracePeriodSeconds" -}}
{{- if not (kindIs "invalid" .Values.terminationGracePeriodSeconds) }}
{{- .Values.terminationGracePeriodSeconds | int }}
{{- else }}
{{- add (.Values.config.shutdownGraceSeconds | int) (.Values.preStopSleepSeconds | int) 10 }}
{{- end }}
{{- end }}

{{/*
A small TOML writer for values (Helm reads every YAML number as a float64; whole numbers are
written as TOML integers, which sfgate's float fields accept too).

sfgate.toml.key    a key: bare when it may be, else a quoted string
sfgate.toml.value  an inline value: string, number, bool, array (of anything below) or inline table
sfgate.toml.table  a table's body: dict "path" (list of keys) "table" (map). Scalars, arrays and
                   arrays of tables (as inline tables, one a line) first, then each map value as a
                   [path.key] sub-table. Null values are left out, so `key: null` in values removes a
                   default.
*/}}
{{- define "sfgate.toml.key" -}}
{{- if regexMatch "^[A-Za-z0-9_-]+$" . }}{{ . }}{{ else }}{{ toJson . }}{{ end }}
{{- end }}

{{- define "sfgate.toml.value" -}}
{{- $v := . }}
{{- if kindIs "string" $v }}{{ toJson $v }}
{{- else if kindIs "bool" $v }}{{ ternary "true" "false" $v }}
{{- else if or (kindIs "float64" $v) (kindIs "float32" $v) (kindIs "int" $v) (kindIs "int64" $v) (kindIs "int32" $v) (kindIs "uint64" $v) }}{{ toJson $v }}
{{- else if kindIs "slice" $v }}
{{- $items := list }}
{{- range $v }}{{ if not (kindIs "invalid" .) }}{{ $items = append $items (include "sfgate.toml.value" .) }}{{ end }}{{ end }}
{{- printf "[%s]" (join ", " $items) }}
{{- else if kindIs "map" $v }}
{{- $pairs := list }}
{{- range $k := keys $v | sortAlpha }}
{{- $item := index $v $k }}
{{- if not (kindIs "invalid" $item) }}
{{- $pairs = append $pairs (printf "%s = %s" (include "sfgate.toml.key" $k) (include "sfgate.toml.value" $item)) }}
{{- end }}
{{- end }}
{{- if $pairs }}{{ printf "{ %s }" (join ", " $pairs) }}{{ else }}{}{{ end }}
{{- else }}
{{- fail (printf "sfgate.toml: cannot write a value of kind %s as TOML: %v" (kindOf $v) $v) }}
{{- end }}
{{- end }}

{{- define "sfgate.toml.isArrayOfTables" -}}
{{- if and (kindIs "slice" .) (gt (len .) 0) }}
{{- $all := true }}
{{- range . }}{{ if not (kindIs "map" .) }}{{ $all = false }}{{ end }}{{ end }}
{{- if $all }}true{{ end }}
{{- end }}
{{- end }}

{{- define "sfgate.toml.table" -}}
{{- $path := .path }}
{{- $table := .table }}
{{- range $k := keys $table | sortAlpha }}
{{- $v := index $table $k }}
{{- if and (not (kindIs "invalid" $v)) (not (kindIs "map" $v)) }}
{{- if include "sfgate.toml.isArrayOfTables" $v }}
{{ include "sfgate.toml.key" $k }} = [
{{- range $v }}
  {{ include "sfgate.toml.value" . }},
{{- end }}
]
{{- else }}
{{ include "sfgate.toml.key" $k }} = {{ include "sfgate.toml.value" $v }}
{{- end }}
{{- end }}
{{- end }}
{{- range $k := keys $table | sortAlpha }}
{{- $v := index $table $k }}
{{- if kindIs "map" $v }}
{{- $sub := append $path $k }}
{{- $keys := list }}
{{- range $sub }}{{ $keys = append $keys (include "sfgate.toml.key" .) }}{{ end }}

[{{ join "." $keys }}]
{{- include "sfgate.toml.table" (dict "path" $sub "table" $v) }}
{{- end }}
{{- end }}
{{- end }}

{{/* A float that stays a float in TOML (1 -> 1.0). */}}
{{- define "sfgate.toml.float" -}}
{{- $s := toJson . }}
{{- if regexMatch "^-?[0-9]+$" $s }}{{ $s }}.0{{ else }}{{ $s }}{{ end }}
{{- end }}

{{/* Checks the chart cannot express in values.schema.json. */}}
{{- define "sfgate.validate" -}}
{{- if and .Values.autoscaling.enabled (lt (.Values.autoscaling.maxReplicas | int) (.Values.autoscaling.minReplicas | int)) }}
{{- fail "autoscaling.maxReplicas must be at least autoscaling.minReplicas" }}
{{- end }}
{{- if and .Values.podDisruptionBudget.enabled (kindIs "invalid" .Values.podDisruptionBudget.minAvailable) (kindIs "invalid" .Values.podDisruptionBudget.maxUnavailable) }}
{{- fail "podDisruptionBudget: set minAvailable or maxUnavailable" }}
{{- end }}
{{- $minGrace := add (.Values.config.shutdownGraceSeconds | int) (.Values.preStopSleepSeconds | int) }}
{{- if and (not (kindIs "invalid" .Values.terminationGracePeriodSeconds)) (le (.Values.terminationGracePeriodSeconds | int) $minGrace) }}
{{- fail (printf "terminationGracePeriodSeconds must exceed config.shutdownGraceSeconds + preStopSleepSeconds (%d), or in-flight calls are killed" $minGrace) }}
{{- end }}
{{- $activeTenants := 0 }}
{{- range $id, $tenant := .Values.tenants }}
{{- if not (kindIs "invalid" $tenant) }}
{{- $activeTenants = add1 $activeTenants }}
{{- if and (eq (default "vault" $tenant.credentials_provider) "vault") (not $.Values.vault.enabled) }}
{{- fail (printf "tenants.%s reads its secrets from Vault (credentials_provider vault, the default) but vault.enabled is false" $id) }}
{{- end }}
{{- end }}
{{- end }}
{{- if eq $activeTenants 0 }}
{{- fail "tenants: configure at least one tenant (sfgate refuses a configuration without one)" }}
{{- end }}
{{- if and .Values.redis.url .Values.redis.existingSecret.name }}
{{- fail "redis: set url or existingSecret.name, not both" }}
{{- end }}
{{- if .Values.vault.enabled }}
{{- $auth := .Values.vault.auth }}
{{- if and (eq $auth.method "kubernetes") (not $auth.role) }}
{{- fail "vault.auth.role: the kubernetes method needs the Vault role bound to the service account" }}
{{- end }}
{{- if and (eq $auth.method "approle") (or (not $auth.roleId) (not $auth.secretIdSecret.name)) }}
{{- fail "vault.auth: the approle method needs roleId and secretIdSecret.name" }}
{{- end }}
{{- if and (eq $auth.method "token") (not $auth.tokenSecret.name) }}
{{- fail "vault.auth.tokenSecret.name: the token method needs an existing Secret holding the token" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The container's environment (a YAML list, or nothing). */}}
{{- define "sfgate.env" -}}
{{- with .Values.logLevel }}
- name: RUST_LOG
  value: {{ . | quote }}
{{- end }}
{{- if and .Values.vault.enabled (eq .Values.vault.auth.method "token") }}
- name: VAULT_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .Values.vault.auth.tokenSecret.name }}
      key: {{ .Values.vault.auth.tokenSecret.key }}
{{- end }}
{{- if .Values.redis.existingSecret.name }}
- name: SFGATE__SHARED_LIMITS__REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.existingSecret.name }}
      key: {{ .Values.redis.existingSecret.key }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* A probe's handler: (list $ "/path-for-http"). */}}
{{- define "sfgate.probeHandler" -}}
{{- $ := index . 0 }}
{{- if eq $.Values.probeType "http" }}
httpGet:
  path: {{ index . 1 }}
  port: admin
{{- else }}
grpc:
  port: {{ $.Values.grpc.port | int }}
{{- end }}
{{- end }}
