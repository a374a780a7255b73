//! The pages' templates (`runner/server/templates/`), with what each shows.
//! Every field is metadata or redacted text: none can hold a value.

use askama::Template;

use super::Chrome;

/// `login.html`.
#[derive(Template)]
#[template(path = "login.html")]
pub struct Login<'a> {
    /// The frame.
    pub chrome: Chrome,
    /// Why the last attempt failed.
    pub error: Option<&'a str>,
}

/// `message.html`: an error or notice page.
#[derive(Template)]
#[template(path = "message.html")]
pub struct Message<'a> {
    /// The frame.
    pub chrome: Chrome,
    /// The heading.
    pub heading: &'a str,
    /// What happened.
    pub message: &'a str,
}

/// One secret as the pages show it.
pub struct SecretRow {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// "managed" or the provider's name and reference.
    pub held_by: String,
    /// Whether the server holds the value (it can be rotated here).
    pub managed: bool,
    /// Journeys allowed, as text.
    pub journeys: String,
    /// Environments allowed, as text.
    pub environments: String,
    /// Hosts allowed, as text.
    pub hosts: String,
    /// The policy fields as form input.
    pub journeys_input: String,
    /// The policy fields as form input.
    pub environments_input: String,
    /// The policy fields as form input.
    pub hosts_input: String,
    /// The value's length class.
    pub length_class: String,
    /// The current version.
    pub version: i64,
    /// When registered, by whom.
    pub created: String,
    /// When last rotated.
    pub rotated: String,
    /// When last used, by which run.
    pub last_used: String,
    /// Whether it is disabled.
    pub disabled: bool,
}

/// What the register form keeps after a refusal: never the value.
#[derive(Default)]
pub struct RegisterForm {
    /// The name typed.
    pub name: String,
    /// The description typed.
    pub description: String,
    /// Journeys typed.
    pub journeys: String,
    /// Environments typed.
    pub environments: String,
    /// Hosts typed.
    pub hosts: String,
}

/// `secrets.html`: Admin > Secrets management.
#[derive(Template)]
#[template(path = "secrets.html")]
pub struct Secrets {
    /// The frame.
    pub chrome: Chrome,
    /// Every secret.
    pub secrets: Vec<SecretRow>,
    /// Why the last register failed.
    pub error: Option<String>,
    /// What the register form had (never the value).
    pub form: RegisterForm,
}

/// `secret.html`: one secret's page.
#[derive(Template)]
#[template(path = "secret.html")]
pub struct Secret {
    /// The frame.
    pub chrome: Chrome,
    /// The secret.
    pub s: SecretRow,
    /// What the last action did.
    pub notice: Option<String>,
    /// Why the last action failed.
    pub error: Option<String>,
}

/// An option of a filter.
pub struct Choice {
    /// Its value.
    pub value: String,
    /// Whether it is the one chosen.
    pub selected: bool,
}

/// One audit entry.
pub struct AuditRow {
    /// When.
    pub at: String,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub target: String,
    /// Details (JSON; never a value).
    pub detail: String,
}

/// `audit.html`.
#[derive(Template)]
#[template(path = "audit.html")]
pub struct Audit {
    /// The frame.
    pub chrome: Chrome,
    /// The action filter.
    pub actions: Vec<Choice>,
    /// The target filter.
    pub target: String,
    /// The entries.
    pub entries: Vec<AuditRow>,
}

/// One project in the list.
pub struct ProjectRow {
    /// Its name.
    pub name: String,
    /// Its journeys, as text.
    pub journeys: String,
    /// Its environments, as text.
    pub environments: String,
    /// Uploaded by whom, or served from which folder.
    pub origin: String,
}

/// `projects.html`.
#[derive(Template)]
#[template(path = "projects.html")]
pub struct Projects {
    /// The frame.
    pub chrome: Chrome,
    /// Every project.
    pub projects: Vec<ProjectRow>,
}

/// A project file as shown.
pub struct FileView {
    /// Its path.
    pub path: String,
    /// Its text.
    pub text: String,
}

/// `project.html`: its journeys, files, and a form to start a run.
#[derive(Template)]
#[template(path = "project.html")]
pub struct Project {
    /// The frame.
    pub chrome: Chrome,
    /// Its name.
    pub name: String,
    /// Where it comes from.
    pub origin: String,
    /// Its journeys.
    pub journeys: Vec<String>,
    /// Its templates.
    pub templates: Vec<String>,
    /// Its environments.
    pub environments: Vec<String>,
    /// Its files.
    pub files: Vec<FileView>,
    /// Why the last run could not start.
    pub error: Option<String>,
    /// Whether it was uploaded (a served folder is edited where it lives).
    pub editable: bool,
}

