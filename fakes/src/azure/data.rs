//! What the fake serves: secrets with their versions, the app registrations
//! that may sign in, and preset bearer tokens.

use serde::{Deserialize, Serialize};

/// The sample directory (tenant) ID. Made up: no real tenant has it.
pub const TENANT_ID: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
/// The sample app registration's application (client) ID.
pub const CLIENT_ID: &str = "a1b2c3d4-0000-4f00-8000-00000000c11d";
/// The sample app registration's client secret (Azure's `~` shape).
pub const CLIENT_SECRET: &str = "fAke8Q~client.Secret_42";
/// The scope a Key Vault token is asked for; the fake's token route wants it.
/// The federated token (a Kubernetes service account's, in
/// `AZURE_FEDERATED_TOKEN_FILE`) the sample client trusts, for workload
/// identity.
pub const FEDERATED_TOKEN: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6cGF5bWVudHM6cmVxZmxvIn0.ZmFrZQ";
/// Key Vault's scope.
pub const VAULT_SCOPE: &str = "https://vault.azure.net/.default";
/// A preset bearer token that may read every secret (as if from
/// `az account get-access-token --resource https://vault.azure.net`).
pub const STATIC_TOKEN: &str = "fake-static-token-all-secrets";
/// A preset bearer token that may read only [`PAYMENTS_KEY_NAME`].
pub const LIMITED_TOKEN: &str = "fake-static-token-payments-only";
/// Lifetime, in seconds, of the tokens the fake issues unless a test changes it.
pub const TOKEN_LIFETIME_SECS: u64 = 3599;
/// `created` and `updated` of every sample version (2024-01-15T10:30:00Z).
pub const SAMPLE_TIMESTAMP: i64 = 1_705_314_600;

/// Sample secret with two versions: an old key, then the current one.
pub const PAYMENTS_KEY_NAME: &str = "payments-api-key";
/// The first version of [`PAYMENTS_KEY_NAME`].
pub const PAYMENTS_KEY_OLD_VERSION: &str = "0d5e3b1c9a7f4e2d8c6b4a2f0e9d7c5b";
/// The value of [`PAYMENTS_KEY_OLD_VERSION`].
pub const PAYMENTS_KEY_OLD_VALUE: &str = "old-payments-key-0001";
/// The second, latest version of [`PAYMENTS_KEY_NAME`].
pub const PAYMENTS_KEY_VERSION: &str = "7a1f9e3d5c2b4a6f8e0d1c3b5a7f9e2d";
/// Sample secret holding a JSON object (`username`, `password`, `port`).
pub const DB_CREDENTIALS_NAME: &str = "db-credentials";
/// Its only version.
pub const DB_CREDENTIALS_VERSION: &str = "4c8e2a6f0b3d5e7a9c1f3b5d7e9a0c2e";
/// The `username` in [`DB_CREDENTIALS_NAME`].
pub const DB_USERNAME: &str = "svc-payments";
/// Sample secret whose only version is disabled.
pub const RETIRED_NAME: &str = "retired-key";
/// Its only version.
pub const RETIRED_VERSION: &str = "9b7d5f3a1c0e2b4d6f8a0c2e4b6d8f1a";
/// Sample secret whose latest version is disabled and whose older one is not.
pub const ROTATING_NAME: &str = "rotating-key";
/// The enabled first version of [`ROTATING_NAME`].
pub const ROTATING_OLD_VERSION: &str = "1e3c5a7f9d2b4c6e8a0f1d3b5c7e9a2f";
/// The value of [`ROTATING_OLD_VERSION`].
pub const ROTATING_OLD_VALUE: &str = "rotating-old-value-7";
/// The disabled latest version of [`ROTATING_NAME`].
pub const ROTATING_NEW_VERSION: &str = "5f7b9d1e3a5c7e9b0d2f4a6c8e0b2d4f";

/// Everything a fake Azure serves.
#[derive(Clone, Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AzureData {
    /// The one tenant the token route knows.
    pub tenant_id: String,
    /// App registrations that may use the client credentials grant.
    pub clients: Vec<FakeClient>,
    /// Bearer tokens the vault accepts without anyone signing in.
    pub static_tokens: Vec<FakeToken>,
    /// The vault's secrets.
    pub secrets: Vec<FakeSecret>,
    /// The vault's permission model is Azure RBAC: a token that may not
    /// read a secret gets 403 `ForbiddenByRbac` (with access policies, the
    /// default, `AccessDenied`).
    #[serde(default)]
    pub rbac: bool,
    /// The vault's firewall refuses the caller's address: every Get Secret
    /// with a valid token gets 403 `ForbiddenByFirewall`.
    #[serde(default)]
    pub firewall_closed: bool,
    /// The workload has a managed identity: the identity routes issue
    /// tokens (else IMDS answers 400 "Identity not found").
    #[serde(default)]
    pub managed_identity: bool,
}

