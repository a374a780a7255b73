//! Projects that resolve their secrets through a chain of providers, and
//! journeys that use those secrets: what the provider tests (aws, vault)
//! share.

use super::{TestProject, project_with_key};

/// A project whose demo API accepts `api_key`, resolving through `chain`,
/// with `providers`, registry lines `secrets` and the journey `j`.
pub fn chain_project(
    api_key: &str,
    chain: &str,
    providers: &str,
    secrets: &str,
    journey: &str,
) -> TestProject {
    let config = format!(
        "environments:\n  test:\n    variables: {{base_url: \"@BASE@\"}}\n    secrets: [{chain}]\n\
         providers:\n{providers}secrets:\n{secrets}"
    );
    project_with_key(
        api_key,
        &[("reqflo.yaml", &config), ("journeys/j.yaml", journey)],
    )
}

/// Registry lines: each `(NAME, reference)`.
pub fn secrets(entries: &[(&str, &str)]) -> String {
    entries
        .iter()
        .map(|(name, reference)| format!("  {name}: {{reference: \"{reference}\"}}\n"))
        .collect()
}

/// A journey paying once with each secret as the API key: it passes only if
/// every one resolved to the key the demo API accepts.
pub fn pays(names: &[&str]) -> String {
    let mut journey = String::from("steps:\n");
    for (i, name) in names.iter().enumerate() {
        journey.push_str(&format!(
            "  - id: pay{i}\n    template: post-payment\n    values: {{key: {{type: secret, name: {name}}}, amount: 5}}\n    expect: {{status: 201}}\n"
        ));
    }
    journey
}

/// A journey sending each secret in a header.
pub fn echoes(names: &[&str]) -> String {
    let mut journey = String::from("steps:\n");
    for (i, name) in names.iter().enumerate() {
        journey.push_str(&format!(
            "  - id: echo{i}\n    template: echo\n    values: {{key: {{type: secret, name: {name}}}}}\n"
        ));
    }
    journey
}

/// The `check --resolve` line for secret `name`.
pub fn line(out: &str, name: &str) -> String {
    out.lines()
        .find(|l| l.contains(&format!("secret {name}:")))
        .unwrap_or_else(|| panic!("no line for {name} in:\n{out}"))
        .to_string()
}
