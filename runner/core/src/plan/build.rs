//! Turning a journey file into a [`Plan`]: templates, values, captures,
//! expectations and policy, each checked with a position for every error.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;
use serde_json_path::JsonPath;

use super::inputs::{InputMode, input_value};
use super::{Fill, Plan, PlannedHook, PlannedStep, Retries, SecretUse};
use crate::error::{Diagnostic, Error, Result};
use crate::plugins::Providers;
use crate::project::load::list_or_none;
use crate::project::model::{EnvironmentDef, JourneyFile, Rerun, RetriesDef, ValueDef};
use crate::project::{Loaded, Project};
use crate::source::Source;
use crate::template::Template;

/// The provider chain when an environment does not name one.
pub const DEFAULT_CHAIN: &[&str] = &["env", "file"];

/// Choices that come from the command line.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// `--env`.
    pub environment: Option<String>,
    /// `--secrets`: one provider for every secret of the run.
    pub secrets: Option<String>,
    /// `--input k=v`.
    pub inputs: IndexMap<String, String>,
    /// `--var k=v`: overrides the environment's variables.
    pub variables: IndexMap<String, String>,
    /// Whether missing inputs may be prompted for.
    pub input_mode: InputMode,
}

/// Pick the environment: `--env`, else the only one, else an empty default.
pub fn select_environment<'p>(
    project: &'p Project,
    wanted: Option<&str>,
) -> Result<(String, Option<&'p EnvironmentDef>)> {
    let environments = &project.config.environments;
    match wanted {
        Some(name) => environments
            .get(name)
            .map(|env| (name.to_string(), Some(env)))
            .ok_or_else(|| {
                let names: Vec<String> = environments.keys().cloned().collect();
                Error::Usage(format!(
                    "no environment `{name}` in reqflo.yaml (environments: {})",
                    list_or_none(&names)
                ))
            }),
        None if environments.len() == 1 => Ok(environments
            .first()
            .map(|(name, env)| (name.clone(), Some(env)))
            .unwrap_or_default()),
        None if environments.is_empty() => Ok(("default".to_string(), None)),
        None => {
            let names: Vec<String> = environments.keys().cloned().collect();
            Err(Error::Usage(format!(
                "choose an environment with --env (environments: {})",
                names.join(", ")
            )))
        }
    }
}

/// Plan `journey` in the chosen environment: once, or once for each row
/// of its `for_each:`, each plan named `NAME[N]` and given its row's fields
/// as inputs.
pub fn plan_iterations(
    project: &Project,
    providers: &Providers,
    journey: &Loaded<JourneyFile>,
    options: &PlanOptions,
) -> Result<Vec<Plan>> {
    let Some(def) = &journey.file.for_each else {
        return Ok(vec![plan_journey(project, providers, journey, options)?]);
    };
    let rows = super::rows::load(project, journey, def)?;
    rows.iter()
        .enumerate()
        .map(|(n, row)| {
            let mut plan = plan_with(project, providers, journey, options, Some(row))?;
            plan.journey = format!("{}[{}]", journey.name, n + 1);
            Ok(plan)
        })
        .collect()
}

/// Plan `journey` in the chosen environment, once (a `for_each:` journey's
/// rows are not read: see [`plan_iterations`]).
pub fn plan_journey(
    project: &Project,
    providers: &Providers,
    journey: &Loaded<JourneyFile>,
    options: &PlanOptions,
) -> Result<Plan> {
    plan_with(project, providers, journey, options, None)
}

