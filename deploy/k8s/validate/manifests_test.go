package validate

import (
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

const (
	k8sDir   = ".."       // deploy/k8s
	repoRoot = "../../.." // the ticksync module
	// secretTemplate documents the Secrets the pods read; it is not applied
	// by the kustomization (real values never live in the repository).
	secretTemplate = "secret.example.yaml"
	container      = "ticksync"
)

// cliEnv are variables ticksyncctl reads (the preStop hook runs it).
var cliEnv = []string{"TICKSYNC_ADDR", "TICKSYNC_ADMIN_TOKEN"}

type cluster struct {
	k   *Kustomization
	set *Set // the kustomization's resources
	sec *Set // the Secret template
	sts *appsv1.StatefulSet
	c   *corev1.Container
}

func load(t *testing.T) *cluster {
	t.Helper()
	k, err := LoadKustomization(k8sDir)
	if err != nil {
		t.Fatal(err)
	}
	cl := &cluster{k: k, set: &Set{}, sec: &Set{}}
	if err := cl.set.LoadFiles(k8sDir, k.Resources...); err != nil {
		t.Fatal(err)
	}
	if err := cl.sec.LoadFiles(k8sDir, secretTemplate); err != nil {
		t.Fatal(err)
	}
	if len(cl.set.Secrets) > 0 {
		t.Errorf("the kustomization applies Secrets %s: keep real secrets out of the repository (%s is the template)", cl.set.Secrets[0].Name, secretTemplate)
	}
	if len(cl.set.StatefulSets) != 1 {
		t.Fatalf("%d StatefulSets, want 1", len(cl.set.StatefulSets))
	}
	cl.sts = cl.set.StatefulSets[0]
	for i := range cl.sts.Spec.Template.Spec.Containers {
		if c := &cl.sts.Spec.Template.Spec.Containers[i]; c.Name == container {
			cl.c = c
		}
	}
	if cl.c == nil {
		t.Fatalf("StatefulSet %s has no container %q", cl.sts.Name, container)
	}
	return cl
}

// env returns the container's environment as the kubelet sets it for pod
// ordinal i (fieldRefs resolved, $(VAR) expanded in order), and the
// variables that come from Secrets.
func (cl *cluster) env(t *testing.T, ordinal int, namespace string) (vars map[string]string, fromSecret map[string]*corev1.SecretKeySelector) {
	t.Helper()
	vars = map[string]string{}
	fromSecret = map[string]*corev1.SecretKeySelector{}
	pod := fmt.Sprintf("%s-%d", cl.sts.Name, ordinal)
	for _, e := range cl.c.Env {
		if _, dup := vars[e.Name]; dup {
			t.Errorf("env %s is set twice", e.Name)
		}
		switch {
		case e.ValueFrom == nil:
			for _, m := range varRef.FindAllStringSubmatch(e.Value, -1) {
				if _, ok := vars[m[1]]; !ok {
					t.Errorf("env %s refers to $(%s), which is not defined before it (the kubelet would leave it as text)", e.Name, m[1])
				}
			}
			vars[e.Name] = Expand(e.Value, vars)
		case e.ValueFrom.FieldRef != nil:
			switch e.ValueFrom.FieldRef.FieldPath {
			case "metadata.name":
				vars[e.Name] = pod
			case "metadata.namespace":
				vars[e.Name] = namespace
			default:
				vars[e.Name] = "<" + e.ValueFrom.FieldRef.FieldPath + ">"
			}
		case e.ValueFrom.SecretKeyRef != nil:
			fromSecret[e.Name] = e.ValueFrom.SecretKeyRef
			vars[e.Name] = "<secret>"
		default:
			vars[e.Name] = "<ref>"
		}
	}
	return vars, fromSecret
}

func TestStrictDecode(t *testing.T) {
	cl := load(t)
	t.Logf("decoded %d StatefulSet, %d Services, %d PodDisruptionBudgets from %v; %d Secrets from %s",
		len(cl.set.StatefulSets), len(cl.set.Services), len(cl.set.PDBs), cl.k.Resources, len(cl.sec.Secrets), secretTemplate)
	// Misspelt, wrongly cased or repeated fields must fail: the decoding is
	// as strict as the API server's.
	for _, field := range []string{"replica: 3", "ServiceName: x", "replicas: 3\n  replicas: 5"} {
		bad := &Set{}
		err := bad.decode([]byte("apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: x}\nspec:\n  " + field + "\n"))
		if err == nil {
			t.Errorf("a StatefulSet with spec.%q decoded without error", field)
		}
	}
}

func TestStatefulSet(t *testing.T) {
	cl := load(t)
	sts, spec := cl.sts, &cl.sts.Spec.Template.Spec
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas < 3 || *sts.Spec.Replicas%2 == 0 {
		t.Errorf("replicas %v: want an odd number, at least 3 (a Raft quorum that survives one pod away)", sts.Spec.Replicas)
	}
	if sts.Spec.Selector == nil || !Selects(sts.Spec.Selector.MatchLabels, sts.Spec.Template.Labels) {
		t.Errorf("the StatefulSet's selector does not select its own pod template")
	}
	if sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("podManagementPolicy %q: want Parallel (after a full stop, pod-0 is ready only once a quorum runs)", sts.Spec.PodManagementPolicy)
	}
	if g := spec.TerminationGracePeriodSeconds; g == nil || *g < 30 {
		t.Errorf("terminationGracePeriodSeconds %v: want at least 30 (preStop drain plus the node's own 10 s shutdown)", g)
	}
	if spec.EnableServiceLinks == nil || *spec.EnableServiceLinks {
		t.Errorf("enableServiceLinks must be false: Service links put TICKSYNC_* variables in the node's environment")
	}
	if s := spec.SecurityContext; s == nil || s.RunAsNonRoot == nil || !*s.RunAsNonRoot || s.RunAsUser == nil || *s.RunAsUser == 0 || s.FSGroup == nil {
		t.Errorf("pod securityContext: want runAsNonRoot, a non-zero runAsUser and an fsGroup (the data volume must be writable)")
	}
	c := cl.c
	if s := c.SecurityContext; s == nil || s.AllowPrivilegeEscalation == nil || *s.AllowPrivilegeEscalation || s.ReadOnlyRootFilesystem == nil || !*s.ReadOnlyRootFilesystem {
		t.Errorf("container securityContext: want allowPrivilegeEscalation false and readOnlyRootFilesystem true")
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources: want cpu and memory requests and a memory limit, got %v", c.Resources)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["http"] != 7350 || ports["raft"] != 7351 {
		t.Errorf("container ports %v: want http 7350 and raft 7351", ports)
	}

	// Probes: readiness on /readyz (the cluster lease), liveness on /healthz.
	probe := func(name string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s probe: want an httpGet on %s", name, path)
			return
		}
		if p.HTTPGet.Path != path {
			t.Errorf("%s probe path %q, want %q", name, p.HTTPGet.Path, path)
		}
		if port := p.HTTPGet.Port.String(); ports[port] == 0 && p.HTTPGet.Port.IntValue() != 7350 {
			t.Errorf("%s probe port %q is not the http port", name, port)
		}
	}
	probe("readiness", c.ReadinessProbe, "/readyz")
	probe("liveness", c.LivenessProbe, "/healthz")
	if c.StartupProbe != nil {
		probe("startup", c.StartupProbe, "/healthz")
	}

	// preStop: ticksyncctl drains this node. Exec hooks get no $(VAR)
	// expansion and the image has no shell.
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Exec == nil {
		t.Fatalf("no preStop exec hook: the node must hand its matches over before it stops")
	}
	cmd := c.Lifecycle.PreStop.Exec.Command
	if len(cmd) < 2 || cmd[0] != "/usr/local/bin/ticksyncctl" || !slices.Contains(cmd, "drain") {
		t.Errorf("preStop command %q: want /usr/local/bin/ticksyncctl ... drain", cmd)
	}
	for _, a := range cmd {
		if strings.Contains(a, "$(") || strings.Contains(a, "${") || strings.HasPrefix(a, "/bin/sh") {
			t.Errorf("preStop argument %q: exec hooks are not expanded and the image has no shell", a)
		}
	}

	// Data: a claim template mounted at the node's data dir.
	vars, _ := cl.env(t, 0, "ns")
	dataDir := vars["TICKSYNC_DATA_DIR"]
	if dataDir == "" {
		t.Errorf("TICKSYNC_DATA_DIR is not set")
	}
	var claim string
	for _, m := range c.VolumeMounts {
		if m.MountPath == dataDir {
			claim = m.Name
		}
	}
	found := false
	for _, pvc := range sts.Spec.VolumeClaimTemplates {
		if pvc.Name == claim {
			found = true
			if pvc.Spec.Resources.Requests.Storage().IsZero() {
				t.Errorf("volumeClaimTemplate %s requests no storage", pvc.Name)
			}
		}
	}
	if !found {
		t.Errorf("no volumeClaimTemplate is mounted at the data dir %q (mount %q)", dataDir, claim)
	}
	for _, m := range c.VolumeMounts {
		if m.Name == claim {
			continue
		}
		if !slices.ContainsFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name }) {
			t.Errorf("volumeMount %s names no volume", m.Name)
		}
	}

	// The image is the one the kustomization rewrites.
	if !slices.ContainsFunc(cl.k.Images, func(i struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	}) bool {
		return i.Name == c.Image
	}) {
		t.Errorf("image %q is not among the kustomization's images", c.Image)
	}
}

