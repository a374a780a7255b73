//! Admin > Secrets management and the audit log, as pages. Each action goes
//! through the same service functions as the JSON API.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::SecretString;
use serde::Deserialize;

use super::page::{self, AuditRow, Choice, RegisterForm, SecretRow};
use super::session::{Signed, refuse};
use super::{FormData, list_field, list_text, render};
use crate::api::secrets::{
    Change, NewSecret, NewValue, change_policy, delete, register, replace_value,
};
use crate::auth::Admin;
use crate::error::ApiError;
use crate::registry::{self, SecretPolicy};
use crate::state::AppState;

/// Every audit action, for the filter.
const ACTIONS: &[&str] = &[
    "secret.created",
    "secret.rotated",
    "secret.policy_changed",
    "secret.disabled",
    "secret.enabled",
    "secret.deleted",
    "secret.used",
    "key.rotated",
    "token.created",
    "token.revoked",
    "project.uploaded",
    "project.refused",
    "project.deleted",
    "run.refused",
    "run.cancelled",
];

fn row(s: &SecretPolicy) -> SecretRow {
    let or_any = |list: &Option<Vec<String>>, any: &str| {
        list.as_ref().map_or_else(
            || any.to_string(),
            |l| {
                if l.is_empty() {
                    "none".into()
                } else {
                    l.join(", ")
                }
            },
        )
    };
    SecretRow {
        name: s.name.clone(),
        description: s.description.clone(),
        held_by: match (&s.provider, &s.reference) {
            (Some(p), Some(r)) => format!("provider {p}: {r}"),
            (Some(p), None) => format!("provider {p}"),
            _ => "managed (encrypted here)".into(),
        },
        managed: s.provider.is_none(),
        journeys: or_any(&s.journeys, "every journey"),
        environments: or_any(&s.environments, "every environment"),
        hosts: or_any(&s.hosts, "anywhere"),
        journeys_input: list_text(&s.journeys),
        environments_input: list_text(&s.environments),
        hosts_input: list_text(&s.hosts),
        length_class: s.length_class.clone(),
        version: s.version,
        created: format!("{} by {}", s.created_at, s.created_by),
        rotated: s.rotated_at.clone().unwrap_or_else(|| "never".into()),
        last_used: match (&s.last_used_at, &s.last_used_by) {
            (Some(at), Some(run)) => format!("{at} by run {run}"),
            _ => "never".into(),
        },
        disabled: s.disabled,
    }
}

fn db_error(e: sqlx::Error) -> Response {
    ApiError::from(e).into_response()
}

async fn list_page(
    state: &AppState,
    signed: &Signed<Admin>,
    error: Option<String>,
    form: RegisterForm,
) -> Result<Response, Response> {
    let secrets = registry::all(&state.db).await.map_err(db_error)?;
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = page::Secrets {
        chrome: signed.chrome(),
        secrets: secrets.iter().map(row).collect(),
        error,
        form,
    };
    Ok((status, render(&page)).into_response())
}

/// `GET /admin/secrets`.
pub async fn secrets(
    State(state): State<AppState>,
    signed: Signed<Admin>,
) -> Result<Response, Response> {
    list_page(&state, &signed, None, RegisterForm::default()).await
}

/// `POST /admin/secrets`: register. After a refusal the form comes back
/// with what was typed, except the value, which is never re-rendered.
pub async fn register_secret(
    state: &AppState,
    signed: &Signed<Admin>,
    form: &FormData,
) -> Result<(), ApiError> {
    let body = NewSecret {
        name: form.get("name").trim().to_string(),
        description: form.get("description").trim().to_string(),
        value: Some(SecretString::from(form.get("value").to_string())),
        provider: None,
        reference: None,
        journeys: list_field(form.get("journeys")),
        environments: list_field(form.get("environments")),
        hosts: list_field(form.get("hosts")),
        allow_http: false,
    };
    register(state, &signed.caller, body).await
}

/// `POST /admin/secrets`.
pub async fn register_form(
    State(state): State<AppState>,
    signed: Signed<Admin>,
    form: FormData,
) -> Result<Response, Response> {
    signed.check(&form).map_err(IntoResponse::into_response)?;
    match register_secret(&state, &signed, &form).await {
        Ok(()) => Ok(Redirect::to(&format!(
            "/admin/secrets/{}?done=registered",
            form.get("name").trim()
        ))
        .into_response()),
        Err(e) => {
            let kept = RegisterForm {
                name: form.get("name").to_string(),
                description: form.get("description").to_string(),
                journeys: form.get("journeys").to_string(),
                environments: form.get("environments").to_string(),
                hosts: form.get("hosts").to_string(),
            };
            list_page(&state, &signed, Some(e.message), kept).await
        }
    }
}

