// kstatus reads a Kubernetes List as JSON on stdin (what `kubectl get -o json` prints) and prints,
// for each object, the verdict of sigs.k8s.io/cli-utils' status.Compute — the status reader of
// kpt, Flux and `kubectl wait`-style tools — as one JSON line: kind, namespace, name, status, message.
// Grove's tests run it over a converged and a stalled cluster to check that every kind's conditions
// say what kstatus expects.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

var version = "dev"

type verdict struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	Message   string `json:"message"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Println(version)
		return
	}
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	var list unstructured.UnstructuredList
	if err := list.UnmarshalJSON(input); err != nil {
		fail(fmt.Errorf("stdin is not a Kubernetes List: %w", err))
	}
	out := json.NewEncoder(os.Stdout)
	for i := range list.Items {
		obj := &list.Items[i]
		result, err := status.Compute(obj)
		if err != nil {
			fail(fmt.Errorf("%s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err))
		}
		if err := out.Encode(verdict{Kind: obj.GetKind(), Namespace: obj.GetNamespace(), Name: obj.GetName(), Status: result.Status.String(), Message: result.Message}); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "kstatus:", err)
	os.Exit(1)
}
