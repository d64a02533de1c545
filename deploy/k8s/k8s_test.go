package k8s_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
	"sigs.k8s.io/kustomize/kyaml/openapi"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/testenv"
)

// object is one manifest document, as decoded.
type object struct {
	file string
	m    map[string]any
}

func (o object) kind() string { s, _ := o.m["kind"].(string); return s }
func (o object) name() string { s, _ := dig(o.m, "metadata", "name").(string); return s }
func (o object) String() string {
	return fmt.Sprintf("%s %s/%s", o.file, o.kind(), o.name())
}

// dig walks maps by keys.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func list(v any) []any { l, _ := v.([]any); return l }

func loadObjects(t *testing.T) []object {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	var out []object
	for _, f := range files {
		dec := yaml.NewDecoder(bytes.NewReader(must(os.ReadFile(f))))
		for {
			var m map[string]any
			err := dec.Decode(&m)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if m != nil {
				out = append(out, object{file: f, m: m})
			}
		}
	}
	return out
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// strict closes every object schema that lists its properties, as
// kubeconform's -strict does (a misspelt field is an error, not ignored),
// and gives IntOrString and Quantity the JSON types they accept.
func strict(v any) {
	switch s := v.(type) {
	case map[string]any:
		if _, ok := s["properties"]; ok {
			if _, ok := s["additionalProperties"]; !ok {
				s["additionalProperties"] = false
			}
		}
		for _, c := range s {
			strict(c)
		}
	case []any:
		for _, c := range s {
			strict(c)
		}
	}
}

// schemas compiles the Kubernetes definitions and indexes them by
// "apiVersion kind".
func schemas(t *testing.T) (map[string]*jsonschema.Schema, string) {
	t.Helper()
	defs := map[string]any{}
	if err := json.Unmarshal(must(json.Marshal(openapi.Schema().Definitions)), &defs); err != nil {
		t.Fatal(err)
	}
	strict(defs)
	defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = map[string]any{"type": []any{"string", "integer"}}
	defs["io.k8s.apimachinery.pkg.api.resource.Quantity"] = map[string]any{"type": []any{"string", "number"}}
	doc := must(jsonschema.UnmarshalJSON(bytes.NewReader(must(json.Marshal(map[string]any{"definitions": defs})))))
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	if err := c.AddResource("k8s.json", doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]*jsonschema.Schema{}
	for name, d := range defs {
		for _, gvk := range list(dig(d, "x-kubernetes-group-version-kind")) {
			g, _ := dig(gvk, "group").(string)
			v, _ := dig(gvk, "version").(string)
			k, _ := dig(gvk, "kind").(string)
			if g != "" {
				v = g + "/" + v
			}
			switch k {
			case "Deployment", "StatefulSet", "Service", "ConfigMap", "Secret", "PodDisruptionBudget", "Ingress":
				out[v+" "+k] = c.MustCompile("k8s.json#/definitions/" + name)
			}
		}
	}
	return out, openapi.GetSchemaVersion()
}

// TestManifestsMatchKubernetesSchemas: every object is a kind Kubernetes
// knows at its apiVersion and matches that kind's schema, strictly; and
// the validator does catch a misspelt field, a wrong type and a missing
// required field.
func TestManifestsMatchKubernetesSchemas(t *testing.T) {
	byKind, version := schemas(t)
	objs := loadObjects(t)
	kinds := map[string]int{}
	validate := func(o object) error {
		key := fmt.Sprintf("%v %v", o.m["apiVersion"], o.kind())
		s := byKind[key]
		if s == nil {
			return fmt.Errorf("%s: unknown apiVersion and kind %q in Kubernetes %s", o, key, version)
		}
		v := must(jsonschema.UnmarshalJSON(bytes.NewReader(must(json.Marshal(o.m)))))
		return s.Validate(v)
	}
	for _, o := range objs {
		kinds[o.kind()]++
		if err := validate(o); err != nil {
			t.Errorf("%s does not match Kubernetes %s's schema: %v", o, version, err)
		}
	}
	for _, k := range []string{"Deployment", "StatefulSet", "Service", "ConfigMap", "Secret"} {
		if kinds[k] == 0 {
			t.Errorf("no %s among the manifests", k)
		}
	}

	// The validator is not a yes-man.
	dep := func() object {
		for _, o := range loadObjects(t) {
			if o.kind() == "Deployment" && o.name() == "cachegate" {
				return o
			}
		}
		t.Fatal("no Deployment cachegate")
		return object{}
	}
	for name, spoil := range map[string]func(m map[string]any){
		"misspelt field": func(m map[string]any) { dig(m, "spec").(map[string]any)["replica"] = 3 },
		"wrong type":     func(m map[string]any) { dig(m, "spec").(map[string]any)["replicas"] = "three" },
		"missing field":  func(m map[string]any) { delete(dig(m, "spec").(map[string]any), "selector") },
		"unknown kind":   func(m map[string]any) { m["kind"] = "Deploymnet" },
		"container field": func(m map[string]any) {
			list(dig(m, "spec", "template", "spec", "containers"))[0].(map[string]any)["imag"] = "x"
		},
	} {
		o := dep()
		spoil(o.m)
		if err := validate(o); err == nil {
			t.Errorf("a Deployment with a %s passes", name)
		}
	}
}

// workloads are the Deployments and StatefulSets.
func workloads(objs []object) []object {
	var out []object
	for _, o := range objs {
		if o.kind() == "Deployment" || o.kind() == "StatefulSet" {
			out = append(out, o)
		}
	}
	return out
}

func labelsMatch(selector, labels any) bool {
	sel, _ := selector.(map[string]any)
	lab, _ := labels.(map[string]any)
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if lab[k] != v {
			return false
		}
	}
	return true
}

