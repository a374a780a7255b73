//! What the fake serves: vaults with their items, and the tokens that may read them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::otp::totp_code;

/// ID of the sample vault "Payments".
pub const PAYMENTS_VAULT_ID: &str = "ujzde8gxd6ncf10epf91dhodzd";
/// Name of the sample vault [`PAYMENTS_VAULT_ID`].
pub const PAYMENTS_VAULT_NAME: &str = "Payments";
/// ID of the sample item "Stripe Sandbox" in the Payments vault.
pub const STRIPE_ITEM_ID: &str = "oc9is0j8ht9lgmxg9edn581u33";
/// Title of the sample item [`STRIPE_ITEM_ID`].
pub const STRIPE_ITEM_TITLE: &str = "Stripe Sandbox";
/// ID of the "credential" field of Stripe Sandbox (1Password's own ID for it).
pub const CREDENTIAL_FIELD_ID: &str = "credential";
/// ID of the "username" field of Stripe Sandbox.
pub const USERNAME_FIELD_ID: &str = "username";
/// Value of the "username" field of Stripe Sandbox.
pub const STRIPE_USERNAME: &str = "sandbox@payments.example";
/// ID of the section "Webhooks" of Stripe Sandbox.
pub const WEBHOOKS_SECTION_ID: &str = "xtplpft75v2seh60kvj50ce9uv";
/// Label of the section [`WEBHOOKS_SECTION_ID`].
pub const WEBHOOKS_SECTION_LABEL: &str = "Webhooks";
/// ID of the field "signing secret" in the Webhooks section of Stripe Sandbox.
pub const SIGNING_FIELD_ID: &str = "w53efr4edt2sywb3wkh5dnsipz";
/// Label of the field [`SIGNING_FIELD_ID`].
pub const SIGNING_FIELD_LABEL: &str = "signing secret";
/// ID of the file attached to Stripe Sandbox, whose content is the credential.
pub const STRIPE_FILE_ID: &str = "c4n2fvq8kyd3hsh6mt0tb6ejxq";
/// Name of the file [`STRIPE_FILE_ID`].
pub const STRIPE_FILE_NAME: &str = "restricted-key.txt";
/// ID of the archived sample item "Stripe Legacy" in the Payments vault.
pub const LEGACY_ITEM_ID: &str = "p7w3kx0d2m9rq5tz1yb8ncf4ha";
/// Title of the archived item [`LEGACY_ITEM_ID`].
pub const LEGACY_ITEM_TITLE: &str = "Stripe Legacy";
/// Value of the "credential" field of the archived item Stripe Legacy.
pub const LEGACY_CREDENTIAL: &str = "sk_legacy_archived_1";
/// ID of the sample vault "Ops".
pub const OPS_VAULT_ID: &str = "z5fk2z9ri19r0wyojfljooa5lq";
/// Name of the sample vault [`OPS_VAULT_ID`].
pub const OPS_VAULT_NAME: &str = "Ops";
/// ID of the sample item "Deploy Key" in the Ops vault.
pub const DEPLOY_ITEM_ID: &str = "saj08xui6d39zzzzg4zdmen2kh";
/// Title of the sample item [`DEPLOY_ITEM_ID`].
pub const DEPLOY_ITEM_TITLE: &str = "Deploy Key";
/// ID of the "password" field of Deploy Key (1Password's own ID for it).
pub const PASSWORD_FIELD_ID: &str = "password";
/// Value of the "password" field of Deploy Key.
pub const DEPLOY_PASSWORD_VALUE: &str = "ops-deploy-value-1234";
/// ID of the one-time password field of Deploy Key (1Password names an
/// OTP field's ID `TOTP_…`).
pub const DEPLOY_OTP_FIELD_ID: &str = "TOTP_m4q7xk2c9vbn3lw8dr5tfy6hjz";
/// Label of the field [`DEPLOY_OTP_FIELD_ID`].
pub const DEPLOY_OTP_LABEL: &str = "one-time password";
/// The base32 secret of Deploy Key's one-time password (RFC 6238's SHA-1
/// seed, the ASCII digits "12345678901234567890").
pub const DEPLOY_OTP_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
/// ID of the "notesPlain" field every sample item has (1Password's own ID for it).
pub const NOTES_FIELD_ID: &str = "notesPlain";
/// Sample token that may read every vault.
pub const FULL_TOKEN: &str = "full-token";
/// Sample token that may read only the Payments vault.
pub const PAYMENTS_ONLY_TOKEN: &str = "payments-only-token";
/// `createdAt` and `updatedAt` of every vault the fake serves and of the sample items.
pub const SAMPLE_TIMESTAMP: &str = "2024-01-15T10:30:00Z";

/// Everything a fake Connect server serves.
#[derive(Clone, Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ConnectData {
    /// The vaults, in the order `GET /v1/vaults` lists them.
    pub vaults: Vec<FakeVault>,
    /// The bearer tokens the server accepts.
    pub tokens: Vec<FakeToken>,
}

