// Package k8s holds no code, only the tests that keep the Kubernetes
// manifests in this directory valid: each object is checked against
// Kubernetes' own OpenAPI schema of its kind (the definitions kustomize's
// kyaml embeds, validated strictly, as kubeconform -strict does, with
// santhosh-tekuri/jsonschema; no network), and the objects against each
// other and the code: selectors that select, ports and Secret keys that
// exist, the gateway's config accepted by the same checks as check-config,
// a non-root user and a read-only root filesystem with the data dir on a
// volume.
package k8s