/// What App Service puts in `IDENTITY_HEADER`, and the fake's identity
/// route wants back as `X-IDENTITY-HEADER`.
pub const IDENTITY_HEADER: &str = "fake-identity-header-0b5e";

/// An app registration with a client secret (and federated token or
/// certificates, if any). Tokens issued to it may read every secret.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FakeClient {
    /// The application (client) ID.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: String,
    /// The federated token it trusts as a client assertion (workload
    /// identity), if any.
    #[serde(default)]
    pub federated_token: Option<String>,
    /// Certificates registered for it (PEM), whose keys may sign client
    /// assertions.
    #[serde(default)]
    pub certificates: Vec<String>,
}

/// A preset bearer token.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FakeToken {
    /// The token, as sent after `Bearer `.
    pub token: String,
    /// Secret names it may read (case-insensitive); None = every secret.
    pub secrets: Option<Vec<String>>,
}

/// A secret and its versions.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FakeSecret {
    /// 1–127 letters, digits and `-`; matched case-insensitively.
    pub name: String,
    /// Oldest first; the last one is what a request without a version gets.
    pub versions: Vec<FakeVersion>,
}

/// One version of a secret.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FakeVersion {
    /// 32 lowercase hex digits, as Key Vault's are.
    pub version: String,
    /// The value.
    pub value: String,
    /// A disabled version answers 403 `SecretDisabled`.
    pub enabled: bool,
    /// The optional `contentType` Key Vault stores with a value.
    pub content_type: Option<String>,
}

impl AzureData {
    /// A small documented sample: tenant [`TENANT_ID`] with app [`CLIENT_ID`]
    /// (secret [`CLIENT_SECRET`]), preset tokens [`STATIC_TOKEN`] (every
    /// secret) and [`LIMITED_TOKEN`] (only `payments-api-key`), and secrets
    /// `payments-api-key` (an old version, then `api_key`), `db-credentials`
    /// (`{"username", "password": db_password, "port": 5432}`), `retired-key`
    /// (disabled) and `rotating-key` (an enabled old version, a disabled latest).
    pub fn sample(api_key: &str, db_password: &str) -> AzureData {
        let version = |version: &str, value: &str, enabled: bool| FakeVersion {
            version: version.to_string(),
            value: value.to_string(),
            enabled,
            content_type: None,
        };
        let db = serde_json::json!({
            "username": DB_USERNAME,
            "password": db_password,
            "port": 5432,
        });
        let mut db_version = version(DB_CREDENTIALS_VERSION, &db.to_string(), true);
        db_version.content_type = Some("application/json".to_string());
        AzureData {
            tenant_id: TENANT_ID.to_string(),
            clients: vec![FakeClient {
                client_id: CLIENT_ID.to_string(),
                client_secret: CLIENT_SECRET.to_string(),
                federated_token: Some(FEDERATED_TOKEN.to_string()),
                certificates: Vec::new(),
            }],
            static_tokens: vec![
                FakeToken {
                    token: STATIC_TOKEN.to_string(),
                    secrets: None,
                },
                FakeToken {
                    token: LIMITED_TOKEN.to_string(),
                    secrets: Some(vec![PAYMENTS_KEY_NAME.to_string()]),
                },
            ],
            secrets: vec![
                FakeSecret {
                    name: PAYMENTS_KEY_NAME.to_string(),
                    versions: vec![
                        version(PAYMENTS_KEY_OLD_VERSION, PAYMENTS_KEY_OLD_VALUE, true),
                        version(PAYMENTS_KEY_VERSION, api_key, true),
                    ],
                },
                FakeSecret {
                    name: DB_CREDENTIALS_NAME.to_string(),
                    versions: vec![db_version],
                },
                FakeSecret {
                    name: RETIRED_NAME.to_string(),
                    versions: vec![version(RETIRED_VERSION, "retired-value-0001", false)],
                },
                FakeSecret {
                    name: ROTATING_NAME.to_string(),
                    versions: vec![
                        version(ROTATING_OLD_VERSION, ROTATING_OLD_VALUE, true),
                        version(ROTATING_NEW_VERSION, "rotating-new-value-8", false),
                    ],
                },
            ],
            rbac: false,
            firewall_closed: false,
            managed_identity: true,
        }
    }

    /// The secret named `name`, ignoring case as Key Vault does.
    pub(crate) fn secret(&self, name: &str) -> Option<&FakeSecret> {
        self.secrets
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }
}

impl FakeSecret {
    /// The version asked for, or the latest when `version` is None.
    pub(crate) fn version(&self, version: Option<&str>) -> Option<&FakeVersion> {
        match version {
            None => self.versions.last(),
            Some(v) => self
                .versions
                .iter()
                .find(|candidate| candidate.version.eq_ignore_ascii_case(v)),
        }
    }
}

impl FakeToken {
    /// Whether this token may read the secret `name`.
    pub(crate) fn may_read(&self, name: &str) -> bool {
        match &self.secrets {
            None => true,
            Some(names) => names.iter().any(|n| n.eq_ignore_ascii_case(name)),
        }
    }
}