/// One vault and its items.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FakeVault {
    /// 26 characters of `[a-z0-9]`, as 1Password IDs are.
    pub id: String,
    /// The name `name eq "..."` filters match.
    pub name: String,
    /// Full item objects, as `GET /v1/vaults/{v}/items/{i}` returns them,
    /// except that each of `files` holds its `content` in base64 (as
    /// Connect's `inline_files=true` does); the fake serves it raw from the
    /// content route, and fills in `size` and `content_path`. An item with
    /// `"state": "ARCHIVED"` is archived.
    pub items: Vec<Value>,
}

/// A bearer token the server accepts.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FakeToken {
    /// The token itself, as sent after `Bearer `.
    pub token: String,
    /// Vault IDs this token may read; None = every vault.
    pub vaults: Option<Vec<String>>,
}

impl ConnectData {
    /// A small documented sample: vault "Payments" with item "Stripe Sandbox"
    /// (field `credential` CONCEALED with the given value, a section "Webhooks" with a field
    /// "signing secret" = webhook_value, plus a `username` field, and a file
    /// "restricted-key.txt" whose content is the credential too) and the archived item
    /// "Stripe Legacy" (field `credential` = "sk_legacy_archived_1"), and a second vault
    /// "Ops" with an item "Deploy Key" (field `password` = "ops-deploy-value-1234", and
    /// a "one-time password" OTP field of [`DEPLOY_OTP_SECRET`], SHA1, 6 digits, 30 s).
    /// Tokens: "full-token" (all vaults) and "payments-only-token" (only Payments).
    pub fn sample(credential_value: &str, webhook_value: &str) -> ConnectData {
        let stripe = json!({
            "id": STRIPE_ITEM_ID,
            "title": STRIPE_ITEM_TITLE,
            "vault": {"id": PAYMENTS_VAULT_ID},
            "category": "API_CREDENTIAL",
            "version": 1,
            "tags": ["stripe"],
            "sections": [{"id": WEBHOOKS_SECTION_ID, "label": WEBHOOKS_SECTION_LABEL}],
            "fields": [
                {
                    "id": USERNAME_FIELD_ID,
                    "type": "STRING",
                    "label": "username",
                    "value": STRIPE_USERNAME,
                },
                {
                    "id": CREDENTIAL_FIELD_ID,
                    "type": "CONCEALED",
                    "label": "credential",
                    "value": credential_value,
                },
                {
                    "id": SIGNING_FIELD_ID,
                    "type": "CONCEALED",
                    "label": SIGNING_FIELD_LABEL,
                    "value": webhook_value,
                    "section": {"id": WEBHOOKS_SECTION_ID},
                },
                // Connect leaves `value` out of a field that is empty.
                {
                    "id": NOTES_FIELD_ID,
                    "type": "STRING",
                    "purpose": "NOTES",
                    "label": "notesPlain",
                },
            ],
            "files": [{
                "id": STRIPE_FILE_ID,
                "name": STRIPE_FILE_NAME,
                "content": BASE64.encode(credential_value),
            }],
            "createdAt": SAMPLE_TIMESTAMP,
            "updatedAt": SAMPLE_TIMESTAMP,
        });
        let legacy = json!({
            "id": LEGACY_ITEM_ID,
            "title": LEGACY_ITEM_TITLE,
            "vault": {"id": PAYMENTS_VAULT_ID},
            "category": "API_CREDENTIAL",
            "state": "ARCHIVED",
            "version": 2,
            "tags": ["legacy"],
            "sections": [],
            "fields": [{
                "id": CREDENTIAL_FIELD_ID,
                "type": "CONCEALED",
                "label": "credential",
                "value": LEGACY_CREDENTIAL,
            }],
            "createdAt": SAMPLE_TIMESTAMP,
            "updatedAt": SAMPLE_TIMESTAMP,
        });
        let deploy = json!({
            "id": DEPLOY_ITEM_ID,
            "title": DEPLOY_ITEM_TITLE,
            "vault": {"id": OPS_VAULT_ID},
            "category": "LOGIN",
            "version": 1,
            "tags": ["ops"],
            "sections": [],
            "fields": [
                {
                    "id": USERNAME_FIELD_ID,
                    "type": "STRING",
                    "purpose": "USERNAME",
                    "label": "username",
                    "value": "deploy",
                },
                {
                    "id": PASSWORD_FIELD_ID,
                    "type": "CONCEALED",
                    "purpose": "PASSWORD",
                    "label": "password",
                    "value": DEPLOY_PASSWORD_VALUE,
                },
                // As Connect holds a one-time password: the otpauth:// URI
                // is the value; the current code is added when served.
                {
                    "id": DEPLOY_OTP_FIELD_ID,
                    "type": "OTP",
                    "label": DEPLOY_OTP_LABEL,
                    "value": format!(
                        "otpauth://totp/Ops:deploy?secret={DEPLOY_OTP_SECRET}&issuer=Ops"
                    ),
                },
                {
                    "id": NOTES_FIELD_ID,
                    "type": "STRING",
                    "purpose": "NOTES",
                    "label": "notesPlain",
                },
            ],
            "createdAt": SAMPLE_TIMESTAMP,
            "updatedAt": SAMPLE_TIMESTAMP,
        });
        ConnectData {
            vaults: vec![
                FakeVault {
                    id: PAYMENTS_VAULT_ID.to_string(),
                    name: PAYMENTS_VAULT_NAME.to_string(),
                    items: vec![stripe, legacy],
                },
                FakeVault {
                    id: OPS_VAULT_ID.to_string(),
                    name: OPS_VAULT_NAME.to_string(),
                    items: vec![deploy],
                },
            ],
            tokens: vec![
                FakeToken {
                    token: FULL_TOKEN.to_string(),
                    vaults: None,
                },
                FakeToken {
                    token: PAYMENTS_ONLY_TOKEN.to_string(),
                    vaults: Some(vec![PAYMENTS_VAULT_ID.to_string()]),
                },
            ],
        }
    }
}

