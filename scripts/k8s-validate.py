"""Validates rendered Kubernetes manifests against the API schemas, offline.

Usage: k8s-validate.py --kubernetes-version 1.30.0 [...] FILE.yaml...
(scripts/k8s-check.sh renders the overlays and runs it in its virtualenv).

Every object is validated strictly (an unknown field is an error) with
kubernetes-validate against each version given. The Prometheus Operator's
kinds are custom resources the Kubernetes schemas do not hold: they are
skipped by name, and said to be; any other kind without a schema is an error.
A Secret is an error too: the Secret is created by hand, never built.
Exit 1 on any problem, after printing every one.
"""

import argparse
import os
import sys

import kubernetes_validate
import yaml

# Custom resources (monitoring.coreos.com/v1): no schema in kubernetes-validate.
SKIPPED_KINDS = {"PodMonitor", "PrometheusRule"}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubernetes-version", action="append", required=True)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    problems = 0
    for path in args.files:
        name = os.path.splitext(os.path.basename(path))[0]
        with open(path) as f:
            objects = [o for o in yaml.safe_load_all(f) if o is not None]
        checked, skipped, before = [], [], problems
        for obj in objects:
            ref = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
            if obj.get("kind") == "Secret":
                print(f"{name}: {ref}: a Secret is never built; create it by hand", file=sys.stderr)
                problems += 1
                continue
            if obj.get("kind") in SKIPPED_KINDS:
                skipped.append(ref)
                continue
            for version in args.kubernetes_version:
                try:
                    kubernetes_validate.validate(obj, version, strict=True)
                except kubernetes_validate.ValidationError as e:
                    where = ".".join(str(p) for p in e.path) or "(top)"
                    print(f"{name}: {ref} (Kubernetes {version}): {where}: {e.message}", file=sys.stderr)
                    problems += 1
                except kubernetes_validate.SchemaNotFoundError as e:
                    print(f"{name}: {ref}: {e.message}", file=sys.stderr)
                    problems += 1
            checked.append(ref)
        if not objects:
            print(f"{name}: rendered nothing", file=sys.stderr)
            problems += 1
        verdict = "valid" if problems == before else f"{problems - before} problem(s)"
        print(
            f"{name}: {len(checked)} objects against Kubernetes "
            f"{', '.join(args.kubernetes_version)} (strict): {verdict}"
            + (f"; skipped (custom resources, no schema): {', '.join(skipped)}" if skipped else "")
        )
    if problems:
        print(f"k8s-validate: {problems} problem(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