fn plan_with(
    project: &Project,
    providers: &Providers,
    journey: &Loaded<JourneyFile>,
    options: &PlanOptions,
    row: Option<&super::rows::Row>,
) -> Result<Plan> {
    let (environment, env_def) = select_environment(project, options.environment.as_deref())?;
    let chain = run_chain(project, providers, &environment, env_def, options)?;
    let mut variables = env_def.map(|e| e.variables.clone()).unwrap_or_default();
    for (name, value) in &options.variables {
        variables.insert(name.clone(), Value::String(value.clone()));
    }
    let variables = Arc::new(variables);
    let env_hooks = env_def.map(|e| e.hooks.clone()).unwrap_or_default();
    for (i, name) in env_hooks.iter().enumerate() {
        if !project.config.hooks.contains_key(name) {
            return Err(Error::Config(
                Diagnostic::new(format!(
                    "environment `{environment}` attaches hook `{name}`, which is not defined"
                ))
                .at(project.config_source.value(&[
                    "environments",
                    &environment,
                    "hooks",
                    &i.to_string(),
                ]))
                .hint(format!("hooks: {}", list_or_none(&hook_names(project)))),
            ));
        }
    }
    let mut planner = Planner {
        env_hooks,
        project,
        providers,
        journey,
        source: &journey.source,
        options,
        row,
        root: &journey.name,
        prefix: String::new(),
        bound: None,
        stack: vec![journey.name.clone()],
        chain,
        templates: HashMap::new(),
        secrets: Vec::new(),
        used_inputs: HashSet::new(),
        step_ids: HashSet::new(),
        paths: HashMap::new(),
    };
    let mut steps: Vec<PlannedStep> = Vec::with_capacity(journey.file.steps.len());
    planner.plan_steps(&mut steps, &variables)?;
    planner.check_inputs()?;
    let tls = match env_def.and_then(|e| e.tls.as_ref()) {
        Some(def) => Some(planner.tls(&environment, def)?),
        None => None,
    };
    Ok(Plan {
        tls,
        journey: journey.name.clone(),
        environment,
        steps,
        secrets: planner.secrets,
        rerun_safe: journey.file.rerun == Some(Rerun::Safe),
    })
}

/// The chain for this run: `--secrets`, else the environment's, else the default.
fn run_chain(
    project: &Project,
    providers: &Providers,
    environment: &str,
    env_def: Option<&EnvironmentDef>,
    options: &PlanOptions,
) -> Result<Vec<String>> {
    if let Some(name) = &options.secrets {
        if providers.get(name).is_none() {
            return Err(Error::Usage(format!(
                "--secrets {name}: no such provider (providers: {})",
                providers.names().join(", ")
            )));
        }
        return Ok(vec![name.clone()]);
    }
    let Some(chain) = env_def.and_then(|e| e.secrets.clone()) else {
        return Ok(DEFAULT_CHAIN.iter().map(|s| s.to_string()).collect());
    };
    for (i, name) in chain.iter().enumerate() {
        if providers.get(name).is_none() {
            return Err(Error::Config(
                Diagnostic::new(format!(
                    "environment `{environment}` names provider `{name}`, which is not defined"
                ))
                .at(project.config_source.value(&[
                    "environments",
                    environment,
                    "secrets",
                    &i.to_string(),
                ]))
                .hint(format!("providers: {}", providers.names().join(", "))),
            ));
        }
    }
    Ok(chain)
}

/// The hooks `reqflo.yaml` defines, for hints.
fn hook_names(project: &Project) -> Vec<String> {
    project.config.hooks.keys().cloned().collect()
}

/// Plans one journey: each step's template, values, hooks, retries, and
/// (in `checks.rs`) its captures and expectations.
pub(super) struct Planner<'a> {
    pub(super) env_hooks: Vec<String>,
    pub(super) project: &'a Project,
    pub(super) providers: &'a Providers,
    pub(super) journey: &'a Loaded<JourneyFile>,
    pub(super) source: &'a Source,
    pub(super) options: &'a PlanOptions,
    /// The row of a `for_each:` this plan runs: its fields are inputs.
    pub(super) row: Option<&'a super::rows::Row>,
    /// The name of the journey being run (the registry's `journeys:` are
    /// checked against it, in an included journey too).
    pub(super) root: &'a str,
    /// Put before each step id: `STEP/` inside an included journey.
    pub(super) prefix: String,
    /// An included journey's inputs, as its `include:` step gives them.
    pub(super) bound: Option<IndexMap<String, Fill>>,
    /// The journeys being planned, the run's first (a cycle of includes).
    pub(super) stack: Vec<String>,
    pub(super) chain: Vec<String>,
    pub(super) templates: HashMap<String, Arc<Template>>,
    pub(super) secrets: Vec<SecretUse>,
    pub(super) used_inputs: HashSet<String>,
    pub(super) step_ids: HashSet<String>,
    /// JSONPaths parsed so far, by their text: long journeys repeat the same
    /// few paths, and parsing one costs more than a whole step's templating.
    pub(super) paths: HashMap<String, Arc<JsonPath>>,
}

