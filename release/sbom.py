#!/usr/bin/env python3
"""A CycloneDX 1.5 SBOM of one release binary, from the lockfile, for one target.

    python3 release/sbom.py --target aarch64-unknown-linux-musl > iter8-gitops-arm64.cdx.json

Lists every crate the binary is built from (`cargo metadata --locked --filter-platform`): the
ones linked into it with scope "required", build-time-only ones (build scripts, proc macros)
with scope "excluded". That is the same set of crates that `cargo auditable` embeds in the
binary itself (tests/it/platforms.rs holds the two equal; the two draw the line between linked
and build-time crates a little differently for proc macros' own dependencies), with each
crate's license, package URL and the SHA-256 crates.io published (Cargo.lock's checksum).
"""

import argparse
import json
import subprocess
import uuid


def metadata(target):
    out = subprocess.run(
        ["cargo", "metadata", "--locked", "--format-version", "1", "--filter-platform", target],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def checksums():
    """Cargo.lock's `checksum` per (name, version): the .crate file's SHA-256."""
    sums, name, version = {}, None, None
    for line in open("Cargo.lock"):
        key, _, value = line.partition(" = ")
        value = value.strip().strip('"')
        if key == "name":
            name = value
        elif key == "version":
            version = value
        elif key == "checksum":
            sums[(name, version)] = value
    return sums


def reachable(nodes, packages, root):
    """Package id → "runtime" (linked in) or "build" (only at build time), as cargo auditable
    tells them apart: a crate is runtime when a chain of normal dependencies reaches it that
    passes through no proc macro (a proc macro runs in the compiler, not in the binary)."""
    kinds = {root: "runtime"}
    todo = [root]
    while todo:
        here = todo.pop()
        for dep in nodes[here]["deps"]:
            dep_kinds = {k["kind"] for k in dep["dep_kinds"]}
            if dep_kinds == {"dev"}:
                continue
            normal = None in dep_kinds
            runs_in_compiler = any("proc-macro" in t["kind"] for t in packages[dep["pkg"]]["targets"])
            linked = kinds[here] == "runtime" and normal and not runs_in_compiler
            kind = "runtime" if linked else "build"
            if kinds.get(dep["pkg"]) == "runtime" or kinds.get(dep["pkg"]) == kind:
                continue
            kinds[dep["pkg"]] = kind
            todo.append(dep["pkg"])
    return kinds


def purl(p):
    return f"pkg:cargo/{p['name']}@{p['version']}"


def component(p, kind, sums):
    c = {
        "type": "application" if p["name"] == "iter8-gitops" else "library",
        "bom-ref": purl(p),
        "name": p["name"],
        "version": p["version"],
        "purl": purl(p),
        "scope": "required" if kind == "runtime" else "excluded",
    }
    if p.get("license"):
        c["licenses"] = [{"expression": p["license"]}]
    if (p["name"], p["version"]) in sums:
        c["hashes"] = [{"alg": "SHA-256", "content": sums[(p["name"], p["version"])]}]
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", required=True)
    ap.add_argument("--revision", default="", help="commit the binary is built from")
    a = ap.parse_args()

    meta = metadata(a.target)
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    root = next(i for i, p in packages.items() if p["name"] == "iter8-gitops")
    kinds = reachable(nodes, packages, root)
    sums = checksums()
    ids = sorted((i for i in kinds if i != root), key=lambda i: purl(packages[i]))
    app = component(packages[root], "runtime", sums)
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL,
                                                       f"{purl(packages[root])}/{a.target}/{a.revision}")),
        "version": 1,
        "metadata": {
            "component": app,
            "properties": [{"name": "cdx:rust:target", "value": a.target}],
        },
        "components": [component(packages[i], kinds[i], sums) for i in ids],
        "dependencies": [
            {"ref": purl(packages[i]),
             "dependsOn": sorted(purl(packages[d["pkg"]]) for d in nodes[i]["deps"] if d["pkg"] in kinds
                                 and {k["kind"] for k in d["dep_kinds"]} != {"dev"})}
            for i in [root] + ids
        ],
    }
    print(json.dumps(bom, indent=1))


if __name__ == "__main__":
    main()
