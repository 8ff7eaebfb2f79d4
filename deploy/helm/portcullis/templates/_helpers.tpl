{{/*
The chart name, or nameOverride.
*/}}
{{- define "portcullis.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The fully qualified app name: <release>-<chart>, at most 63 characters
(Kubernetes names are DNS labels); the release name alone when it already
contains the chart name.
*/}}
{{- define "portcullis.fullname" -}}
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

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "portcullis.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "portcullis.labels" -}}
helm.sh/chart: {{ include "portcullis.chart" . }}
app.kubernetes.io/name: {{ include "portcullis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: portcullis
{{- end }}

{{/*
Selector labels of the server's pods (Deployment, Service, PDB). The
component label keeps the migration Job's pod out of the Service and the PDB.
*/}}
{{- define "portcullis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portcullis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end }}

{{/*
The ServiceAccount the server's pods use.
*/}}
{{- define "portcullis.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "portcullis.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image reference; the tag defaults to the chart's appVersion.
*/}}
{{- define "portcullis.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
"true" when the database is external (PostgreSQL), "" for SQLite in the data
directory.
*/}}
{{- define "portcullis.externalDatabase" -}}
{{- if or .Values.database.url .Values.database.existingSecret }}true{{ end }}
{{- end }}

{{/*
The chart-owned Secret with DATABASE_URL and PORTCULLIS_SECRET_KEY (when
given inline), and the one with the `secrets:` map.
*/}}
{{- define "portcullis.secretName" -}}
{{- include "portcullis.fullname" . }}
{{- end }}

{{- define "portcullis.envSecretName" -}}
{{- printf "%s-env" (include "portcullis.fullname" . | trunc 59 | trimSuffix "-") }}
{{- end }}

{{/*
The `secrets:` map without the reserved key existingSecret.
*/}}
{{- define "portcullis.inlineSecrets" -}}
{{- toJson (omit (.Values.secrets | default dict) "existingSecret") }}
{{- end }}

{{/*
Hook annotations of the chart-owned Secrets. The migration Job is a
pre-install hook, which Helm runs before any ordinary resource of the release
exists; the Secrets it reads must therefore be hooks too, created first
(lower weight). See README.md, "Secrets and the migration hook".
*/}}
{{- define "portcullis.secretHookAnnotations" -}}
helm.sh/hook: pre-install,pre-upgrade
helm.sh/hook-weight: "-10"
helm.sh/hook-delete-policy: before-hook-creation
{{- end }}

{{/*
Names the chart sets itself: not allowed in envVars or secrets.
*/}}
{{- define "portcullis.chartManagedNames" -}}
{{- toJson (dict
  "PORTCULLIS_PUBLIC_URL" "publicUrl"
  "PORTCULLIS_LISTEN" "service.port"
  "PORTCULLIS_DATA_DIR" "persistence.mountPath"
  "PORTCULLIS_METRICS_LISTEN" "metrics.enabled and metrics.port"
  "DATABASE_URL" "database.url or database.existingSecret"
  "PORTCULLIS_SECRET_KEY" "secretKey.value or secretKey.existingSecret"
  "PORTCULLIS_TRUST_X_FORWARDED_FOR" "trustXForwardedFor"
) }}
{{- end }}

{{/*
Every check that makes the chart refuse to render, with a message saying what
to do. Included by the Deployment (always rendered).
*/}}
{{- define "portcullis.validate" -}}
{{- $_ := required "publicUrl is required: the external base URL browsers use, e.g. --set publicUrl=https://portcullis.example.com (it becomes PORTCULLIS_PUBLIC_URL; the IdP callbacks are <publicUrl>/auth/<provider>/callback)" .Values.publicUrl }}
{{- $secrets := .Values.secrets | default dict }}
{{- $inline := include "portcullis.inlineSecrets" . | fromJson }}
{{- if and $secrets.existingSecret (gt (len $inline) 0) }}
{{- fail (printf "secrets.existingSecret (%s) takes every secret variable from that Secret, but secrets also has inline keys (%s): put them into the Secret %s, or remove existingSecret" $secrets.existingSecret (keys $inline | sortAlpha | join ", ") $secrets.existingSecret) }}
{{- end }}
{{- if and .Values.database.url .Values.database.existingSecret }}
{{- fail "database.url and database.existingSecret are both set: give the database URL one way only" }}
{{- end }}
{{- if and .Values.secretKey.value .Values.secretKey.existingSecret }}
{{- fail "secretKey.value and secretKey.existingSecret are both set: give the secret key one way only" }}
{{- end }}
{{- $external := include "portcullis.externalDatabase" . }}
{{- if and (gt (int .Values.replicaCount) 1) (not $external) }}
{{- fail (printf "replicaCount is %d, but without database.url the database is SQLite in the data directory, which serves one replica only: set database.url (postgres://user:password@host:5432/db) or database.existingSecret, or replicaCount: 1" (int .Values.replicaCount)) }}
{{- end }}
{{- if and (not .Values.secretKey.value) (not .Values.secretKey.existingSecret) (or $external (gt (int .Values.replicaCount) 1)) }}
{{- fail "secretKey is required with an external database or more than one replica (every replica must share it, and it must never change afterwards: it seals the stored secrets). Generate one with `openssl rand -base64 32` and set secretKey.value, or secretKey.existingSecret and secretKey.existingSecretKey" }}
{{- end }}
{{- if and .Values.metrics.enabled (eq (int .Values.metrics.port) (int .Values.service.port)) }}
{{- fail (printf "metrics.port and service.port are both %d: the metrics listener needs a port of its own" (int .Values.service.port)) }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.enabled) }}
{{- fail "metrics.serviceMonitor.enabled needs metrics.enabled" }}
{{- end }}
{{- $managed := include "portcullis.chartManagedNames" . | fromJson }}
{{- range $name, $value := (.Values.envVars | default dict) }}
{{- if or (regexMatch "(?i)(secret|password)" $name) (has $name (list "DATABASE_URL" "PORTCULLIS_SECRET_KEY")) }}
{{- fail (printf "envVars.%s looks like a secret: move it under secrets (plain envVars are visible in the Deployment)" $name) }}
{{- end }}
{{- if hasKey $managed $name }}
{{- fail (printf "envVars.%s is set by the chart: use %s instead" $name (get $managed $name)) }}
{{- end }}
{{- if hasKey $inline $name }}
{{- fail (printf "%s is in both envVars and secrets: keep it in one place" $name) }}
{{- end }}
{{- end }}
{{- range $name, $value := $inline }}
{{- if hasKey $managed $name }}
{{- fail (printf "secrets.%s is set by the chart: use %s instead" $name (get $managed $name)) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The container's environment, shared by the Deployment and the migration Job
so that the two never differ: `env:` then (when any) `envFrom:`.
*/}}
{{- define "portcullis.env" -}}
{{- $inline := include "portcullis.inlineSecrets" . | fromJson }}
{{- $secrets := .Values.secrets | default dict }}
{{- $trust := "" }}
{{- if kindIs "bool" .Values.trustXForwardedFor }}
{{- $trust = toString .Values.trustXForwardedFor }}
{{- else if .Values.ingress.enabled }}
{{- $trust = "true" }}
{{- end }}
env:
  - name: PORTCULLIS_PUBLIC_URL
    value: {{ .Values.publicUrl | trimSuffix "/" | quote }}
  - name: PORTCULLIS_LISTEN
    value: {{ printf "0.0.0.0:%d" (int .Values.service.port) | quote }}
  - name: PORTCULLIS_DATA_DIR
    value: {{ .Values.persistence.mountPath | quote }}
  {{- if .Values.metrics.enabled }}
  - name: PORTCULLIS_METRICS_LISTEN
    value: {{ printf "0.0.0.0:%d" (int .Values.metrics.port) | quote }}
  {{- end }}
  {{- if $trust }}
  - name: PORTCULLIS_TRUST_X_FORWARDED_FOR
    value: {{ $trust | quote }}
  {{- end }}
  {{- if include "portcullis.externalDatabase" . }}
  - name: DATABASE_URL
    valueFrom:
      secretKeyRef:
        name: {{ .Values.database.existingSecret | default (include "portcullis.secretName" .) }}
        key: {{ ternary .Values.database.existingSecretKey "DATABASE_URL" (not (empty .Values.database.existingSecret)) }}
  {{- end }}
  {{- if or .Values.secretKey.value .Values.secretKey.existingSecret }}
  - name: PORTCULLIS_SECRET_KEY
    valueFrom:
      secretKeyRef:
        name: {{ .Values.secretKey.existingSecret | default (include "portcullis.secretName" .) }}
        key: {{ ternary .Values.secretKey.existingSecretKey "PORTCULLIS_SECRET_KEY" (not (empty .Values.secretKey.existingSecret)) }}
  {{- end }}
  {{- range $name, $value := (.Values.envVars | default dict) }}
  - name: {{ $name }}
    value: {{ $value | toString | quote }}
  {{- end }}
{{- if or $secrets.existingSecret (gt (len $inline) 0) }}
envFrom:
  - secretRef:
      name: {{ $secrets.existingSecret | default (include "portcullis.envSecretName" .) }}
{{- end }}
{{- end }}

{{/*
Volumes and mounts shared by the Deployment and the Job.
*/}}
{{- define "portcullis.volumeMounts" -}}
- name: data
  mountPath: {{ .Values.persistence.mountPath }}
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "portcullis.pod.common" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
# Kubernetes would otherwise inject PORTCULLIS_PORT, PORTCULLIS_SERVICE_HOST,
# ... for the Service: variables the server does not know (and warns about).
enableServiceLinks: false
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