impl FakeVault {
    /// The vault as `GET /v1/vaults/{id}` returns it.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "description": "",
            "attributeVersion": 1,
            // Real vaults bump this on every item change; one per item stands in.
            "contentVersion": self.items.len() + 1,
            // Connect counts the active items only.
            "items": self.items.iter().filter(|item| !archived(item)).count(),
            "type": "USER_CREATED",
            "createdAt": SAMPLE_TIMESTAMP,
            "updatedAt": SAMPLE_TIMESTAMP,
        })
    }

    /// The item whose `id` is `item_id`, if any.
    pub(crate) fn item(&self, item_id: &str) -> Option<&Value> {
        self.items
            .iter()
            .find(|item| item.get("id").and_then(Value::as_str) == Some(item_id))
    }
}

impl FakeToken {
    /// Whether this token may read the vault `vault_id`.
    pub(crate) fn may_read(&self, vault_id: &str) -> bool {
        match &self.vaults {
            None => true,
            Some(vaults) => vaults.iter().any(|v| v == vault_id),
        }
    }
}

/// Whether `item` is archived (`"state": "ARCHIVED"`; Connect leaves
/// `state` out of an active item).
pub(crate) fn archived(item: &Value) -> bool {
    item.get("state").and_then(Value::as_str) == Some("ARCHIVED")
}

/// An item as the list route returns it: the full item without `fields`,
/// `sections` and `files` (an archived one keeps its `state`).
pub(crate) fn item_summary(item: &Value) -> Value {
    let mut summary = item.clone();
    if let Some(object) = summary.as_object_mut() {
        object.remove("fields");
        object.remove("sections");
        object.remove("files");
    }
    summary
}

/// An item as `GET /v1/vaults/{v}/items/{i}` returns it: each file without
/// its `content`, with its `size` and `content_path`; each OTP field with
/// its code at `now` (Unix seconds) as `totp`, unless `now` is None (as
/// Connect before 1.4.0 answered).
pub(crate) fn item_details(vault_id: &str, item: &Value, now: Option<u64>) -> Value {
    let mut details = item.clone();
    let fields = details.get_mut("fields").and_then(Value::as_array_mut);
    for field in fields.into_iter().flatten() {
        let otp = field.get("type").and_then(Value::as_str) == Some("OTP");
        let uri = field.get("value").and_then(Value::as_str);
        let code = now
            .zip(uri.filter(|_| otp))
            .and_then(|(t, uri)| totp_code(uri, t));
        if let (Some(code), Some(field)) = (code, field.as_object_mut()) {
            field.insert("totp".into(), Value::String(code));
        }
    }
    let item_id = item.get("id").and_then(Value::as_str).unwrap_or_default();
    let files = details.get_mut("files").and_then(Value::as_array_mut);
    for file in files.into_iter().flatten() {
        let size = file_content(file).map_or(0, |bytes| bytes.len());
        let Some(file) = file.as_object_mut() else {
            continue;
        };
        file.remove("content");
        let file_id = file.get("id").and_then(Value::as_str).unwrap_or_default();
        let path = format!("/v1/vaults/{vault_id}/items/{item_id}/files/{file_id}/content");
        file.insert("content_path".into(), Value::String(path));
        file.entry("size").or_insert_with(|| json!(size));
    }
    details
}

/// The file of `item` whose `id` is `file_id`, if any.
pub(crate) fn item_file<'a>(item: &'a Value, file_id: &str) -> Option<&'a Value> {
    let files = item.get("files").and_then(Value::as_array)?;
    files
        .iter()
        .find(|file| file.get("id").and_then(Value::as_str) == Some(file_id))
}

/// The bytes of `file`'s base64 `content` (none is empty), or None if it
/// is not base64.
pub(crate) fn file_content(file: &Value) -> Option<Vec<u8>> {
    match file.get("content").and_then(Value::as_str) {
        Some(content) => BASE64.decode(content).ok(),
        None => Some(Vec::new()),
    }
}