/// `?done=` after an action.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    done: Option<String>,
}

async fn secret_page(
    state: &AppState,
    signed: &Signed<Admin>,
    name: &str,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Response, Response> {
    let Some(secret) = registry::one(&state.db, name).await.map_err(db_error)? else {
        return Err(refuse(StatusCode::NOT_FOUND, "There is no such secret."));
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = page::Secret {
        chrome: signed.chrome(),
        s: row(&secret),
        notice,
        error,
    };
    Ok((status, render(&page)).into_response())
}

/// `GET /admin/secrets/{name}`.
pub async fn secret(
    State(state): State<AppState>,
    signed: Signed<Admin>,
    Path(name): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, Response> {
    let notice = done.done.map(|d| match d.as_str() {
        "registered" => {
            "Registered. Its value is stored encrypted and will not be shown.".to_string()
        }
        "rotated" => "Value replaced: runs that start from now on use the new one.".to_string(),
        "policy" => "Policy saved.".to_string(),
        "disabled" => "Disabled: no run can use it.".to_string(),
        "enabled" => "Enabled.".to_string(),
        _ => "Done.".to_string(),
    });
    secret_page(&state, &signed, &name, notice, None).await
}

/// `POST /admin/secrets/{name}/{action}`: rotate, policy, disable, enable, delete.
pub async fn act(
    State(state): State<AppState>,
    signed: Signed<Admin>,
    Path((name, action)): Path<(String, String)>,
    form: FormData,
) -> Result<Response, Response> {
    signed.check(&form).map_err(IntoResponse::into_response)?;
    let caller = &signed.caller;
    let outcome = match action.as_str() {
        "rotate" => {
            let body = NewValue {
                value: SecretString::from(form.get("value").to_string()),
            };
            replace_value(&state, caller, &name, body)
                .await
                .map(|()| "rotated")
        }
        "policy" => {
            let list = |field: &str| {
                Some(
                    list_field(form.get(field))
                        .map_or(serde_json::Value::Null, serde_json::Value::from),
                )
            };
            let change = Change {
                description: Some(form.get("description").trim().to_string()),
                journeys: list("journeys"),
                environments: list("environments"),
                hosts: list("hosts"),
                allow_http: None,
                disabled: None,
            };
            change_policy(&state, caller, &name, change)
                .await
                .map(|()| "policy")
        }
        "disable" | "enable" => {
            let change = Change {
                description: None,
                journeys: None,
                environments: None,
                hosts: None,
                allow_http: None,
                disabled: Some(action == "disable"),
            };
            change_policy(&state, caller, &name, change)
                .await
                .map(|()| {
                    if action == "disable" {
                        "disabled"
                    } else {
                        "enabled"
                    }
                })
        }
        "delete" if form.get("confirm") == "yes" => {
            return match delete(&state, caller, &name).await {
                Ok(()) => Ok(Redirect::to("/admin/secrets").into_response()),
                Err(e) => secret_page(&state, &signed, &name, None, Some(e.message)).await,
            };
        }
        "delete" => Err(ApiError::bad_request(
            "tick the box to confirm the deletion",
        )),
        _ => return Err(refuse(StatusCode::NOT_FOUND, "There is no such action.")),
    };
    match outcome {
        Ok(done) => Ok(Redirect::to(&format!("/admin/secrets/{name}?done={done}")).into_response()),
        Err(e) => secret_page(&state, &signed, &name, None, Some(e.message)).await,
    }
}

/// `GET /admin/audit` filters.
#[derive(Debug, Default, Deserialize)]
pub struct AuditFilter {
    action: Option<String>,
    target: Option<String>,
}

/// `GET /admin/audit`.
pub async fn audit(
    State(state): State<AppState>,
    signed: Signed<Admin>,
    Query(filter): Query<AuditFilter>,
) -> Result<Response, Response> {
    let action = filter.action.filter(|a| !a.is_empty());
    let target = filter.target.filter(|t| !t.is_empty());
    let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT at, actor, action, target, detail FROM audit \
         WHERE ($1 IS NULL OR action = $1) AND ($2 IS NULL OR target = $2) ORDER BY id DESC LIMIT 500",
    )
    .bind(&action)
    .bind(&target)
    .fetch_all(&state.db)
    .await
    .map_err(db_error)?;
    let page = page::Audit {
        chrome: signed.chrome(),
        actions: ACTIONS
            .iter()
            .map(|a| Choice {
                value: a.to_string(),
                selected: action.as_deref() == Some(*a),
            })
            .collect(),
        target: target.unwrap_or_default(),
        entries: rows
            .into_iter()
            .map(|(at, actor, action, target, detail)| AuditRow {
                at,
                actor,
                action,
                target,
                detail,
            })
            .collect(),
    };
    Ok(render(&page))
}
