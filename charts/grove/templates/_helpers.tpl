{{/* The release's full name: the release name, with "grove" appended unless it already says so. */}}
{{- define "grove.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "grove.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: grove
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "grove.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "grove.serviceAccountName" -}}
{{- default (include "grove.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* The operator's Kubernetes username, as admission policies see it. */}}
{{- define "grove.operatorUser" -}}
system:serviceaccount:{{ .Release.Namespace }}:{{ include "grove.serviceAccountName" . }}
{{- end -}}

{{/* The ClusterRole the operator binds to itself in every Environment namespace it makes. */}}
{{- define "grove.namespaceRole" -}}
{{ include "grove.fullname" . }}-environment
{{- end -}}

{{- define "grove.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}