func TestServices(t *testing.T) {
	cl := load(t)
	labels := cl.sts.Spec.Template.Labels
	headless := cl.set.Service(cl.sts.Spec.ServiceName)
	if headless == nil {
		t.Fatalf("serviceName %q: no such Service", cl.sts.Spec.ServiceName)
	}
	if headless.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("Service %s (the StatefulSet's serviceName) must be headless (clusterIP: None)", headless.Name)
	}
	if !headless.Spec.PublishNotReadyAddresses {
		t.Errorf("Service %s: publishNotReadyAddresses must be true (a node becomes ready only after it reached its peers by these names)", headless.Name)
	}
	ports := map[string]bool{}
	for _, p := range cl.c.Ports {
		ports[p.Name] = true
	}
	clients := 0
	for _, svc := range cl.set.Services {
		if !Selects(svc.Spec.Selector, labels) {
			t.Errorf("Service %s selects %v, not the ticksync pods %v", svc.Name, svc.Spec.Selector, labels)
		}
		for _, p := range svc.Spec.Ports {
			if tp := p.TargetPort.String(); !ports[tp] && p.TargetPort.IntValue() == 0 {
				t.Errorf("Service %s port %s: targetPort %q is not a container port", svc.Name, p.Name, tp)
			}
		}
		if svc.Spec.ClusterIP != corev1.ClusterIPNone {
			clients++
		}
	}
	if clients == 0 {
		t.Errorf("no client Service (players and ticksyncctl start at any ready node)")
	}
}

