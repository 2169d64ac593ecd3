{{/* sfgate.toml, from values. The keys are sfgate's (src/config.rs, deny_unknown_fields). */}}
{{- define "sfgate.configToml" -}}
# sfgate.toml rendered by the Helm chart {{ include "sfgate.chart" . }}: change the values, not this file.
listen = "0.0.0.0:{{ .Values.grpc.port | int }}"
shutdown_grace_seconds = {{ .Values.config.shutdownGraceSeconds | int }}
reload_poll_seconds = {{ .Values.config.reloadPollSeconds | int }}

[admin]
listen = "0.0.0.0:{{ .Values.admin.port | int }}"

[telemetry]
{{- with .Values.telemetry.otlpEndpoint }}
otlp_endpoint = {{ toJson . }}
{{- end }}
service_name = {{ toJson .Values.telemetry.serviceName }}
sample_ratio = {{ include "sfgate.toml.float" .Values.telemetry.sampleRatio }}
{{- if .Values.vault.enabled }}
{{- $auth := .Values.vault.auth }}

[credentials.vault]
address = {{ toJson .Values.vault.address }}
mount = {{ toJson .Values.vault.kvMount }}
refresh_after_seconds = {{ .Values.vault.refreshAfterSeconds | int }}
max_stale_seconds = {{ .Values.vault.maxStaleSeconds | int }}
{{- with .Values.vault.namespace }}
namespace = {{ toJson . }}
{{- end }}
{{- if include "sfgate.vaultCa" . }}
ca_file = "{{ include "sfgate.vaultCaDir" . }}/ca.crt"
{{- end }}
{{- if include "sfgate.vaultClientCert" . }}
client_cert_file = "{{ include "sfgate.vaultClientCertDir" . }}/tls.crt"
client_key_file = "{{ include "sfgate.vaultClientCertDir" . }}/tls.key"
{{- end }}

[credentials.vault.auth]
method = {{ toJson $auth.method }}
{{- if eq $auth.method "kubernetes" }}
mount = {{ include "sfgate.vaultAuthMount" . | toJson }}
role = {{ toJson $auth.role }}
{{- else if eq $auth.method "approle" }}
mount = {{ include "sfgate.vaultAuthMount" . | toJson }}
role_id = {{ toJson $auth.roleId }}
secret_id_file = "{{ include "sfgate.secretIdDir" . }}/secret_id"
{{- end }}
{{- end }}
{{- if include "sfgate.sharedLimits" . }}

[shared_limits]
{{- if .Values.redis.url }}
redis_url = {{ toJson .Values.redis.url }}
{{- else }}
# redis_url comes from the environment: SFGATE__SHARED_LIMITS__REDIS_URL (Secret {{ .Values.redis.existingSecret.name }})
{{- end }}
expected_replicas = {{ include "sfgate.expectedReplicas" . }}
key_prefix = {{ toJson .Values.redis.keyPrefix }}
timeout_ms = {{ .Values.redis.timeoutMs | int }}
{{- end }}
{{- range $id := keys .Values.tenants | sortAlpha }}
{{- $tenant := index $.Values.tenants $id }}
{{- if not (kindIs "invalid" $tenant) }}

[tenants.{{ include "sfgate.toml.key" $id }}]
{{- include "sfgate.toml.table" (dict "path" (list "tenants" $id) "table" $tenant) }}
{{- end }}
{{- end }}
{{- with .Values.config.extra }}

{{ . }}
{{- end }}
{{- end }}