func containers(w object) []map[string]any {
	var out []map[string]any
	for _, c := range list(dig(w.m, "spec", "template", "spec", "containers")) {
		out = append(out, c.(map[string]any))
	}
	return out
}

// TestManifestsReferToEachOther: workloads select their own pods; every
// Service selects a workload and targets a port it names; every Secret
// and ConfigMap a workload reads exists with the key it reads.
func TestManifestsReferToEachOther(t *testing.T) {
	objs := loadObjects(t)
	data := map[string]map[string]any{} // "Secret/name" -> keys
	for _, o := range objs {
		switch o.kind() {
		case "Secret":
			keys, _ := o.m["stringData"].(map[string]any)
			data["Secret/"+o.name()] = keys
		case "ConfigMap":
			keys, _ := o.m["data"].(map[string]any)
			data["ConfigMap/"+o.name()] = keys
		}
	}
	for _, w := range workloads(objs) {
		if !labelsMatch(dig(w.m, "spec", "selector", "matchLabels"), dig(w.m, "spec", "template", "metadata", "labels")) {
			t.Errorf("%s: its selector does not select its own pods", w)
		}
		for _, c := range containers(w) {
			for _, e := range list(c["env"]) {
				if ref := dig(e, "valueFrom", "secretKeyRef"); ref != nil {
					name, key := dig(ref, "name").(string), dig(ref, "key").(string)
					if _, ok := data["Secret/"+name][key]; !ok {
						t.Errorf("%s: reads key %q of Secret %q, which no manifest has", w, key, name)
					}
				}
			}
		}
		for _, v := range list(dig(w.m, "spec", "template", "spec", "volumes")) {
			if name, ok := dig(v, "configMap", "name").(string); ok && data["ConfigMap/"+name] == nil {
				t.Errorf("%s: mounts ConfigMap %q, which no manifest has", w, name)
			}
		}
	}
	for _, s := range objs {
		if s.kind() != "Service" {
			continue
		}
		var target *object
		for _, w := range workloads(objs) {
			if labelsMatch(dig(s.m, "spec", "selector"), dig(w.m, "spec", "template", "metadata", "labels")) {
				target = &w
			}
		}
		if target == nil {
			t.Errorf("%s selects no workload", s)
			continue
		}
		named := map[any]bool{}
		for _, c := range containers(*target) {
			for _, p := range list(c["ports"]) {
				named[dig(p, "name")], named[dig(p, "containerPort")] = true, true
			}
		}
		for _, p := range list(dig(s.m, "spec", "ports")) {
			if tp := dig(p, "targetPort"); !named[tp] {
				t.Errorf("%s: targetPort %v is no port of %s", s, tp, target)
			}
		}
	}
}

func find(t *testing.T, objs []object, kind, name string) object {
	t.Helper()
	for _, o := range objs {
		if o.kind() == kind && o.name() == name {
			return o
		}
	}
	t.Fatalf("no %s %s", kind, name)
	return object{}
}