/// One run in the history.
pub struct RunRow {
    /// Its id.
    pub id: String,
    /// Its project.
    pub project: String,
    /// Its journeys, as text.
    pub journeys: String,
    /// Its environment.
    pub environment: String,
    /// Its status.
    pub status: String,
    /// Who started it.
    pub actor: String,
    /// When.
    pub created: String,
}

/// `runs.html`: the history, with filters.
#[derive(Template)]
#[template(path = "runs.html")]
pub struct Runs {
    /// The frame.
    pub chrome: Chrome,
    /// Outcome filter.
    pub statuses: Vec<Choice>,
    /// Project filter.
    pub project: String,
    /// Journey filter.
    pub journey: String,
    /// Environment filter.
    pub environment: String,
    /// Who filter.
    pub actor: String,
    /// The runs.
    pub runs: Vec<RunRow>,
}

/// One step as shown.
pub struct StepView {
    /// Its id.
    pub id: String,
    /// How it ended.
    pub outcome: String,
    /// Method and URL.
    pub request: String,
    /// The response status.
    pub status: String,
    /// How long.
    pub duration: String,
    /// Why it failed, and remarks.
    pub problems: Vec<String>,
    /// The request and response as text (redacted by the run).
    pub dump: String,
}

/// `run_steps.html`: the live part of a run's page.
#[derive(Template)]
#[template(path = "run_steps.html")]
pub struct RunSteps {
    /// The run's id.
    pub id: String,
    /// Its status.
    pub status: String,
    /// Its exit code, once ended.
    pub exit_code: Option<i64>,
    /// Its error (redacted).
    pub error: Option<String>,
    /// Its steps so far.
    pub steps: Vec<StepView>,
    /// Whether it is still queued or running (the part polls itself).
    pub live: bool,
}

/// `run.html`.
#[derive(Template)]
#[template(path = "run.html")]
pub struct Run {
    /// The frame.
    pub chrome: Chrome,
    /// Its id.
    pub id: String,
    /// Its project.
    pub project: String,
    /// Its journeys.
    pub journeys: String,
    /// Its environment.
    pub environment: String,
    /// Who started it.
    pub actor: String,
    /// When.
    pub created: String,
    /// The process that ran it (empty until one claimed it).
    pub worker: String,
    /// Which attempt (more than 1 after a `rerun: safe` run was run again).
    pub attempt: i64,
    /// The live part, rendered.
    pub steps: String,
    /// Whether it is still queued or running (it can be cancelled).
    pub live: bool,
}

/// A step as first described: its id and template.
pub struct StepDraft {
    /// Its place (0-based), naming its form fields.
    pub index: usize,
    /// Its id.
    pub id: String,
    /// Its template's name.
    pub template: String,
}

/// `build_steps.html`: a new journey's name, environment and steps.
#[derive(Template)]
#[template(path = "build_steps.html")]
pub struct BuildSteps {
    /// The frame.
    pub chrome: Chrome,
    /// The project.
    pub project: String,
    /// The journey's name so far.
    pub journey: String,
    /// The project's environments.
    pub environments: Vec<Choice>,
    /// The project's templates.
    pub templates: Vec<String>,
    /// The steps so far.
    pub steps: Vec<StepDraft>,
    /// What is wrong with them.
    pub error: Option<String>,
}

/// An option of a picker.
pub struct SourceOption {
    /// Its value.
    pub value: String,
    /// What it says (with the reason when disabled).
    pub label: String,
    /// Offered but not choosable.
    pub disabled: bool,
    /// Chosen.
    pub selected: bool,
}

/// One placeholder's value source control.
pub struct PlaceholderView {
    /// The form fields' prefix.
    pub key: String,
    /// The placeholder.
    pub name: String,
    /// The kinds of source.
    pub sources: Vec<SourceOption>,
    /// A literal typed.
    pub literal: String,
    /// An input's name typed.
    pub input: String,
    /// The secret picker.
    pub secrets: Vec<SourceOption>,
    /// The capture picker (captures of earlier steps).
    pub captures: Vec<SourceOption>,
    /// What the check said about this value.
    pub error: Option<String>,
}

/// One step's values.
pub struct StepValues {
    /// Its place.
    pub index: usize,
    /// Its id.
    pub id: String,
    /// Its template.
    pub template: String,
    /// Where its request goes, in the chosen environment.
    pub host: String,
    /// Its placeholders.
    pub fields: Vec<PlaceholderView>,
    /// Its captures, `name = $.path` lines.
    pub captures: String,
    /// Its expected status.
    pub status: String,
}