impl Planner<'_> {
    pub(super) fn definition(&self, message: String, path: &[&str]) -> Error {
        Error::Definition(Diagnostic::new(message).at(self.source.value(path)))
    }

    pub(super) fn step(
        &mut self,
        index: usize,
        earlier: &[PlannedStep],
        variables: &Arc<IndexMap<String, Value>>,
    ) -> Result<PlannedStep> {
        let def = &self.journey.file.steps[index];
        let i = index.to_string();
        let id = format!("{}{}", self.prefix, def.id);
        if !self.step_ids.insert(id.clone()) {
            return Err(self.definition(
                format!("step id `{}` is used twice", def.id),
                &["steps", &i, "id"],
            ));
        }
        if def.template.is_empty() {
            return Err(self.definition(
                format!(
                    "step `{}` names no `template:` (or `include:` of a journey)",
                    def.id
                ),
                &["steps", &i],
            ));
        }
        let template = self.template(&def.template, &i)?;

        let mut fills = IndexMap::new();
        for (name, raw) in &def.values {
            if !template.placeholders.contains_key(name) {
                let names: Vec<String> = template.placeholders.keys().cloned().collect();
                return Err(Error::Definition(
                    Diagnostic::new(format!(
                        "value `{name}` fills no placeholder of template `{}`",
                        template.name
                    ))
                    .at(self.source.key(&["steps", &i, "values", name]))
                    .hint(format!("its placeholders: {}", list_or_none(&names))),
                ));
            }
            let fill = self.fill(
                &["steps", &i, "values", name],
                name,
                raw,
                earlier,
                variables,
            )?;
            fills.insert(name.clone(), fill);
        }
        for (name, spot) in &template.placeholders {
            if !fills.contains_key(name) && !variables.contains_key(name) {
                return Err(Error::Definition(
                    Diagnostic::new(format!(
                        "placeholder `{{{{{name}}}}}` of template `{}` is not filled in step `{}`",
                        template.name, def.id
                    ))
                    .at(spot.clone().or_else(|| self.source.value(&["steps", &i])))
                    .hint(format!(
                        "add `{name}:` under the step's values ({}), or a variable to the environment",
                        self.source.display
                    )),
                ));
            }
        }

        let captures = self.captures(&i, &def.capture)?;
        let at = super::Earlier {
            steps: earlier,
            variables,
        };
        let expect = self.expectations(&i, &def.expect, at)?;
        let hooks = self.hooks(&i, &def.hooks)?;
        let retries = self.retries(&i, def.retries.as_ref())?;
        let until = self
            .until(&i, def.until.as_deref(), def.poll.as_ref(), at)?
            .map(Box::new);
        let when = match &def.when {
            Some(when) => Some(self.when(&i, when, earlier, variables)?),
            None => None,
        };
        Ok(PlannedStep {
            hooks,
            retries,
            until,
            when: when.map(Box::new),
            follow_redirects: def.follow_redirects,
            id,
            template,
            fills,
            variables: Arc::clone(variables),
            captures,
            expect,
        })
    }

    /// A step's `retries:`, checked: a count of 1 to 10 and a valid backoff.
    fn retries(&self, i: &str, def: Option<&RetriesDef>) -> Result<Option<Retries>> {
        let Some(def) = def else {
            return Ok(None);
        };
        if !(1..=10).contains(&def.count) {
            return Err(self.definition(
                format!("retries count must be 1 to 10, got {}", def.count),
                &["steps", i, "retries", "count"],
            ));
        }
        let backoff = match &def.backoff {
            None => std::time::Duration::from_millis(200),
            Some(text) => crate::duration::parse(text).map_err(|m| {
                self.definition(
                    format!("retries backoff: {m}"),
                    &["steps", i, "retries", "backoff"],
                )
            })?,
        };
        if let Some(bad) = def.on.iter().find(|s| !(100..=599).contains(*s)) {
            return Err(self.definition(
                format!("retries on: {bad} is not an HTTP status"),
                &["steps", i, "retries", "on"],
            ));
        }
        Ok(Some(Retries {
            count: def.count,
            backoff,
            on: def.on.clone(),
            non_idempotent: def.non_idempotent,
        }))
    }

    /// The environment's hooks, then the step's, each with its granted
    /// secrets planned (and checked against policy) like the step's own.
    fn hooks(&mut self, i: &str, step_hooks: &[String]) -> Result<Vec<PlannedHook>> {
        for (j, name) in step_hooks.iter().enumerate() {
            if !self.project.config.hooks.contains_key(name) {
                return Err(Error::Definition(
                    Diagnostic::new(format!("unknown hook `{name}`"))
                        .at(self.source.value(&["steps", i, "hooks", &j.to_string()]))
                        .hint(format!(
                            "hooks are defined under `hooks:` in reqflo.yaml; defined: {}",
                            list_or_none(&hook_names(self.project))
                        )),
                ));
            }
        }
        let names: Vec<String> = self
            .env_hooks
            .iter()
            .chain(step_hooks.iter())
            .cloned()
            .collect();
        let mut planned = Vec::with_capacity(names.len());
        for name in names {
            let Some(def) = self.project.config.hooks.get(&name) else {
                continue;
            };
            let mut secrets = Vec::with_capacity(def.secrets.len());
            for (k, secret) in def.secrets.clone().iter().enumerate() {
                let source = &self.project.config_source;
                let spot = || source.value(&["hooks", &name, "secrets", &k.to_string()]);
                let note = format!(" (granted to hook `{name}`)");
                let index = self.secret_at(&spot, secret, None, &note)?;
                secrets.push((secret.clone(), index));
            }
            planned.push(PlannedHook { name, secrets });
        }
        Ok(planned)
    }

    fn template(&mut self, name: &str, i: &str) -> Result<Arc<Template>> {
        if let Some(t) = self.templates.get(name) {
            return Ok(Arc::clone(t));
        }
        let loaded = match self.project.template(name) {
            Some(loaded) => loaded.map_err(Error::Definition)?,
            None => {
                return Err(Error::Definition(
                    Diagnostic::new(format!("unknown template `{name}`"))
                        .at(self.source.value(&["steps", i, "template"]))
                        .hint(format!(
                            "templates are files in templates/; found: {}",
                            list_or_none(&self.project.template_names())
                        )),
                ));
            }
        };
        let mut template = Template::compile(&loaded).map_err(Error::Definition)?;
        // The files a multipart body uploads are read now: a missing one is
        // an error before anything is sent.
        if let crate::template::Body::Multipart(parts) = &mut template.body {
            for part in parts {
                if let crate::multipart::PartKind::File(file) = &mut part.kind {
                    let bytes = self
                        .project
                        .data_bytes(&file.path, crate::multipart::MAX_FILE_BYTES)
                        .map_err(|why| {
                            Error::Definition(Diagnostic::new(why).at(loaded.source.value(&[
                                "multipart",
                                &part.name,
                                "file",
                            ])))
                        })?;
                    file.bytes = Arc::from(bytes);
                }
            }
        }
        let template = Arc::new(template);
        self.templates
            .insert(name.to_string(), Arc::clone(&template));
        Ok(template)
    }

    pub(super) fn fill(
        &mut self,
        path: &[&str],
        name: &str,
        raw: &Value,
        earlier: &[PlannedStep],
        variables: &IndexMap<String, Value>,
    ) -> Result<Fill> {
        // A map with `type` is a value source; anything else is a literal.
        let is_source = raw.as_object().is_some_and(|m| m.contains_key("type"));
        if !is_source {
            return Ok(Fill::Value(raw.clone()));
        }
        let def: ValueDef = serde_json::from_value(raw.clone()).map_err(|e| {
            Error::Definition(
                Diagnostic::new(format!("invalid value source `{name}`: {e}"))
                    .at(self.source.value(path))
                    .hint("types: literal, input, secret, capture, variable, generate"),
            )
        })?;
        Ok(match def {
            ValueDef::Literal { value } => Fill::Value(value),
            ValueDef::Variable { name: var } => match variables.get(&var) {
                Some(value) => Fill::Value(value.clone()),
                None => {
                    let names: Vec<String> = variables.keys().cloned().collect();
                    return Err(Error::Definition(
                        Diagnostic::new(format!("the environment has no variable `{var}`"))
                            .at(self.source.value(&[path, &["name"]].concat()))
                            .hint(format!("variables: {}", list_or_none(&names))),
                    ));
                }
            },
            ValueDef::Input { name: input } => {
                self.used_inputs.insert(input.clone());
                if self.bound.is_some() {
                    return self.bound_input(path, &input);
                }
                if let Some(value) = self.row.and_then(|row| row.get(&input)) {
                    return Ok(Fill::Value(value.clone()));
                }
                let declared = self.journey.file.inputs.get(&input);
                match input_value(
                    &input,
                    declared,
                    &self.options.inputs,
                    self.options.input_mode,
                )? {
                    Some(value) => Fill::Value(value),
                    None => Fill::Value(Value::Null),
                }
            }
            ValueDef::Generate { kind, bytes } => {
                let bytes = bytes.unwrap_or(16);
                if bytes == 0 || bytes > 1024 {
                    return Err(self.definition(
                        "`bytes` must be between 1 and 1024".into(),
                        &[path, &["bytes"]].concat(),
                    ));
                }
                Fill::Generate(kind, bytes)
            }
            ValueDef::Capture {
                step,
                name: capture,
            } => {
                // The step itself, or the steps of the journey it includes
                // (their captures pass out under its id; the last wins).
                let full = format!("{}{step}", self.prefix);
                let of_step: Vec<usize> = (0..earlier.len())
                    .filter(|&k| {
                        let id = &earlier[k].id;
                        *id == full
                            || id
                                .strip_prefix(full.as_str())
                                .is_some_and(|rest| rest.starts_with('/'))
                    })
                    .collect();
                if of_step.is_empty() {
                    return Err(Error::Definition(
                        Diagnostic::new(format!("no earlier step `{step}` to capture from"))
                            .at(self.source.value(&[path, &["step"]].concat()))
                            .hint("a capture comes from a step that runs before this one"),
                    ));
                }
                let takes = |k: &usize| earlier[*k].captures.iter().any(|c| c.name == capture);
                let Some(index) = of_step.iter().rev().find(|k| takes(k)).copied() else {
                    let names: Vec<String> = of_step
                        .iter()
                        .flat_map(|k| earlier[*k].captures.iter().map(|c| c.name.clone()))
                        .collect();
                    return Err(Error::Definition(
                        Diagnostic::new(format!("step `{step}` captures no `{capture}`"))
                            .at(self.source.value(&[path, &["name"]].concat()))
                            .hint(format!("its captures: {}", list_or_none(&names))),
                    ));
                };
                Fill::Capture(index, capture)
            }
            ValueDef::Secret {
                name: secret,
                provider,
            } => Fill::Secret(self.secret(path, &secret, provider)?),
        })
    }

    /// `--input` names that no step uses and the journey does not declare are typos.
    fn check_inputs(&self) -> Result<()> {
        for name in self.options.inputs.keys() {
            if !self.used_inputs.contains(name) && !self.journey.file.inputs.contains_key(name) {
                let mut known: Vec<String> = self.used_inputs.iter().cloned().collect();
                known.sort();
                return Err(Error::Usage(format!(
                    "journey `{}` has no input `{name}` (inputs: {})",
                    self.journey.name,
                    list_or_none(&known)
                )));
            }
        }
        Ok(())
    }
}
