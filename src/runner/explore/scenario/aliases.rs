//! The same bytes under another algorithm's digest. A registry may serve, mount and delete a
//! blob pushed by its sha512 digest under its sha256 digest too (and the other way round):
//! the spec neither requires nor forbids it, so the explorer accepts either answer, and so
//! does the scenario. After such a delete or mount, whether the registry holds the blob under
//! the digests involved depends on the answer that came: those are unsure, and a later read
//! of them accepts both answers. A mount answered 202 opened a session instead, which the
//! explorer cancels: so does the scenario.

use serde_json::{Value, json};

use super::{Writer, repo_name};
use crate::oci::Digest;
use crate::runner::explore::model::{Model, Needs, RepoId};

impl Writer {
    /// Whether `repo` may hold `digest` though the model does not say it does: the model
    /// holds it open (its bytes went up or were deleted under another digest), or an answer
    /// the scenario cannot know left it open.
    pub(super) fn maybe(&self, m: &Model, repo: RepoId, digest: &Digest) -> bool {
        !m.has_blob(repo, digest)
            && (self.unsure.contains(&(repo, digest.clone())) || m.maybe_blob(repo, digest))
    }

    /// Whether everything `needs` names may be in `repo`, counting the blobs it may or may
    /// not hold ([`Writer::maybe`]).
    pub(super) fn may_satisfy(&self, m: &Model, repo: RepoId, needs: &Needs) -> bool {
        let blob = |d: &Digest| m.has_blob(repo, d) || self.maybe(m, repo, d);
        needs.blobs.iter().all(blob)
            && needs
                .manifests
                .iter()
                .all(|d| m.manifest(repo, d).is_some() || blob(d))
    }

    /// Now certainly held, or certainly not.
    pub(super) fn settled(&mut self, repo: RepoId, digest: &Digest) {
        self.unsure.remove(&(repo, digest.clone()));
    }

    pub(super) fn delete_blob(
        &mut self,
        m: &mut Model,
        repo: RepoId,
        digest: &Digest,
        name: String,
    ) -> Vec<Value> {
        let url = format!("/v2/{}/blobs/{}", repo_name(repo), self.digest_ref(digest));
        let present = m.has_blob(repo, digest);
        let maybe = self.maybe(m, repo, digest);
        // gone under this digest whatever the answer; its bytes under the other digests are
        // open afterwards (one blob or two; and, reached by another digest, a 202 or a 404)
        self.settled(repo, digest);
        m.drop_blob(repo, digest);
        if !maybe {
            return self.delete(name, url, present, "delete.blob", "delete.blob.404");
        }
        let e = self.expect("delete.blob.404", json!({ "status": [202, 404] }));
        let request = json!({ "method": "DELETE", "url": url });
        let mut step = self.request(name, request, vec![e]);
        step["skip_if"] = json!({ "status": [400, 405], "reason": "deletion is disabled" });
        vec![step]
    }

    pub(super) fn mount(
        &mut self,
        m: &mut Model,
        from: RepoId,
        to: RepoId,
        digest: &Digest,
        name: String,
    ) -> Vec<Value> {
        let url = format!("/v2/{}/blobs/uploads/", repo_name(to));
        let d = self.digest_ref(digest);
        let request = json!({ "method": "POST", "url": url, "query": { "mount": d, "from": repo_name(from) } });
        let mut skip = None;
        let e = if m.has_blob(from, digest) {
            m.hold_blob(to, digest);
            self.settled(to, digest);
            // a registry may not mount (202, a session instead): what follows in the
            // scenario assumes the mount, so it cannot be replayed there
            skip = Some(
                json!({ "status": [202], "reason": "the registry does not mount blobs, which the spec allows" }),
            );
            self.expect("push.mount.201", json!({ "status": 201 }))
        } else if self.maybe(m, from, digest) {
            // mounted (201) only if the source holds the bytes under this digest too
            if !m.has_blob(to, digest) {
                self.unsure.insert((to, digest.clone()));
            }
            self.expect("push.mount.201", json!({ "status": [201, 202] }))
        } else {
            self.expect("push.mount.fallback", json!({ "status": 202 }))
        };
        let mut step = self.request(name.clone(), request, vec![e]);
        if let Some(skip) = skip {
            step["skip_if"] = skip;
        }
        if !self.strict {
            // one step among others run at once: the session is left open
            return vec![step];
        }
        // not mounted: the explorer cancels the session opened instead
        let k = self.uploads;
        self.uploads += 1;
        let (answered, session) = (format!("mounted{k}"), format!("session{k}"));
        step["capture"] = json!({
            answered.clone(): { "status": true },
            session.clone(): { "header": "Location", "resolve": true, "optional": true },
        });
        let e = self.expect("next.upload.cancel", json!({ "status": 204 }));
        let request = json!({ "method": "DELETE", "url": format!("{{{session}}}") });
        let mut cancel = self.request(
            format!("{name}: not mounted, cancel the session"),
            request,
            vec![e],
        );
        cancel["when"] = json!({ answered: 202, session: "present" });
        vec![step, cancel]
    }
}
