//! The `--profile` help, written from the embedded profiles so it names every profile and
//! the default as they are in the corpus the binary carries.

use regverify::runner::corpus::{Corpus, SpecKind};

#[derive(serde::Deserialize)]
struct ProfilesFile {
    profiles: Vec<Profile>,
}

#[derive(serde::Deserialize)]
struct Profile {
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    default: bool,
}

/// `Profile to certify against: …` with one line per profile and the default marked.
pub fn help() -> String {
    let mut s = String::from("Profile to certify against");
    let profiles = Corpus::embedded()
        .spec_files()
        .into_iter()
        .find(|f| f.kind == SpecKind::Profiles)
        .and_then(|f| serde_saphyr::from_str::<ProfilesFile>(&f.text).ok());
    let Some(p) = profiles else {
        return s;
    };
    if let Some(d) = p.profiles.iter().find(|p| p.default) {
        s.push_str(&format!(" [default: {}]", d.id));
    }
    s.push(':');
    for p in &p.profiles {
        s.push_str(&format!("\n  {:<13} {}", p.id, p.title));
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_help_lists_every_profile_and_the_default() {
        let h = super::help();
        assert!(h.contains("[default: oci-1.1]"), "{h}");
        for id in [
            "oci-1.0",
            "oci-1.1",
            "oci-next",
            "distribution",
            "read-only",
            "all",
        ] {
            assert!(h.contains(&format!("\n  {id} ")), "{id}: {h}");
        }
    }
}
