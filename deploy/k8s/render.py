#!/usr/bin/env python3
"""Render a kustomization folder with the subset of kustomize that deploy/k8s uses.

  render.py FOLDER            print the rendered manifests (YAML stream), in kustomize's order

Implemented: `resources` (files and folders holding a kustomization.yaml), `namespace`, `images`
(newName / newTag / digest) and `patches` given by `path` that are strategic-merge patches
(targeting the resource of the same kind and name; maps merge, `null` deletes a key, lists of
containers / env / ports / volumes / volumeMounts merge by their key, other lists are replaced).
Anything else in a kustomization.yaml is an error: keep the overlays within this subset, or
extend this file. validate.sh renders with `kubectl kustomize` too, when it is installed, and fails
if the two renderings differ, so this stays a faithful stand-in where kubectl is missing.
"""

import copy
import os
import sys

import yaml

SUPPORTED_KEYS = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                  "PersistentVolume", "StorageClass", "PriorityClass", "IngressClass",
                  "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}
# kustomize's "legacy" output order (api/resid/gvk.go): these kinds first, in this order ...
ORDER_FIRST = ["Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition",
               "ServiceAccount", "PodSecurityPolicy", "Role", "ClusterRole", "RoleBinding",
               "ClusterRoleBinding", "ConfigMap", "Secret", "Endpoints", "Service", "LimitRange",
               "PriorityClass", "PersistentVolume", "PersistentVolumeClaim", "Deployment",
               "StatefulSet", "CronJob", "PodDisruptionBudget"]
# ... these last, everything else in between.
ORDER_LAST = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]
# Strategic-merge keys of the lists the overlays may patch (from the Kubernetes API's
# x-kubernetes-patch-merge-key); any other list is replaced whole.
MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name",
              "volumes": "name", "volumeMounts": "mountPath", "ports": "containerPort",
              "imagePullSecrets": "name", "tolerations": None}


class RenderError(Exception):
    pass


def load_documents(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def ident(resource):
    return (resource.get("kind"), resource.get("metadata", {}).get("name"))


def merge(base, patch, field=None):
    """Strategic merge of patch into base (both already deep-copied where needed)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        if "$patch" in patch or any(k.startswith("$") for k in patch):
            raise RenderError(f"strategic-merge directives ({sorted(patch)}) are not supported")
        out = dict(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = merge(out[key], value, key)
            else:
                out[key] = copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(patch, list):
        key = MERGE_KEYS.get(field)
        if key is None or not all(isinstance(i, dict) and key in i for i in base + patch):
            return copy.deepcopy(patch)
        # The order apimachinery's strategic merge gives (mergeSortedSlice): the patch's items in
        # the patch's order, merged with the base's item of the same key, interleaved with the
        # base-only items by their place in the base; an item new to the base goes before the
        # base-only items it meets.
        server = [i[key] for i in base]
        left = []
        for item in patch:
            existing = [i for i in base if i[key] == item[key]]
            left.append(merge(existing[0], item, None) if existing else copy.deepcopy(item))
        patched = {i[key] for i in patch}
        right = [copy.deepcopy(i) for i in base if i[key] not in patched]
        out = []
        while left or right:
            if not right:
                out.append(left.pop(0))
            elif not left:
                out.append(right.pop(0))
            elif left[0][key] in server and server.index(left[0][key]) > server.index(right[0][key]):
                out.append(right.pop(0))
            else:
                out.append(left.pop(0))
        return out
    return copy.deepcopy(patch)


def set_images(resource, images):
    def visit(node):
        if isinstance(node, dict):
            for field in ("containers", "initContainers"):
                for container in node.get(field, []) or []:
                    if isinstance(container, dict) and "image" in container:
                        container["image"] = new_image(container["image"], images)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)
    visit(resource)


def new_image(image, images):
    name, tag, digest = image, None, None
    if "@" in name:
        name, digest = name.split("@", 1)
    if ":" in name.rsplit("/", 1)[-1]:
        name, tag = name.rsplit(":", 1)
    for rule in images:
        if rule.get("name") != name:
            continue
        unknown = set(rule) - {"name", "newName", "newTag", "digest"}
        if unknown:
            raise RenderError(f"images: {sorted(unknown)} not supported")
        name = rule.get("newName", name)
        if "digest" in rule:
            return f"{name}@{rule['digest']}"
        if "newTag" in rule:
            tag = str(rule["newTag"])
        return name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    return image


def render(folder):
    folder = os.path.abspath(folder)
    path = os.path.join(folder, "kustomization.yaml")
    if not os.path.isfile(path):
        raise RenderError(f"{folder}: no kustomization.yaml")
    with open(path, encoding="utf-8") as f:
        k = yaml.safe_load(f) or {}
    unknown = set(k) - SUPPORTED_KEYS
    if unknown:
        raise RenderError(f"{path}: {sorted(unknown)} outside the subset render.py implements")
    resources = []
    for entry in k.get("resources", []):
        target = os.path.join(folder, entry)
        if os.path.isdir(target):
            resources += render(target)
        else:
            resources += load_documents(target)
    seen = set()
    for r in resources:
        if ident(r) in seen:
            raise RenderError(f"{path}: {ident(r)} appears twice")
        seen.add(ident(r))
    for entry in k.get("patches", []):
        if set(entry) != {"path"}:
            raise RenderError(f"{path}: only `patches: - path: FILE` (strategic merge) is supported")
        for patch in load_documents(os.path.join(folder, entry["path"])):
            matches = [n for n, r in enumerate(resources) if ident(r) == ident(patch)]
            if len(matches) != 1:
                raise RenderError(f"{path}: patch {entry['path']} matches no resource {ident(patch)}")
            body = {key: value for key, value in patch.items() if key not in ("apiVersion", "kind")}
            body["metadata"] = {key: value for key, value in body.get("metadata", {}).items()
                                if key not in ("name", "namespace")}
            if not body["metadata"]:
                del body["metadata"]
            resources[matches[0]] = merge(resources[matches[0]], body)
    if "namespace" in k:
        for r in resources:
            if r.get("kind") not in CLUSTER_SCOPED:
                r.setdefault("metadata", {})["namespace"] = k["namespace"]
    if "images" in k:
        for r in resources:
            set_images(r, k["images"])
    return resources


def order(resources):
    def key(r):
        kind = r.get("kind", "")
        if kind in ORDER_FIRST:
            rank = ORDER_FIRST.index(kind)
        elif kind in ORDER_LAST:
            rank = len(ORDER_FIRST) + 1 + ORDER_LAST.index(kind)
        else:
            rank = len(ORDER_FIRST)
        return (rank, r.get("apiVersion", ""), kind, r.get("metadata", {}).get("namespace", ""),
                r.get("metadata", {}).get("name", ""))
    return sorted(resources, key=key)


def main(argv):
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        resources = order(render(argv[0]))
    except (RenderError, OSError, yaml.YAMLError) as e:
        print(f"render.py: {e}", file=sys.stderr)
        return 1
    sys.stdout.write(yaml.safe_dump_all(resources, sort_keys=True, default_flow_style=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
