//! Replays the committed corpus through the targets' checks without libFuzzer
//! (`cargo test --manifest-path fuzz/Cargo.toml`): quick to run after a fix.

use std::path::Path;

use arbitrary::{Arbitrary, Unstructured};

fn each(target: &str, check: impl Fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus folder") {
        let path = entry.expect("corpus entry").path();
        let data = std::fs::read(&path).expect("corpus file");
        eprintln!("{target}: {}", path.display());
        check(&data);
        count += 1;
    }
    assert!(count > 0, "no seeds in {}", dir.display());
}

/// Decode like libfuzzer-sys does for a typed target.
fn typed<T: for<'a> Arbitrary<'a>>(data: &[u8]) -> Option<T> {
    T::arbitrary_take_rest(Unstructured::new(data)).ok()
}

#[test]
fn loaders() {
    each("project_file", reqflo_fuzz::loaders::project_file);
    each("journey_file", reqflo_fuzz::loaders::journey_file);
    each("template_file", reqflo_fuzz::loaders::template_file);
}

#[test]
fn imports() {
    each("import_curl", reqflo_fuzz::imports::curl);
    each("import_hurl", reqflo_fuzz::imports::hurl);
    each("import_postman", reqflo_fuzz::imports::postman);
    each("import_openapi", reqflo_fuzz::imports::openapi);
}

#[test]
fn references() {
    each("reference_onepassword", |d| {
        if let Ok(s) = std::str::from_utf8(d) {
            reqflo_fuzz::references::onepassword(s)
        }
    });
    each("reference_vault", |d| {
        if let Ok(s) = std::str::from_utf8(d) {
            reqflo_fuzz::references::vault(s)
        }
    });
    each("reference_aws", |d| {
        if let Ok(s) = std::str::from_utf8(d) {
            reqflo_fuzz::references::aws(s)
        }
    });
}

#[test]
fn render_and_redact() {
    each("template_render", |d| {
        if let Some(case) = typed(d) {
            reqflo_fuzz::render::template_render(case)
        }
    });
    each("redact", |d| {
        if let Some(case) = typed(d) {
            reqflo_fuzz::redact::redact(case)
        }
    });
}

#[test]
fn providers() {
    each("providers", |d| {
        if let Some(case) = typed::<reqflo_fuzz::providers::Case>(d) {
            reqflo_fuzz::providers::configure_and_resolve(case)
        }
    });
}
