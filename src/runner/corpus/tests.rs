use super::*;

#[test]
fn the_embedded_corpus_names_files_relative_to_itself_in_a_stable_order() {
    let c = Corpus::embedded();
    let files = c.spec_files();
    let names: Vec<&str> = files.iter().map(|f| f.display.as_str()).collect();
    let reqs = files
        .iter()
        .take_while(|f| f.kind == SpecKind::Requirements)
        .count();
    assert!(reqs > 1, "{names:?}");
    assert_eq!(names[0], "specs/requirements/auth.yaml");
    assert!(names[..reqs].is_sorted(), "{names:?}");
    assert_eq!(names[reqs], "specs/profiles.yaml");
    assert_eq!(names[reqs + 1], "specs/aliases.yaml");
    assert!(names.contains(&"specs/scenarios/push.yaml"), "{names:?}");
    let scen: Vec<&str> = names[reqs + 2..names.len() - 1].to_vec();
    assert!(scen.is_sorted(), "{scen:?}");
    assert!(
        files[reqs + 2..names.len() - 1]
            .iter()
            .all(|f| f.kind == SpecKind::Scenarios)
    );
    assert_eq!(names.last(), Some(&"specs/uncited.yaml"));
    assert!(files.iter().all(|f| f.layer == Layer::Base));
    assert_eq!(
        files[reqs + 2].rel,
        format!("scenarios/{}", &names[reqs + 2]["specs/scenarios/".len()..])
    );
    // no path of the build machine, no README
    let root = env!("CARGO_MANIFEST_DIR");
    assert!(
        names
            .iter()
            .all(|n| !n.contains(root) && n.ends_with(".yaml"))
    );
    assert_eq!(files, Corpus::embedded().spec_files());
}

#[test]
fn embedded_fixtures_are_the_source_trees() {
    let c = Corpus::embedded();
    let names = c.fixture_names();
    assert!(!names.is_empty());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    for n in &names {
        assert_eq!(
            c.fixture(n).unwrap(),
            std::fs::read(root.join(n)).unwrap(),
            "{n}"
        );
    }
    assert!(matches!(
        c.fixture("../Cargo.toml"),
        Err(CorpusError::OutsideFixtures { .. })
    ));
    assert!(matches!(
        c.fixture("no/such.json"),
        Err(CorpusError::NoFixture { .. })
    ));
    let held = c.fixtures();
    for n in &names {
        assert_eq!(held.read(n).unwrap().as_ref(), c.fixture(n).unwrap(), "{n}");
    }
}

#[test]
fn explicit_directories_replace_the_embedded_ones() {
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("s");
    std::fs::create_dir_all(specs.join("scenarios")).unwrap();
    std::fs::write(specs.join("requirements.yaml"), "requirements: []\n").unwrap();
    std::fs::write(specs.join("scenarios/b.yaml"), "scenarios: []\n").unwrap();
    std::fs::write(specs.join("scenarios/a.yaml"), "scenarios: []\n").unwrap();
    std::fs::write(specs.join("scenarios/notes.md"), "not a spec\n").unwrap();
    let fixtures = dir.path().join("f");
    std::fs::create_dir_all(fixtures.join("sub")).unwrap();
    std::fs::write(fixtures.join("sub/x.json"), "{}").unwrap();

    let c = Corpus::open(Some(&specs), SpecsMode::Replace, Some(&fixtures)).unwrap();
    let names: Vec<String> = c.spec_files().into_iter().map(|f| f.display).collect();
    let shown = |rel: &str| specs.join(rel).display().to_string();
    assert_eq!(
        names,
        [
            shown("requirements.yaml"),
            shown("scenarios/a.yaml"),
            shown("scenarios/b.yaml")
        ]
    );
    assert_eq!(c.fixture_names(), ["sub/x.json"]);
    assert_eq!(c.fixture("sub/x.json").unwrap(), b"{}");
    assert!(c.fixture("manifests/index.json").is_err());

    // only the fixtures replaced: the embedded spec files stay
    let c = Corpus::from_dirs(None, Some(&fixtures)).unwrap();
    assert_eq!(c.spec_files(), Corpus::embedded().spec_files());
    assert!(matches!(
        Corpus::from_dirs(Some(&dir.path().join("missing")), None),
        Err(CorpusError::NotADirectory { .. })
    ));
}

#[test]
fn an_overlay_replaces_scenario_files_by_name_and_adds_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let over = dir.path();
    std::fs::create_dir_all(over.join("scenarios")).unwrap();
    std::fs::write(over.join("requirements.yaml"), "requirements: []\n").unwrap();
    std::fs::write(over.join("scenarios/push.yaml"), "scenarios: []\n").unwrap();
    std::fs::write(over.join("scenarios/zz-new.yaml"), "scenarios: []\n").unwrap();
    let c = Corpus::from_dirs(Some(over), None).unwrap();
    let embedded = Corpus::embedded().spec_files();
    let files = c.spec_files();
    let shown = |rel: &str| over.join(rel).display().to_string();
    // the embedded requirements files first, then the overlay's: the loader merges them by id
    let reqs: Vec<(&str, Layer)> = files
        .iter()
        .filter(|f| f.kind == SpecKind::Requirements)
        .map(|f| (f.display.as_str(), f.layer))
        .collect();
    let over_reqs = shown("requirements.yaml");
    assert_eq!(reqs.last(), Some(&(over_reqs.as_str(), Layer::Overlay)));
    assert!(reqs.len() > 2, "{reqs:?}");
    assert!(
        reqs[..reqs.len() - 1]
            .iter()
            .all(|(name, layer)| name.starts_with("specs/requirements/") && *layer == Layer::Base),
        "{reqs:?}"
    );
    // push.yaml replaced, zz-new.yaml added, every other embedded file kept
    let scen: Vec<&str> = files
        .iter()
        .filter(|f| f.kind == SpecKind::Scenarios)
        .map(|f| f.display.as_str())
        .collect();
    assert!(!scen.contains(&"specs/scenarios/push.yaml"), "{scen:?}");
    assert!(
        scen.contains(&shown("scenarios/push.yaml").as_str()),
        "{scen:?}"
    );
    assert!(
        scen.contains(&shown("scenarios/zz-new.yaml").as_str()),
        "{scen:?}"
    );
    assert!(scen.contains(&"specs/scenarios/pull.yaml"), "{scen:?}");
    assert_eq!(
        scen.len(),
        embedded
            .iter()
            .filter(|f| f.kind == SpecKind::Scenarios)
            .count()
            + 1
    );
    let shadowed: Vec<&str> = c.shadowed_files().iter().map(|f| f.rel.as_str()).collect();
    assert_eq!(shadowed, ["scenarios/push.yaml"]);
    assert_eq!(c.overlay_dir(), Some(over));
    // a directory holding no spec file is a mistake, not an empty overlay
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        Corpus::from_dirs(Some(empty.path()), None),
        Err(CorpusError::EmptyOverlay { .. })
    ));
}