// TestGatewayDeployment: several instances of the image, as its
// non-root user with a read-only root filesystem, the data dir and /tmp
// on volumes, probes on the admin listener, every CACHEGATE_ variable one
// the binary reads, NATS and Redis at their Services, and a config that
// passes check-config's checks with the Deployment's environment.
func TestGatewayDeployment(t *testing.T) {
	objs := loadObjects(t)
	d := find(t, objs, "Deployment", "cachegate")
	if r, _ := dig(d.m, "spec", "replicas").(int); r < 2 {
		t.Errorf("replicas %d: the manifests are for several instances", r)
	}
	pod := dig(d.m, "spec", "template", "spec")
	uid := dockerfileUID(t)
	if dig(pod, "securityContext", "runAsNonRoot") != true || fmt.Sprint(dig(pod, "securityContext", "runAsUser")) != uid {
		t.Errorf("pod securityContext %v: want runAsNonRoot and the image's user %s", dig(pod, "securityContext"), uid)
	}
	cs := containers(d)
	if len(cs) != 1 {
		t.Fatalf("%d containers", len(cs))
	}
	c := cs[0]
	if dig(c, "securityContext", "readOnlyRootFilesystem") != true || dig(c, "securityContext", "allowPrivilegeEscalation") != false {
		t.Errorf("container securityContext %v: want a read-only root filesystem and no privilege escalation", c["securityContext"])
	}
	if img, _ := c["image"].(string); !strings.HasPrefix(img, "cachegate:") {
		t.Errorf("image %q", img)
	}
	env := map[string]string{}
	for _, e := range list(c["env"]) {
		name, _ := dig(e, "name").(string)
		val, _ := dig(e, "value").(string)
		if ref := dig(e, "valueFrom", "secretKeyRef"); ref != nil {
			val = "secret-value-for-the-test-0123456789"
		}
		env[name] = val
	}
	src := testenv.GoSource(t, filepath.Join("..", "..", "cmd", "cachegate"))
	for name := range env {
		if !strings.Contains(src, `"`+name+`"`) {
			t.Errorf("env %s: the binary reads no such variable", name)
		}
	}
	mounts := map[string]bool{}
	for _, m := range list(c["volumeMounts"]) {
		mounts[dig(m, "mountPath").(string)] = true
	}
	for _, dir := range []string{env["CACHEGATE_DATA_DIR"], "/tmp"} {
		if dir == "" || !mounts[dir] {
			t.Errorf("nothing mounted at %q: a read-only container cannot write there", dir)
		}
	}
	ports := map[string]string{}
	for _, p := range list(c["ports"]) {
		ports[dig(p, "name").(string)] = fmt.Sprint(dig(p, "containerPort"))
	}
	for v, port := range map[string]string{"CACHEGATE_LISTEN": "http", "CACHEGATE_ADMIN_LISTEN": "admin", "CACHEGATE_METRICS_LISTEN": "metrics"} {
		if !strings.HasSuffix(env[v], ":"+ports[port]) || ports[port] == "" {
			t.Errorf("%s=%q, but port %s is %q", v, env[v], port, ports[port])
		}
	}
	for probe, path := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz"} {
		if dig(c, probe, "httpGet", "path") != path || dig(c, probe, "httpGet", "port") != "admin" {
			t.Errorf("%s %v: want %s on the admin port", probe, c[probe], path)
		}
	}
	for v, svc := range map[string]string{"CACHEGATE_NATS_URL": "nats", "CACHEGATE_REDIS_URL": "redis"} {
		s := find(t, objs, "Service", svc)
		port := fmt.Sprint(dig(list(dig(s.m, "spec", "ports"))[0], "port"))
		if !strings.Contains(env[v], "://"+svc+":"+port) {
			t.Errorf("%s=%q, want the %s Service's port %s", v, env[v], svc, port)
		}
	}

	// The config the pods read, checked as check-config and serve do.
	args := list(c["args"])
	if len(args) < 3 || args[0] != "serve" || args[1] != "--config" {
		t.Fatalf("args %v: want serve --config FILE", args)
	}
	path := args[2].(string)
	var file string
	for _, v := range list(dig(pod, "volumes")) {
		name, _ := dig(v, "configMap", "name").(string)
		for _, m := range list(c["volumeMounts"]) {
			if dig(m, "name") == dig(v, "name") && name != "" && strings.HasPrefix(path, dig(m, "mountPath").(string)+"/") {
				cm := find(t, objs, "ConfigMap", name)
				file, _ = dig(cm.m, "data", strings.TrimPrefix(path, dig(m, "mountPath").(string)+"/")).(string)
			}
		}
	}
	if file == "" {
		t.Fatalf("%s is not a key of a mounted ConfigMap", path)
	}
	f, err := config.Parse(path, []byte(file), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("the ConfigMap's config: %v", err)
	}
	if err := f.Validate(); err != nil {
		t.Errorf("the ConfigMap's config: %v", err)
	}
}

// TestNATSStatefulSet: JetStream on, its store on a persistent volume.
func TestNATSStatefulSet(t *testing.T) {
	objs := loadObjects(t)
	s := find(t, objs, "StatefulSet", "nats")
	c := containers(s)[0]
	args := fmt.Sprint(c["args"])
	m := regexp.MustCompile(`-sd (\S+)`).FindStringSubmatch(args)
	if !strings.Contains(args, "-js") || m == nil {
		t.Fatalf("nats args %s: want -js and -sd DIR", args)
	}
	claims := map[any]bool{}
	for _, v := range list(dig(s.m, "spec", "volumeClaimTemplates")) {
		claims[dig(v, "metadata", "name")] = true
	}
	ok := false
	for _, vm := range list(c["volumeMounts"]) {
		ok = ok || dig(vm, "mountPath") == m[1] && claims[dig(vm, "name")]
	}
	if !ok {
		t.Errorf("the JetStream store %s is not on a volume claim", m[1])
	}
}

// dockerfileUID is the uid of the image's USER.
func dockerfileUID(t *testing.T) string {
	t.Helper()
	df := string(must(os.ReadFile(filepath.Join("..", "..", "Dockerfile"))))
	m := regexp.MustCompile(`(?m)^USER\s+(\d+)`).FindAllStringSubmatch(df, -1)
	if len(m) == 0 {
		t.Fatal("the Dockerfile has no numeric USER")
	}
	return m[len(m)-1][1]
}