func TestPodDisruptionBudget(t *testing.T) {
	cl := load(t)
	if len(cl.set.PDBs) != 1 {
		t.Fatalf("%d PodDisruptionBudgets, want 1", len(cl.set.PDBs))
	}
	pdb := cl.set.PDBs[0]
	if pdb.Spec.Selector == nil || !Selects(pdb.Spec.Selector.MatchLabels, cl.sts.Spec.Template.Labels) {
		t.Errorf("PodDisruptionBudget %s does not select the ticksync pods", pdb.Name)
	}
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.String() != "1" || pdb.Spec.MinAvailable != nil {
		t.Errorf("PodDisruptionBudget %s: want maxUnavailable 1 and no minAvailable", pdb.Name)
	}
}

func TestEnvironment(t *testing.T) {
	cl := load(t)
	defined, err := NodeFlags(repoRoot, filepath.Join(repoRoot, "cmd", "ticksync"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(defined, "node-id") || !slices.Contains(defined, "join") {
		t.Fatalf("found flags %v in the node's sources: the flag pattern no longer matches them", defined)
	}
	known := map[string]string{} // env name → "defined" or "ticksyncctl"
	for _, f := range defined {
		known[EnvName(f)] = "defined"
	}
	for _, e := range cliEnv {
		if known[e] == "" {
			known[e] = "ticksyncctl"
		}
	}
	for _, e := range cl.c.Env {
		if strings.HasPrefix(e.Name, "TICKSYNC_") && known[e.Name] == "" {
			t.Errorf("env %s names no node flag (flags: %v)", e.Name, defined)
		}
	}

	const ns = "games"
	svc := cl.sts.Spec.ServiceName
	for ordinal := range int(*cl.sts.Spec.Replicas) {
		vars, secrets := cl.env(t, ordinal, ns)
		pod := fmt.Sprintf("%s-%d", cl.sts.Name, ordinal)
		if vars["TICKSYNC_NODE_ID"] != pod {
			t.Errorf("pod %s: node id %q, want the pod name", pod, vars["TICKSYNC_NODE_ID"])
		}
		host := pod + "." + svc + "." + ns + ".svc"
		if got := vars["TICKSYNC_RAFT_ADVERTISE"]; got != host+":7351" {
			t.Errorf("pod %s: raft advertise %q, want %s:7351 (the pod's name in the headless Service)", pod, got, host)
		}
		api := vars["TICKSYNC_API_ADVERTISE"]
		if u, err := url.Parse(api); err != nil || u.Host != host+":7350" {
			t.Errorf("pod %s: api advertise %q, want http://%s:7350", pod, api, host)
		}
		if u, err := url.Parse(vars["TICKSYNC_ADVERTISE"]); err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Path != "/ws" {
			t.Errorf("pod %s: advertise %q, want a ws:// or wss:// URL ending in /ws", pod, vars["TICKSYNC_ADVERTISE"])
		}
		// Every pod joins pod-0; on pod-0 the join URL is its own API URL,
		// which makes it the seed (it bootstraps an empty data dir).
		join := vars["TICKSYNC_JOIN"]
		seed := cl.sts.Name + "-0." + svc + "." + ns + ".svc:7350"
		if u, err := url.Parse(join); err != nil || u.Host != seed {
			t.Errorf("pod %s: join %q, want pod-0's API URL http://%s", pod, join, seed)
		}
		if (join == api) != (ordinal == 0) {
			t.Errorf("pod %s: join %q vs api advertise %q: they must be equal on pod-0 only", pod, join, api)
		}
		if vars["TICKSYNC_BOOTSTRAP"] != "" {
			t.Errorf("TICKSYNC_BOOTSTRAP is set for every pod: each would form its own cluster")
		}
		// Files the node reads from the cluster certificate Secret.
		for _, name := range []string{"TICKSYNC_CLUSTER_CA", "TICKSYNC_CLUSTER_CERT", "TICKSYNC_CLUSTER_KEY"} {
			cl.checkSecretFile(t, pod, name, vars[name])
		}
		for name, ref := range secrets {
			sec := cl.sec.Secret(ref.Name)
			if sec == nil {
				t.Errorf("env %s reads Secret %s, which %s does not describe", name, ref.Name, secretTemplate)
				continue
			}
			if !SecretKeys(sec)[ref.Key] {
				t.Errorf("env %s reads key %s of Secret %s, which %s does not have", name, ref.Key, ref.Name, secretTemplate)
			}
		}
		if _, ok := secrets["TICKSYNC_ADMIN_TOKEN"]; !ok {
			t.Errorf("TICKSYNC_ADMIN_TOKEN must come from a Secret")
		}
		if vars["TICKSYNC_ADDR"] == "" {
			t.Errorf("TICKSYNC_ADDR is not set: the preStop ticksyncctl would not know the local node")
		}
	}
}

// checkSecretFile checks that path (from env name) is a key of a Secret
// volume mounted in the container, and that the template has that key.
func (cl *cluster) checkSecretFile(t *testing.T, pod, name, path string) {
	t.Helper()
	if path == "" {
		return // plain-text cluster (-insecure-cluster)
	}
	for _, m := range cl.c.VolumeMounts {
		dir := strings.TrimSuffix(m.MountPath, "/") + "/"
		if !strings.HasPrefix(path, dir) {
			continue
		}
		for _, v := range cl.sts.Spec.Template.Spec.Volumes {
			if v.Name != m.Name || v.Secret == nil {
				continue
			}
			sec := cl.sec.Secret(v.Secret.SecretName)
			if sec == nil {
				t.Errorf("volume %s mounts Secret %s, which %s does not describe", v.Name, v.Secret.SecretName, secretTemplate)
				return
			}
			if key := strings.TrimPrefix(path, dir); !SecretKeys(sec)[key] {
				t.Errorf("pod %s: %s=%s, but Secret %s in %s has no key %q", pod, name, path, sec.Name, secretTemplate, key)
			}
			return
		}
	}
	t.Errorf("pod %s: %s=%s is on no Secret volume", pod, name, path)
}
