//! The template editor (builders): a new template from its method, URL,
//! headers and body, and an existing one's values changed in place (the
//! same byte-range edits, diff first and stale-page refusal as journeys).
//! A template is checked with every journey of the project before it is
//! stored, since any of them may use it; a literal that looks like a
//! credential is refused: a template holds `{{placeholders}}`, never a key.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::edit::{apply_to, text_of};
use super::page::{self, EditField};
use super::save::{check_every_journey, store};
use super::session::{Signed, refuse};
use super::{FormData, build, render};
use crate::auth::{Builder, hash_token};
use crate::credentials;
use crate::edit::{diff, leaves};
use crate::project::StoredProject;
use crate::state::AppState;

/// The methods the new-template form offers.
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

fn file_of(name: &str) -> String {
    format!("templates/{name}.yaml")
}

/// `GET /build/{project}/templates/new`.
pub async fn new_form(
    State(state): State<AppState>,
    signed: Signed<Builder>,
    Path(project): Path<String>,
) -> Result<Response, Response> {
    build::editable(&state, &project).await?;
    Ok(render(&new_page(
        &signed,
        &project,
        &FormData::default(),
        None,
        None,
    )))
}

fn new_page(
    signed: &Signed<Builder>,
    project: &str,
    form: &FormData,
    error: Option<String>,
    saved: Option<String>,
) -> page::TemplateNew {
    let method = match form.get("method") {
        "" => "GET",
        chosen => chosen,
    };
    // A refused credential is not shown again: those fields open empty.
    let keep = |name: &str| {
        let typed = form.get(name);
        if typed
            .lines()
            .any(|l| credentials::shaped_like_credential(l).is_some())
        {
            String::new()
        } else {
            typed.to_string()
        }
    };
    page::TemplateNew {
        chrome: signed.chrome(),
        project: project.to_string(),
        name: form.get("name").to_string(),
        methods: METHODS
            .iter()
            .map(|m| page::Choice {
                value: m.to_string(),
                selected: *m == method,
            })
            .collect(),
        url: keep("url"),
        headers: keep("headers"),
        body_kind: form.get("body_kind").to_string(),
        body: keep("body"),
        error,
        saved,
    }
}

