#!/usr/bin/env python3
"""The multi-arch image: both static binaries in one OCI image index, as an OCI archive.

The image is one file in an empty filesystem, so each platform's image is written directly:
one layer (the binary at /iter8-gitops), a config carrying the Dockerfile's runtime settings
(user, entrypoint, labels, read from the `prebuilt` stage's image so there is one source for
them), and a manifest; an image index names both platforms and carries the OCI annotations.
Byte-for-byte reproducible for the same binaries and SOURCE_DATE_EPOCH.

    python3 release/image-index.py --out iter8-gitops.oci.tar --version 0.1.0 \
        --revision "$(git rev-parse HEAD)" \
        --image-config <(docker image inspect -f '{{json .Config}}' iter8-gitops:prebuilt) \
        --binary linux/amd64=target/x86_64-unknown-linux-musl/release/iter8-gitops \
        --binary linux/arm64=target/aarch64-unknown-linux-musl/release/iter8-gitops

Push it with `skopeo copy --all oci-archive:iter8-gitops.oci.tar:0.1.0 docker://REGISTRY/…`.
The archive also holds a `manifest.json` for the first platform, so `docker load -i` works on
engines that read only Docker's archive format (before Docker 25).
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import tarfile
import time

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


class Layout:
    """Content-addressed blobs, kept in memory (two binaries of a few MB)."""

    def __init__(self):
        self.blobs = {}

    def add(self, data, media_type):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.blobs[digest] = data
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def add_json(self, value, media_type):
        return self.add(canonical(value), media_type)


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def tar_entry(name, data, mode, mtime):
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def layer(binary, mtime):
    """(the gzipped layer, the digest of its uncompressed tar: the config's diff_id)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        data = open(binary, "rb").read()
        tar.addfile(tar_entry("iter8-gitops", data, 0o755, mtime), io.BytesIO(data))
    plain = raw.getvalue()
    zipped = gzip.compress(plain, compresslevel=9, mtime=0)
    return zipped, "sha256:" + hashlib.sha256(plain).hexdigest()


def platform_of(spec):
    os_name, arch = spec.split("/", 1)
    p = {"os": os_name, "architecture": arch}
    if arch == "arm64":
        p["variant"] = "v8"
    return p


def image(layout, platform, binary, runtime, created, mtime):
    zipped, diff_id = layer(binary, mtime)
    config = {
        **platform,
        "created": created,
        "config": runtime,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": "COPY iter8-gitops /iter8-gitops"}],
    }
    cfg = layout.add_json(config, CONFIG)
    lay = layout.add(zipped, LAYER)
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST, "config": cfg, "layers": [lay]}
    return layout.add_json(manifest, MANIFEST), cfg, lay


def runtime_settings(docker_config, annotations):
    """The parts of `docker image inspect`'s Config an OCI config carries."""
    labels = dict(docker_config.get("Labels") or {})
    labels.update(annotations)
    runtime = {"User": docker_config["User"], "Entrypoint": docker_config["Entrypoint"],
               "Labels": labels}
    if docker_config.get("Env"):
        runtime["Env"] = docker_config["Env"]
    return runtime


def write(out, layout, index_desc, version, docker_load):
    mtime = 0
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        def put(name, data):
            tar.addfile(tar_entry(name, data, 0o644, mtime), io.BytesIO(data))

        put("oci-layout", canonical({"imageLayoutVersion": "1.0.0"}))
        ref = dict(index_desc, annotations={"org.opencontainers.image.ref.name": version})
        put("index.json", canonical({"schemaVersion": 2, "mediaType": INDEX, "manifests": [ref]}))
        put("manifest.json", canonical([docker_load]))
        for digest in sorted(layout.blobs):
            put("blobs/sha256/" + digest.split(":", 1)[1], layout.blobs[digest])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--revision", required=True)
    ap.add_argument("--source", default="https://github.com/iter8-tools/iter8-gitops")
    ap.add_argument("--image-config", required=True,
                    help="`docker image inspect -f '{{json .Config}}'` of the prebuilt stage")
    ap.add_argument("--binary", action="append", required=True, metavar="OS/ARCH=PATH")
    a = ap.parse_args()

    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    docker_config = json.load(open(a.image_config))
    annotations = {
        "org.opencontainers.image.source": a.source,
        "org.opencontainers.image.revision": a.revision,
        "org.opencontainers.image.version": a.version,
        "org.opencontainers.image.licenses": docker_config["Labels"]["org.opencontainers.image.licenses"],
        "org.opencontainers.image.title": "iter8-gitops",
        "org.opencontainers.image.created": created,
    }
    runtime = runtime_settings(docker_config, annotations)
    layout, entries, docker_load = Layout(), [], None
    for spec in a.binary:
        name, path = spec.split("=", 1)
        platform = platform_of(name)
        desc, cfg, lay = image(layout, platform, path, runtime, created, epoch)
        entries.append(dict(desc, platform=platform))
        if docker_load is None:
            docker_load = {
                "Config": "blobs/sha256/" + cfg["digest"].split(":", 1)[1],
                "RepoTags": ["iter8-gitops:" + a.version],
                "Layers": ["blobs/sha256/" + lay["digest"].split(":", 1)[1]],
            }
    index = {"schemaVersion": 2, "mediaType": INDEX, "manifests": entries,
             "annotations": annotations}
    write(a.out, layout, layout.add_json(index, INDEX), a.version, docker_load)


if __name__ == "__main__":
    main()
