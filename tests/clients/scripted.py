#!/usr/bin/env python3
"""A small registry client for the tests of `regverify clients`: it follows every client
duty `regverify clients` judges, or breaks exactly one of them (--break NAME), so that each
client requirement is shown to fail when broken and to stay quiet when kept.

usage: scripted.py push REGISTRY REPO TAG LAYOUT [--break NAME] [--layers recompressed|altered]
       scripted.py pull REGISTRY REPO TAG-OR-DIGEST DIR [--break NAME]
       scripted.py list-tags REGISTRY REPO [--break NAME]
       scripted.py attach REGISTRY REPO TAG FILE [--break NAME]
--layers makes push rewrite each layer as clients pushing from their own storage do:
recompressed (the same tar, gzipped anew) or altered (one byte of the tar changed too).
Standard library only; plain HTTP."""
import gzip, hashlib, http.client, json, os, sys, urllib.parse

BREAKS = {"none", "chunk-range", "chunk-order", "chunk-min-length", "location-as-given",
          "set-content-type", "accept", "verify-blob", "verify-manifest", "referrers-fallback",
          "single-post-continued", "mount-continued", "tags-link", "follow-redirects"}
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
CHUNK = 1000


class Client:
    def __init__(self, registry, broken):
        self.registry = registry
        self.broken = broken
        # a repository blobs are first asked to be mounted from (push only)
        self.mount_from = None

    def request(self, method, target, body=b"", headers=None):
        conn = http.client.HTTPConnection(self.registry, timeout=30)
        h = dict(headers or {})
        if body or method in ("PUT", "PATCH", "POST"):
            h.setdefault("Content-Length", str(len(body)))
        conn.request(method, target, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    @staticmethod
    def origin_form(location):
        """A location as path and query: absolute ones lose scheme and host (the one
        conversion the spec allows)."""
        u = urllib.parse.urlsplit(location)
        return u.path + ("?" + u.query if u.query else "")

    def upload_location(self, location):
        loc = self.origin_form(location)
        if self.broken == "location-as-given":
            # rebuilt from the path alone: the registry's query is lost
            loc = loc.split("?")[0]
        return loc

    def push_blob(self, repo, data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        loc = None
        if self.mount_from:
            s, h, _ = self.request(
                "POST", f"/v2/{repo}/blobs/uploads/?mount={digest}&from={self.mount_from}")
            if s == 201:
                return digest
            if s != 202:
                sys.exit(f"mount POST answered {s}")
            if self.broken != "mount-continued":
                # the session the 202 opened: the upload goes on with it
                loc = self.upload_location(h["location"])
                minimum = int(h.get("oci-chunk-min-length", "0"))
        if loc is None and len(data) <= CHUNK:
            return self.single_post(repo, data, digest)
        if loc is None:
            s, h, _ = self.request("POST", f"/v2/{repo}/blobs/uploads/")
            if s != 202:
                sys.exit(f"POST answered {s}")
            loc = self.upload_location(h["location"])
            minimum = int(h.get("oci-chunk-min-length", "0"))
        size = max(CHUNK, minimum)
        if self.broken == "chunk-min-length":
            # under the minimum, and short enough that the blob takes several chunks
            size = max(1, min(minimum, len(data)) // 2) if minimum else CHUNK
        chunks = [(i, data[i:i + size]) for i in range(0, len(data), size)]
        for n, (start, c) in enumerate(chunks):
            if self.broken == "chunk-order" and n == 1 and len(chunks) > 2:
                # the third chunk before the second: refused, then the upload goes on
                (s3, c3) = chunks[2]
                self.request("PATCH", loc, c3, {
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{s3}-{s3 + len(c3) - 1}"})
            end = start + len(c) - 1
            if self.broken == "chunk-range":
                end += 1  # an exclusive end
            s, h, _ = self.request("PATCH", loc, c, {
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{start}-{end}"})
            if s != 202:
                sys.exit(f"PATCH answered {s}")
            loc = self.upload_location(h["location"])
        sep = "&" if "?" in loc else "?"
        s, _, _ = self.request("PUT", f"{loc}{sep}digest={digest}")
        if s != 201:
            sys.exit(f"closing PUT answered {s}")
        return digest

    def single_post(self, repo, data, digest):
        """A small blob in one POST; a registry that does not take it opens a session, which
        the blob then goes through."""
        s, h, _ = self.request("POST", f"/v2/{repo}/blobs/uploads/?digest={digest}", data,
                               {"Content-Type": "application/octet-stream"})
        if s == 201:
            return digest
        if s != 202 or self.broken == "single-post-continued":
            sys.exit(f"single POST answered {s}")
        loc = self.upload_location(h["location"])
        sep = "&" if "?" in loc else "?"
        s, _, _ = self.request("PUT", f"{loc}{sep}digest={digest}", data,
                               {"Content-Type": "application/octet-stream"})
        if s != 201:
            sys.exit(f"closing PUT answered {s}")
        return digest

    def push_manifest(self, repo, reference, body):
        media_type = json.loads(body)["mediaType"]
        if self.broken == "set-content-type":
            media_type = "application/json"
        s, h, _ = self.request("PUT", f"/v2/{repo}/manifests/{reference}", body,
                               {"Content-Type": media_type})
        if s != 201:
            sys.exit(f"manifest PUT answered {s}")
        return h

    def get_manifest(self, repo, reference, accept):
        headers = {} if self.broken == "accept" else {"Accept": accept}
        return self.request("GET", f"/v2/{repo}/manifests/{reference}", headers=headers)

    def get_blob(self, repo, digest):
        s, h, data = self.request("GET", f"/v2/{repo}/blobs/{digest}")
        if s in (301, 302, 303, 307, 308) and self.broken != "follow-redirects":
            s, _, data = self.request("GET", self.origin_form(h["location"]))
        if s != 200:
            sys.exit(f"blob GET answered {s}")
        if self.broken != "verify-blob" and "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            sys.exit(f"blob {digest}: the bytes received do not match the digest")
        return data


def push(c, repo, tag, layout, layers="as-given"):
    index = json.load(open(os.path.join(layout, "index.json")))
    desc = next(m for m in index["manifests"]
                if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag)
    read = lambda d: open(os.path.join(layout, "blobs", *d.split(":")), "rb").read()
    manifest = read(desc["digest"])
    m = json.loads(manifest)
    # the config is first asked to be mounted; no other repository holds it, so the registry
    # opens a session instead (202). The layer goes by a plain POST, whose answer announces
    # the chunk minimum where the registry has one.
    c.mount_from = repo + "-elsewhere"
    c.push_blob(repo, read(m["config"]["digest"]))
    c.mount_from = None
    for d in m["layers"]:
        data = read(d["digest"])
        if layers != "as-given":
            tar = gzip.decompress(data)
            if layers == "altered":
                tar = tar[:600] + bytes([tar[600] ^ 1]) + tar[601:]
            data = gzip.compress(tar, mtime=0)
            d["digest"], d["size"] = "sha256:" + hashlib.sha256(data).hexdigest(), len(data)
        c.push_blob(repo, data)
    if layers != "as-given":
        manifest = json.dumps(m).encode()
    c.push_manifest(repo, tag, manifest)


def pull(c, repo, reference, out):
    s, h, manifest = c.get_manifest(repo, reference, MANIFEST)
    if s != 200:
        sys.exit(f"manifest GET answered {s}")
    # asked for by digest, the manifest is checked against it (by tag there is nothing to check)
    if (reference.startswith("sha256:") and c.broken != "verify-manifest"
            and "sha256:" + hashlib.sha256(manifest).hexdigest() != reference):
        sys.exit(f"manifest {reference}: the bytes received do not match the digest")
    m = json.loads(manifest)
    blobs = os.path.join(out, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)
    for d in [m["config"]] + m["layers"]:
        data = c.get_blob(repo, d["digest"])
        open(os.path.join(blobs, d["digest"].split(":")[1]), "wb").write(data)
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    open(os.path.join(blobs, digest.split(":")[1]), "wb").write(manifest)


def list_tags(c, repo):
    """Pages of two tags: through the Link when there is one, else by `last` after a full
    page (a registry leaving the Link out still returns n tags while more remain)."""
    n = 2
    target = f"/v2/{repo}/tags/list?n={n}"
    while target:
        s, h, body = c.request("GET", target)
        if s != 200:
            sys.exit(f"tags list answered {s}")
        tags = json.loads(body).get("tags") or []
        for t in tags:
            print(t)
        link = h.get("link")
        if link and c.broken != "tags-link":
            target = c.origin_form(link.split(";")[0].strip().strip("<>"))
        elif len(tags) == n and not link:
            target = f"/v2/{repo}/tags/list?n={n}&last={urllib.parse.quote(tags[-1])}"
        else:
            target = None


def attach(c, repo, tag, path):
    s, _, subject = c.get_manifest(repo, tag, MANIFEST)
    if s != 200:
        sys.exit(f"subject GET answered {s}")
    subject_digest = "sha256:" + hashlib.sha256(subject).hexdigest()
    data = open(path, "rb").read()
    layer = c.push_blob(repo, data)
    config = c.push_blob(repo, b"{}")
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST,
        "artifactType": "application/vnd.example.note",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config, "size": 2},
        "layers": [{"mediaType": "text/plain", "digest": layer, "size": len(data)}],
        "subject": {"mediaType": MANIFEST, "digest": subject_digest, "size": len(subject)},
    }).encode()
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    h = c.push_manifest(repo, digest, manifest)
    if "oci-subject" in h or c.broken == "referrers-fallback":
        return
    # no referrers API: the index of the referrers tag schema, updated
    schema_tag = subject_digest.replace(":", "-", 1)
    s, _, body = c.get_manifest(repo, schema_tag, INDEX)
    index = json.loads(body) if s == 200 else {"schemaVersion": 2, "mediaType": INDEX, "manifests": []}
    index["manifests"].append({"mediaType": MANIFEST, "digest": digest, "size": len(manifest),
                               "artifactType": "application/vnd.example.note"})
    c.push_manifest(repo, schema_tag, json.dumps(index).encode())


def main(argv):
    broken = "none"
    if "--break" in argv:
        i = argv.index("--break")
        broken = argv[i + 1]
        del argv[i:i + 2]
    if broken not in BREAKS:
        sys.exit(f"unknown rule {broken}; known: {' '.join(sorted(BREAKS))}")
    if "--layers" in argv:
        i = argv.index("--layers")
        if argv[i + 1] not in ("recompressed", "altered"):
            sys.exit(f"unknown --layers {argv[i + 1]}")
        argv = argv[:i] + argv[i + 2:] + [argv[i + 1]]
    op, registry, repo, *rest = argv
    c = Client(registry, broken)
    {"push": push, "pull": pull, "list-tags": list_tags, "attach": attach}[op](c, repo, *rest)


if __name__ == "__main__":
    main(sys.argv[1:])
