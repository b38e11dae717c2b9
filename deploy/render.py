"""Lints and renders the chart under deploy/ with PyPI's helm-python-sdk
(Helm 4's chart engine, no helm binary), for crates/cli's chart tests.

usage: render.py CHART_DIR OUT.json

Writes {"lint": <lint report, strict>, "renders": {NAME: {template: text}}}
for the default values and for each set of values in VALUES below.
"""

import json
import os
import sys

import helm_python as helm

# The CRD of testdata/schema/cel/rules.yaml (its first document), shipped
# in the ConfigMap for the schema stage at admission.
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
with open(os.path.join(ROOT, "testdata/schema/cel/rules.yaml")) as f:
    CRD = f.read().split("\n---\n")[0]

VALUES = {
    "default": {},
    "own-certificate": {
        "replicas": 3,
        "tls": {"certManager": False, "secretName": "webhook-tls", "caBundle": "Q0EK"},
        "webhook": {"mutating": False, "failurePolicy": "Ignore", "timeoutSeconds": 5},
        "audit": {"enabled": True},
    },
    "generated-certificate": {
        "tls": {"certManager": False, "generate": True},
    },
    "sync": {
        "sync": {"enabled": True, "interval": "2m"},
    },
    "crds": {
        "config": "apiVersion: wasm-validate.dev/v1\nkind: Configuration\n"
        "profiles: [baseline]\nschema: {crdPaths: [crds.yaml]}\n",
        "files": {"crds.yaml": CRD},
    },
}

chart_dir, out = sys.argv[1], sys.argv[2]
chart = helm.Chart.load(chart_dir)
report = {
    "lint": helm.lint(chart_dir, strict=True),
    "renders": {
        name: chart.render(values, name="wv", namespace="wasm-validate", is_install=True)
        for name, values in VALUES.items()
    },
}
with open(out, "w") as f:
    json.dump(report, f)