/// `build_values.html`: where each placeholder's value comes from.
#[derive(Template)]
#[template(path = "build_values.html")]
pub struct BuildValues {
    /// The frame.
    pub chrome: Chrome,
    /// The project.
    pub project: String,
    /// The journey's name.
    pub journey: String,
    /// The environment the pickers answer for.
    pub environment: String,
    /// How many steps.
    pub count: usize,
    /// The steps.
    pub steps: Vec<StepValues>,
    /// What the check said.
    pub error: Option<String>,
    /// The YAML written, once saved.
    pub saved: Option<String>,
}

/// One value of an existing journey, editable in place.
pub struct EditField {
    /// The element's id.
    pub id: String,
    /// The form field's name (`f:` and the YAML path).
    pub name: String,
    /// What it is (the path, readable).
    pub label: String,
    /// Its value now (or as typed).
    pub value: String,
    /// For a secret's name: the picker; empty otherwise.
    pub secrets: Vec<SourceOption>,
    /// What the check said about this value.
    pub error: Option<String>,
}

/// `build_edit.html`: an existing journey's values, changed in place.
#[derive(Template)]
#[template(path = "build_edit.html")]
pub struct BuildEdit {
    /// The frame.
    pub chrome: Chrome,
    /// The project.
    pub project: String,
    /// The journey.
    pub journey: String,
    /// The hash of the file as it was read (a save refuses another).
    pub base: String,
    /// Its values.
    pub fields: Vec<EditField>,
    /// The lines that would change (shown before saving), or that did.
    pub diff: Option<String>,
    /// Whether the diff waits for "Save these changes".
    pub confirming: bool,
    /// What went wrong.
    pub error: Option<String>,
    /// What happened.
    pub notice: Option<String>,
    /// Its steps, to add, remove and move.
    pub steps: Vec<StepRow>,
    /// A change to the steps waiting for "Save these changes"
    /// (`up:1`, `remove:0`, `add`), or empty.
    pub pending: String,
    /// The step being added: its value sources.
    pub adding: Option<StepValues>,
    /// The project's templates, for a new step.
    pub templates: Vec<String>,
    /// The environments the new step's pickers may answer for.
    pub environments: Vec<Choice>,
    /// The environment they answer for.
    pub environment: String,
    /// The new step's id as typed.
    pub add_id: String,
    /// What may be added to a step (a capture, an expectation).
    pub entry_kinds: Vec<SourceOption>,
    /// The step chosen for it (its place), as typed.
    pub entry_step: String,
    /// Its name or JSONPath, as typed.
    pub entry_name: String,
    /// Its value, as typed.
    pub entry_value: String,
}

/// A step of a journey being edited.
pub struct StepRow {
    /// Its place (0-based).
    pub index: usize,
    /// Its id, or its place when it has none.
    pub id: String,
    /// Its template.
    pub template: String,
    /// Whether it is the first, or the last.
    pub first: bool,
    /// Whether it is the last.
    pub last: bool,
}

/// `template_new.html`: a new template from its parts.
#[derive(Template)]
#[template(path = "template_new.html")]
pub struct TemplateNew {
    /// The frame.
    pub chrome: Chrome,
    /// The project.
    pub project: String,
    /// Its name as typed.
    pub name: String,
    /// The methods, one chosen.
    pub methods: Vec<Choice>,
    /// Its URL as typed.
    pub url: String,
    /// Its headers as typed, `Name: value` a line.
    pub headers: String,
    /// `none`, `json` or `text`.
    pub body_kind: String,
    /// Its body as typed.
    pub body: String,
    /// What went wrong, naming the field.
    pub error: Option<String>,
    /// The YAML written, once saved.
    pub saved: Option<String>,
}

/// `template_edit.html`: an existing template's values, changed in place.
#[derive(Template)]
#[template(path = "template_edit.html")]
pub struct TemplateEdit {
    /// The frame.
    pub chrome: Chrome,
    /// The project.
    pub project: String,
    /// The template.
    pub name: String,
    /// The hash of the file as it was read (a save refuses another).
    pub base: String,
    /// Its values.
    pub fields: Vec<EditField>,
    /// The lines that would change, or that did.
    pub diff: Option<String>,
    /// Whether the diff waits for "Save these changes".
    pub confirming: bool,
    /// What went wrong.
    pub error: Option<String>,
    /// What happened.
    pub notice: Option<String>,
}