/// Every string in `value`, for the paste guard.
fn strings(value: &serde_yaml::Value, out: &mut Vec<String>) {
    match value {
        serde_yaml::Value::String(s) => out.push(s.clone()),
        serde_yaml::Value::Sequence(list) => list.iter().for_each(|v| strings(v, out)),
        serde_yaml::Value::Mapping(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// The template the form describes, as YAML, or why not (naming the field).
fn template_yaml(form: &FormData, stored: &StoredProject) -> Result<(String, String), String> {
    let name = form.get("name").trim();
    if !build::plain_name(name) {
        return Err("Name: letters, digits, `-` and `_`.".into());
    }
    if stored.template_names().iter().any(|t| t == name) {
        return Err(format!(
            "Name: template `{name}` exists in this project; edit it, or choose another name."
        ));
    }
    let method = form.get("method");
    if !METHODS.contains(&method) {
        return Err("Method: choose one of the list.".into());
    }
    let url = form.get("url").trim();
    if url.is_empty() {
        return Err("URL: a template needs one, usually `{{base_url}}/…`.".into());
    }
    let mut out = serde_yaml::Mapping::new();
    out.insert("method".into(), method.into());
    out.insert("url".into(), url.into());
    let mut headers = serde_yaml::Mapping::new();
    for (n, line) in form.get("headers").lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((header, value)) = line.split_once(':') else {
            return Err(format!("Headers, line {}: write `Name: value`.", n + 1));
        };
        let header = header.trim();
        if header.is_empty()
            || !header
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        {
            return Err(format!(
                "Headers, line {}: `{header}` is not a header name.",
                n + 1
            ));
        }
        headers.insert(header.into(), value.trim().into());
    }
    if !headers.is_empty() {
        out.insert("headers".into(), serde_yaml::Value::Mapping(headers));
    }
    let body = form.get("body");
    match form.get("body_kind") {
        "" | "none" => {}
        "json" => {
            let json: serde_json::Value = serde_json::from_str(body).map_err(|e| {
                format!(
                    "Body, line {} column {}: not JSON ({}).",
                    e.line(),
                    e.column(),
                    json_problem(&e)
                )
            })?;
            let yaml = serde_yaml::to_value(json).map_err(|e| e.to_string())?;
            out.insert("json".into(), yaml);
        }
        "text" => {
            out.insert("body".into(), body.into());
        }
        _ => return Err("Body: choose none, JSON or text.".into()),
    }
    let doc = serde_yaml::Value::Mapping(out);
    let mut texts = Vec::new();
    strings(&doc, &mut texts);
    for text in &texts {
        if let Some(what) = literal_credential(text) {
            return Err(format!(
                "This looks like a credential ({what}). A template holds `{{{{placeholders}}}}`, never a key: write `{{{{key}}}}` and give the journey a secret by name."
            ));
        }
    }
    let yaml = serde_yaml::to_string(&doc).map_err(|e| e.to_string())?;
    Ok((name.to_string(), yaml))
}

/// Whether the literal words of a template's text (placeholders are where
/// values go) look like a credential, and why.
fn literal_credential(text: &str) -> Option<&'static str> {
    without_placeholders(text)
        .split([' ', '\n'])
        .find_map(credentials::shaped_like_credential)
}

/// `text` with each `{{…}}` taken out (a space in its place).
fn without_placeholders(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        out.push(' ');
        match rest[open..].find("}}") {
            Some(close) => rest = &rest[open + close + 2..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// What kind of JSON error, in words.
fn json_problem(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "a syntax error",
        serde_json::error::Category::Data => "a value of the wrong kind",
        serde_json::error::Category::Eof => "it ends too early",
    }
}

/// `POST /build/{project}/templates/new`: check and save a new template.
pub async fn create(
    State(state): State<AppState>,
    signed: Signed<Builder>,
    Path(project): Path<String>,
    form: FormData,
) -> Result<Response, Response> {
    signed.check(&form).map_err(IntoResponse::into_response)?;
    let stored = build::editable(&state, &project).await?;
    let refuse_with = |why: String| {
        let page = new_page(&signed, &project, &form, Some(why), None);
        (StatusCode::BAD_REQUEST, render(&page)).into_response()
    };
    let (name, yaml) = match template_yaml(&form, &stored) {
        Ok(made) => made,
        Err(why) => return Ok(refuse_with(why)),
    };
    if let Err(refusal) = check_every_journey(&state, &stored, &file_of(&name), &yaml).await? {
        return Ok(refuse_with(refusal.message));
    }
    if !store(&state, &signed, &project, &file_of(&name), &stored, &yaml).await? {
        return Ok(refuse_with(
            "The project changed while saving; nothing was written. Try again.".into(),
        ));
    }
    let page = new_page(&signed, &project, &FormData::default(), None, Some(yaml));
    Ok(render(&page))
}

/// What an edit page of a template shows besides its values.
struct Shown {
    diff: Option<String>,
    confirming: bool,
    /// A check's error at the field it names (`f:` and the path).
    field_error: Option<(String, String)>,
    error: Option<String>,
    notice: Option<String>,
}

fn edit_page(
    signed: &Signed<Builder>,
    project: &str,
    name: &str,
    text: &str,
    form: Option<&FormData>,
    shown: Shown,
) -> page::TemplateEdit {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).unwrap_or(serde_yaml::Value::Null);
    let fields = leaves(&doc)
        .into_iter()
        .enumerate()
        .map(|(i, (path, value))| {
            let field = format!("f:{}", path.join("/"));
            let value = form.map_or_else(
                || text_of(&value),
                |f| {
                    let typed = f.get(&field);
                    // A refused credential is not shown again.
                    match credentials::shaped_like_credential(typed) {
                        Some(_) => String::new(),
                        None => typed.to_string(),
                    }
                },
            );
            EditField {
                id: format!("field-{i}"),
                error: shown
                    .field_error
                    .as_ref()
                    .filter(|(at, _)| *at == field)
                    .map(|(_, why)| why.clone()),
                name: field,
                label: path.join("."),
                value,
                secrets: Vec::new(),
            }
        })
        .collect();
    page::TemplateEdit {
        chrome: signed.chrome(),
        project: project.to_string(),
        name: name.to_string(),
        base: hash_token(text),
        fields,
        confirming: shown.confirming && shown.diff.is_some(),
        diff: shown.diff,
        error: shown.error,
        notice: shown.notice,
    }
}

async fn template_text(
    state: &AppState,
    project: &str,
    name: &str,
) -> Result<(StoredProject, String), Response> {
    let stored = build::editable(state, project).await?;
    let text = stored
        .files
        .get(&file_of(name))
        .cloned()
        .ok_or_else(|| refuse(StatusCode::NOT_FOUND, "There is no such template."))?;
    Ok((stored, text))
}

/// `GET /build/{project}/templates/{name}`.
pub async fn edit(
    State(state): State<AppState>,
    signed: Signed<Builder>,
    Path((project, name)): Path<(String, String)>,
) -> Result<Response, Response> {
    let (_, text) = template_text(&state, &project, &name).await?;
    let shown = Shown {
        diff: None,
        confirming: false,
        field_error: None,
        error: None,
        notice: None,
    };
    Ok(render(&edit_page(
        &signed, &project, &name, &text, None, shown,
    )))
}

/// `POST /build/{project}/templates/{name}`: show the changes, or (with
/// `confirm`) check them with every journey and save them.
pub async fn save(
    State(state): State<AppState>,
    signed: Signed<Builder>,
    Path((project, name)): Path<(String, String)>,
    form: FormData,
) -> Result<Response, Response> {
    signed.check(&form).map_err(IntoResponse::into_response)?;
    let (stored, text) = template_text(&state, &project, &name).await?;
    let answer = |status: StatusCode, shown: Shown, keep: bool| {
        let page = edit_page(
            &signed,
            &project,
            &name,
            &text,
            keep.then_some(&form),
            shown,
        );
        (status, render(&page)).into_response()
    };
    let refused = |why: &str| Shown {
        diff: None,
        confirming: false,
        field_error: None,
        error: Some(why.to_string()),
        notice: None,
    };
    if form.get("base") != hash_token(&text) {
        let why = "The template changed since this page was read. Its values are shown as they are now; make your change again.";
        return Ok(answer(StatusCode::CONFLICT, refused(why), false));
    }
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap_or(serde_yaml::Value::Null);
    let edited = match apply_to(&text, &form, leaves(&doc), literal_credential) {
        Ok(edited) => edited,
        Err(why) => return Ok(answer(StatusCode::BAD_REQUEST, refused(&why), true)),
    };
    if edited == text {
        let shown = Shown {
            diff: None,
            confirming: false,
            field_error: None,
            error: None,
            notice: Some("Nothing changed.".into()),
        };
        return Ok(answer(StatusCode::OK, shown, false));
    }
    let changes = diff(&text, &edited);
    if form.get("confirm") != "yes" {
        let shown = Shown {
            diff: Some(changes),
            confirming: true,
            field_error: None,
            error: None,
            notice: None,
        };
        return Ok(answer(StatusCode::OK, shown, true));
    }
    if let Err(refusal) = check_every_journey(&state, &stored, &file_of(&name), &edited).await? {
        let shown = Shown {
            diff: Some(changes),
            confirming: true,
            field_error: refusal.field(),
            error: Some(refusal.message),
            notice: None,
        };
        return Ok(answer(StatusCode::BAD_REQUEST, shown, true));
    }
    if !store(&state, &signed, &project, &file_of(&name), &stored, &edited).await? {
        let why = "The project changed while saving; nothing was written. Reload and make your change again.";
        return Ok(answer(StatusCode::CONFLICT, refused(why), false));
    }
    let shown = Shown {
        diff: Some(changes),
        confirming: false,
        field_error: None,
        error: None,
        notice: Some("Saved.".into()),
    };
    Ok(render(&edit_page(
        &signed, &project, &name, &edited, None, shown,
    )))
}
