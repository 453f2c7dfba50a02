{{/* Chart name, overridable. */}}
{{- define "accountops.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Name of the release's objects: the release name, unless it already holds the chart name. */}}
{{- define "accountops.fullname" -}}
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

{{/* Cluster-scoped objects (ClusterRole, ClusterRoleBinding) also carry the namespace, so two
releases of the same name in different namespaces do not collide. RBAC names may be longer
than 63 characters, so nothing is cut off. */}}
{{- define "accountops.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "accountops.fullname" .) }}
{{- end }}

{{- define "accountops.selectorLabels" -}}
app.kubernetes.io/name: {{ include "accountops.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "accountops.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "accountops.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "accountops.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "accountops.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository@digest when a digest is given (the tag is then ignored), else repository:tag. */}}
{{- define "accountops.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* "true" when the pods elect a leader: asked for, or needed because there is more than one. */}}
{{- define "accountops.leaderElection" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicas) 1) }}true{{ end }}
{{- end }}

{{- define "accountops.leaseName" -}}
{{- default (printf "%s-leader" (include "accountops.fullname" .)) .Values.leaderElection.leaseName }}
{{- end }}

{{/* The Secret this release renders from database.url / smtp.url. */}}
{{- define "accountops.urlSecretName" -}}
{{- include "accountops.fullname" . }}-urls
{{- end }}

{{/* Where DATABASE_URL comes from: the existing Secret, the release's Secret, or (neither
given) a Secret <fullname>-database the installer creates; NOTES.txt says so. */}}
{{- define "accountops.databaseSecretRef" -}}
{{- if .Values.database.existingSecret -}}
name: {{ .Values.database.existingSecret }}
key: {{ .Values.database.existingSecretKey }}
{{- else if .Values.database.url -}}
name: {{ include "accountops.urlSecretName" . }}
key: database-url
{{- else -}}
name: {{ include "accountops.fullname" . }}-database
key: {{ .Values.database.existingSecretKey }}
{{- end }}
{{- end }}

{{/* The plural names of the five kinds, as a JSON list. */}}
{{- define "accountops.kinds" -}}
{{- list "accounts" "organizations" "memberships" "tenantlinks" "provisioningsyncs" | toJson }}
{{- end }}

{{/* The operator's permissions on its own kinds, Events and (optionally) Secrets: the same
rules for the ClusterRole (all namespaces) and the Role (one namespace). It never deletes. */}}
{{- define "accountops.watchRules" -}}
{{- $kinds := include "accountops.kinds" . | fromJsonArray -}}
- apiGroups: ["accountops.dev"]
  resources: [{{ join ", " $kinds }}]
  verbs: [get, list, watch, patch, update]
- apiGroups: ["accountops.dev"]
  resources:
{{- range $kinds }}
    - {{ . }}/status
{{- end }}
  verbs: [patch]
- apiGroups: ["accountops.dev"]
  resources:
{{- range $kinds }}
    - {{ . }}/finalizers
{{- end }}
  verbs: [update]
- apiGroups: ["events.k8s.io"]
  resources: [events]
  verbs: [create, patch]
{{- if .Values.rbac.secrets }}
- apiGroups: [""]
  resources: [secrets]
  # delete: only a provider's code Secret it wrote, when the Organization stops being a provider.
  verbs: [get, list, watch, create, update, patch, delete]
{{- end }}
{{- end }}

{{/* The watched namespaces as a JSON list: watchNamespace alone, or watchNamespaces; empty for
all namespaces. Both set is refused, since it is not clear which the installer meant. */}}
{{- define "accountops.watchNamespaces" -}}
{{- if and .Values.watchNamespace .Values.watchNamespaces }}
{{- fail "set either watchNamespace (one namespace) or watchNamespaces (a list), not both" }}
{{- end }}
{{- if .Values.watchNamespace }}
{{- list .Values.watchNamespace | toJson }}
{{- else }}
{{- .Values.watchNamespaces | default list | uniq | toJson }}
{{- end }}
{{- end }}
