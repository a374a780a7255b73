//! Admin > Secrets management: register, list, show, change policy, rotate,
//! disable, delete; and master key rotation. A value goes in and never
//! comes out: no answer, log line or audit entry holds it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState, Body, json as answer, missing, record};
use crate::auth::{Admin, Authorized, Caller};
use crate::db::now;
use crate::keys::Sealed;
use crate::registry::{self, length_class};
use reqflo_core::secret::MIN_SECRET_BYTES;

/// `POST /api/secrets`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSecret {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) description: String,
    /// Write-only; zeroed when dropped. Or `provider` and `reference`.
    pub(crate) value: Option<SecretString>,
    /// A provider in server.yaml that holds the value.
    pub(crate) provider: Option<String>,
    /// The reference into that provider (default: the name).
    pub(crate) reference: Option<String>,
    pub(crate) journeys: Option<Vec<String>>,
    pub(crate) environments: Option<Vec<String>>,
    pub(crate) hosts: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) allow_http: bool,
}

/// `PUT /api/secrets/{name}/value`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewValue {
    pub(crate) value: SecretString,
}

/// `PATCH /api/secrets/{name}`: absent fields stay; `null` for a list
/// means "no limit".
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub(crate) description: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) journeys: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) environments: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) hosts: Option<Value>,
    pub(crate) allow_http: Option<bool>,
    pub(crate) disabled: Option<bool>,
}

/// A field that is present, even as `null`, is `Some`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "`name`: letters, digits, `_`, `-` and `.`, starting with a letter or `_`, at most 128",
        ))
    }
}

fn check_value(value: &SecretString) -> Result<(), ApiError> {
    let len = value.expose_secret().len();
    if len < MIN_SECRET_BYTES {
        return Err(ApiError::bad_request(format!(
            "`value` is too short to redact: at least {MIN_SECRET_BYTES} bytes (a shorter one would mask ordinary text everywhere, which reveals it)"
        )));
    }
    if len > 64 * 1024 {
        return Err(ApiError::bad_request("`value` is longer than 64 KiB"));
    }
    Ok(())
}

fn check_list(field: &str, list: &Option<Vec<String>>) -> Result<(), ApiError> {
    for item in list.iter().flatten() {
        if item.is_empty() || item.len() > 200 || item.chars().any(char::is_control) {
            return Err(ApiError::bad_request(format!(
                "`{field}`: every item must be 1 to 200 printable characters"
            )));
        }
        if field != "hosts" {
            globset::Glob::new(item)
                .map_err(|e| ApiError::bad_request(format!("`{field}`: {e}")))?;
        }
    }
    Ok(())
}

fn list_json(list: &Option<Vec<String>>) -> Option<String> {
    list.as_ref().map(|l| Value::from(l.clone()).to_string())
}

/// `POST /api/secrets`: register a managed secret (version 1).
pub async fn create(
    State(state): State<AppState>,
    caller: Authorized<Admin>,
    Body(body): Body<NewSecret>,
) -> Result<Response, ApiError> {
    let name = body.name.clone();
    register(&state, &caller, body).await?;
    show_one(&state, &name, StatusCode::CREATED).await
}

/// Register a secret (the API's and the UI's).
pub(crate) async fn register(
    state: &AppState,
    caller: &Caller,
    body: NewSecret,
) -> Result<(), ApiError> {
    check_name(&body.name)?;
    check_list("journeys", &body.journeys)?;
    check_list("environments", &body.environments)?;
    check_list("hosts", &body.hosts)?;
    let held_by = match (&body.value, &body.provider) {
        (Some(value), None) => {
            check_value(value)?;
            None
        }
        (None, Some(provider)) => {
            if !state.config.providers.contains_key(provider.as_str()) {
                let names: Vec<&str> = state
                    .config
                    .providers
                    .keys()
                    .filter_map(|k| k.as_str())
                    .collect();
                return Err(ApiError::bad_request(format!(
                    "`provider`: no provider `{provider}` in server.yaml (providers: {})",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                )));
            }
            Some(provider.clone())
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give a `value` or a `provider` (and `reference`), not both",
            ));
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "give a `value`, or a `provider` (and `reference`) that holds it",
            ));
        }
    };
    if body.reference.is_some() && held_by.is_none() {
        return Err(ApiError::bad_request("`reference` goes with `provider`"));
    }
    if registry::one(&state.db, &body.name).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "secret `{}` exists; rotate it with PUT /api/secrets/{}/value",
            body.name, body.name
        )));
    }
    let sealed = match &body.value {
        Some(value) => Some(
            state
                .keys
                .read()
                .await
                .seal(&body.name, 1, value.expose_secret().as_bytes())
                .await?,
        ),
        None => None,
    };
    let length = match &body.value {
        Some(value) => length_class(value.expose_secret().len()),
        None => "held by its provider".to_string(),
    };
    let at = now();
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO secrets (name, description, journeys, environments, hosts, allow_http, disabled, provider, reference, version, length_class, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, 1, $9, $10, $11)",
    )
    .bind(&body.name)
    .bind(&body.description)
    .bind(list_json(&body.journeys))
    .bind(list_json(&body.environments))
    .bind(list_json(&body.hosts))
    .bind(i64::from(body.allow_http))
    .bind(&held_by)
    .bind(&body.reference)
    .bind(length)
    .bind(&at)
    .bind(caller.actor())
    .execute(&mut *tx)
    .await?;
    if let Some(sealed) = &sealed {
        insert_version(&mut tx, &body.name, 1, sealed, &at).await?;
    }
    tx.commit().await?;
    record(
        &state.db,
        &caller.actor(),
        "secret.created",
        &body.name,
        json!({"journeys": body.journeys, "environments": body.environments, "hosts": body.hosts,
               "allow_http": body.allow_http, "provider": held_by, "reference": body.reference}),
    )
    .await?;
    Ok(())
}

