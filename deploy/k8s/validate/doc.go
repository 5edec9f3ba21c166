// Package validate checks the Kubernetes manifests in deploy/k8s offline,
// without a cluster or downloaded schemas: `go test` in this folder.
//
// Data flow: kustomization.yaml names the resources → each file is split
// into YAML documents → each document is decoded strictly (an unknown or
// misspelt field, a duplicate key or a wrong type is an error) into the
// typed objects of k8s.io/api (apps/v1 StatefulSet, core/v1 Service, Secret,
// ConfigMap, policy/v1 PodDisruptionBudget) → the checks in
// manifests_test.go look at what a ticksync cluster needs: probes on
// /readyz and /healthz, a preStop drain, a data volume claim, the headless
// Service the StatefulSet names, selectors that match the pods, settings
// that name real node flags, and the Secrets the pods read
// (secret.example.yaml).
//
// It is its own module so that the ticksync module does not depend on the
// Kubernetes API packages.
package validate
