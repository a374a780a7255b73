//! The built-in 1Password provider against a local FAKE Connect server
//! (`reqflo-fakes`: no real Connect server can run here), and the host's
//! network grants that every networked plugin goes through.

/// Items, fields, files, access and redaction.
mod items;
/// Timeouts, redirects, TLS and host grants.
mod network;
/// One-time passwords.
mod otp;

use crate::common::{self, CANARY, TestProject};

use reqflo_fakes::onepassword::{ConnectData, FakeConnect};

/// The webhook signing secret kept in a section of the sample item.
pub(super) const WEBHOOK: &str = "whsec/Ca+nary=Webhook7";

/// A fake Connect server holding [`CANARY`] as the Stripe credential. The
/// runtime owns the server's task and must outlive the test's runs.
pub(super) struct Connect {
    pub(super) fake: FakeConnect,
    pub(super) _runtime: tokio::runtime::Runtime,
}

impl Connect {
    pub(super) fn start() -> Connect {
        Connect::serving(ConnectData::sample(CANARY, WEBHOOK))
    }

    pub(super) fn serving(data: ConnectData) -> Connect {
        let (fake, runtime) = crate::common::on_runtime("fake Connect", FakeConnect::spawn(data));
        Connect {
            fake,
            _runtime: runtime,
        }
    }

    /// `host:port` of the fake, as a grant.
    pub(super) fn grant(&self) -> String {
        self.fake.addr().to_string()
    }

    /// Requests whose path starts with `prefix`.
    pub(super) fn count(&self, prefix: &str) -> usize {
        self.fake
            .requests()
            .iter()
            .filter(|r| r.starts_with(prefix))
            .count()
    }
}

/// A project whose environment resolves through provider `op` (the 1Password
/// plugin granted `hosts`), with `secrets` as registry lines and one echo step
/// per name in `used`.
pub(super) fn op_project(
    hosts: &str,
    provider_extra: &str,
    secrets: &str,
    used: &[&str],
) -> TestProject {
    op_project_with_key(CANARY, hosts, provider_extra, secrets, used)
}

/// [`op_project`] whose demo API accepts `key` as its bearer key.
pub(super) fn op_project_with_key(
    key: &str,
    hosts: &str,
    provider_extra: &str,
    secrets: &str,
    used: &[&str],
) -> TestProject {
    let config = format!(
        "environments:\n  test:\n    variables: {{base_url: \"@BASE@\"}}\n    secrets: [op]\n\
         providers:\n  op:\n    plugin: builtin:onepassword\n    grants:\n      env: [OP_CONNECT_HOST, OP_CONNECT_TOKEN]\n      hosts: [{hosts}]\n\
         {provider_extra}secrets:\n{secrets}"
    );
    let mut journey = String::from("steps:\n");
    for (i, name) in used.iter().enumerate() {
        journey.push_str(&format!(
            "  - id: s{i}\n    template: echo\n    values: {{key: {{type: secret, name: {name}}}}}\n"
        ));
    }
    common::project_with_key(
        key,
        &[("reqflo.yaml", &config), ("journeys/j.yaml", &journey)],
    )
}

pub(super) fn env<'a>(connect: &'a str, token: &'a str) -> [(&'a str, &'a str); 2] {
    [("OP_CONNECT_HOST", connect), ("OP_CONNECT_TOKEN", token)]
}