async fn insert_version(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    name: &str,
    version: i64,
    sealed: &Sealed,
    at: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO secret_versions (name, version, kek_id, wrapped_key, ciphertext, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(name)
        .bind(version)
        .bind(&sealed.kek_id)
        .bind(&sealed.wrapped_key)
        .bind(&sealed.ciphertext)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn show_one(state: &AppState, name: &str, status: StatusCode) -> Result<Response, ApiError> {
    let entry = registry::one(&state.db, name)
        .await?
        .ok_or_else(|| missing("secret", name))?;
    Ok(answer(status, json!(entry)))
}

/// `GET /api/secrets`: names and metadata, never values.
pub async fn list(
    State(state): State<AppState>,
    _caller: Authorized<Admin>,
) -> Result<Response, ApiError> {
    let secrets = registry::all(&state.db).await?;
    Ok(answer(StatusCode::OK, json!({ "secrets": secrets })))
}

/// `GET /api/secrets/{name}`.
pub async fn show(
    State(state): State<AppState>,
    _caller: Authorized<Admin>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    show_one(&state, &name, StatusCode::OK).await
}

/// `PUT /api/secrets/{name}/value`: a new version. Runs already running
/// keep the value they decrypted; runs that start later get this one. The
/// old version is deleted.
pub async fn rotate(
    State(state): State<AppState>,
    caller: Authorized<Admin>,
    Path(name): Path<String>,
    Body(body): Body<NewValue>,
) -> Result<Response, ApiError> {
    replace_value(&state, &caller, &name, body).await?;
    show_one(&state, &name, StatusCode::OK).await
}

/// Rotate a managed value.
pub(crate) async fn replace_value(
    state: &AppState,
    caller: &Caller,
    name: &str,
    body: NewValue,
) -> Result<(), ApiError> {
    check_value(&body.value)?;
    let entry = registry::one(&state.db, name)
        .await?
        .ok_or_else(|| missing("secret", name))?;
    if let Some(provider) = &entry.provider {
        return Err(ApiError::conflict(format!(
            "secret `{name}` is held by provider `{provider}`: rotate it there"
        )));
    }
    let version = entry.version + 1;
    let sealed = state
        .keys
        .read()
        .await
        .seal(name, version, body.value.expose_secret().as_bytes())
        .await?;
    let at = now();
    let mut tx = state.db.begin().await?;
    insert_version(&mut tx, name, version, &sealed, &at).await?;
    sqlx::query(
        "UPDATE secrets SET version = $1, rotated_at = $2, length_class = $3 WHERE name = $4",
    )
    .bind(version)
    .bind(&at)
    .bind(length_class(body.value.expose_secret().len()))
    .bind(name)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM secret_versions WHERE name = $1 AND version < $2")
        .bind(name)
        .bind(version)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    record(
        &state.db,
        &caller.actor(),
        "secret.rotated",
        name,
        json!({"version": version}),
    )
    .await?;
    Ok(())
}

fn list_change(
    field: &str,
    value: &Option<Value>,
) -> Result<Option<Option<Vec<String>>>, ApiError> {
    match value {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(v) => {
            let list: Vec<String> = serde_json::from_value(v.clone()).map_err(|_| {
                ApiError::bad_request(format!("`{field}` must be a list of strings or null"))
            })?;
            let list = Some(list);
            check_list(field, &list)?;
            Ok(Some(list))
        }
    }
}

/// `PATCH /api/secrets/{name}`: description, policy, disabled.
pub async fn update(
    State(state): State<AppState>,
    caller: Authorized<Admin>,
    Path(name): Path<String>,
    Body(change): Body<Change>,
) -> Result<Response, ApiError> {
    change_policy(&state, &caller, &name, change).await?;
    show_one(&state, &name, StatusCode::OK).await
}

/// Change description, policy or disabled.
pub(crate) async fn change_policy(
    state: &AppState,
    caller: &Caller,
    name: &str,
    change: Change,
) -> Result<(), ApiError> {
    let before = registry::one(&state.db, name)
        .await?
        .ok_or_else(|| missing("secret", name))?;
    let journeys = list_change("journeys", &change.journeys)?.unwrap_or(before.journeys.clone());
    let environments =
        list_change("environments", &change.environments)?.unwrap_or(before.environments.clone());
    let hosts = list_change("hosts", &change.hosts)?.unwrap_or(before.hosts.clone());
    let description = change
        .description
        .clone()
        .unwrap_or(before.description.clone());
    let allow_http = change.allow_http.unwrap_or(before.allow_http);
    let disabled = change.disabled.unwrap_or(before.disabled);
    sqlx::query("UPDATE secrets SET description = $1, journeys = $2, environments = $3, hosts = $4, allow_http = $5, disabled = $6 WHERE name = $7")
        .bind(&description)
        .bind(list_json(&journeys))
        .bind(list_json(&environments))
        .bind(list_json(&hosts))
        .bind(i64::from(allow_http))
        .bind(i64::from(disabled))
        .bind(name)
        .execute(&state.db)
        .await?;
    let action = match (before.disabled, disabled) {
        (false, true) => "secret.disabled",
        (true, false) => "secret.enabled",
        _ => "secret.policy_changed",
    };
    record(
        &state.db,
        &caller.actor(),
        action,
        name,
        json!({
            "before": {"journeys": before.journeys, "environments": before.environments, "hosts": before.hosts, "allow_http": before.allow_http, "disabled": before.disabled},
            "after": {"journeys": journeys, "environments": environments, "hosts": hosts, "allow_http": allow_http, "disabled": disabled},
        }),
    )
    .await?;
    Ok(())
}

/// `DELETE /api/secrets/{name}`: the secret and every version of its value.
pub async fn remove(
    State(state): State<AppState>,
    caller: Authorized<Admin>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    delete(&state, &caller, &name).await?;
    Ok(answer(
        StatusCode::OK,
        json!({"name": name, "deleted": true}),
    ))
}

/// Delete a secret and its versions.
pub(crate) async fn delete(state: &AppState, caller: &Caller, name: &str) -> Result<(), ApiError> {
    let done = sqlx::query("DELETE FROM secrets WHERE name = $1")
        .bind(name)
        .execute(&state.db)
        .await?;
    if done.rows_affected() == 0 {
        return Err(missing("secret", name));
    }
    record(
        &state.db,
        &caller.actor(),
        "secret.deleted",
        name,
        json!({}),
    )
    .await?;
    Ok(())
}

/// One stored version of a value, sealed.
#[derive(sqlx::FromRow)]
struct VersionRow {
    name: String,
    version: i64,
    kek_id: String,
    wrapped_key: Vec<u8>,
    ciphertext: Vec<u8>,
}

/// `POST /api/keys/rotate`: a new master key; every data key is re-wrapped
/// under it in one transaction (values are never decrypted), then the new
/// key file replaces the old. An interrupted rotation resumes on the next.
pub async fn rotate_master_key(
    State(state): State<AppState>,
    caller: Authorized<Admin>,
) -> Result<Response, ApiError> {
    let mut keys = state.keys.write().await;
    let from = keys.current_id();
    let to = keys.begin_rotation().await?;
    let rows: Vec<VersionRow> = sqlx::query_as(
        "SELECT name, version, kek_id, wrapped_key, ciphertext FROM secret_versions",
    )
    .fetch_all(&state.db)
    .await?;
    let mut tx = state.db.begin().await?;
    for row in &rows {
        let (name, version) = (&row.name, row.version);
        let sealed = Sealed {
            kek_id: row.kek_id.clone(),
            wrapped_key: row.wrapped_key.clone(),
            ciphertext: row.ciphertext.clone(),
        };
        let rewrapped = keys.rewrap(name, version, &sealed).await?;
        sqlx::query("UPDATE secret_versions SET kek_id = $1, wrapped_key = $2 WHERE name = $3 AND version = $4")
            .bind(&rewrapped.kek_id)
            .bind(&rewrapped.wrapped_key)
            .bind(name)
            .bind(version)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    keys.finish_rotation()?;
    drop(keys);
    record(
        &state.db,
        &caller.actor(),
        "key.rotated",
        "master key",
        json!({"from": from, "to": to, "rewrapped": rows.len()}),
    )
    .await?;
    Ok(answer(
        StatusCode::OK,
        json!({"from": from, "to": to, "rewrapped": rows.len()}),
    ))
}

/// `POST /api/secrets/{name}/test`: does it resolve now? ok / not found /
/// disabled / failed, with the value's length class; never the value.
pub async fn test(
    State(state): State<AppState>,
    caller: Authorized<Admin>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let found = crate::probe::probe(&state, &caller, &name).await?;
    Ok(answer(StatusCode::OK, json!(found)))
}
