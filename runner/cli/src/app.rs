//! The commands: each turns parsed arguments into work and an exit code.

use reqflo_sandbox::Load as _;
use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;

use crate::cli::{
    CheckArgs, Cli, Command, ExportArgs, ImportCommand, PluginsCommand, RunArgs, SecretsCommand,
    Selection, parse_pairs,
};
use crate::console::{self, Console};
use crate::exit;
use reqflo_core::bundle::Bundle;
use reqflo_core::error::{Error, Result};
use reqflo_core::plan::{self, InputMode, Plan, PlanOptions};
use reqflo_core::project::Project;
use reqflo_core::redact::Redactor;
use reqflo_core::report::{ReportTargets, write_reports};
use reqflo_engine::run::{RunSettings, run_plans};
use reqflo_sandbox::secrets::{Providers, Resolver, SecretStore};

/// Run the command line and return the exit code. `redactor` is the run's
/// (a command is one run): the caller keeps it alive until the error, if
/// any, has been printed.
pub async fn main(cli: Cli, redactor: &Arc<Redactor>) -> Result<i32> {
    let cwd = std::env::current_dir()
        .map_err(|e| Error::Usage(format!("cannot read the current folder: {e}")))?;
    if let Command::Login(args) = &cli.command {
        return crate::remote::login(args).await;
    }
    if let Command::Run(args) = cli.command {
        let args = *args;
        if let Some(url) = args.remote.clone() {
            // A bundle needs no project; otherwise the project goes up.
            if let Some(bundle) = &args.bundle {
                let root = cwd
                    .join(bundle)
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                let args = RunArgs {
                    bundle: Some(cwd.join(bundle)),
                    ..args
                };
                return crate::remote::run_remote(&url, None, &root, args, redactor).await;
            }
            let project = Project::discover(cli.project.as_deref(), &cwd)?;
            let root = project.root.clone();
            return crate::remote::run_remote(&url, Some(&project), &root, args, redactor).await;
        }
        if let Some(path) = args.bundle.clone() {
            return run_bundle(&cwd.join(path), args, redactor).await;
        }
        let project = Project::discover(cli.project.as_deref(), &cwd)?;
        return run(&project, args, redactor).await;
    }
    // Writing and inspecting plugins needs no project.
    let command = match cli.command {
        Command::Plugins {
            command: PluginsCommand::New(args),
        } => return crate::authoring::new_command(&args, &cwd),
        Command::Plugins {
            command: PluginsCommand::Inspect(args),
        } => return crate::authoring::inspect_command(&args, &cwd),
        Command::Plugins {
            command: PluginsCommand::Test(args),
        } => return crate::authoring::contract_command(&args, &cwd).await,
        // An import may start a project: it needs none.
        Command::Import {
            command: ImportCommand::Curl(args),
        } => return crate::authoring::import::curl_command(&args, cli.project.as_deref(), &cwd),
        Command::Import {
            command: ImportCommand::Hurl(args),
        } => {
            return crate::authoring::import::file_command(
                crate::authoring::import::Source::Hurl,
                &args,
                cli.project.as_deref(),
                &cwd,
            );
        }
        Command::Import {
            command: ImportCommand::Postman(args),
        } => {
            return crate::authoring::import::file_command(
                crate::authoring::import::Source::Postman,
                &args,
                cli.project.as_deref(),
                &cwd,
            );
        }
        Command::Import {
            command: ImportCommand::Openapi(args),
        } => {
            return crate::authoring::import::file_command(
                crate::authoring::import::Source::Openapi,
                &args,
                cli.project.as_deref(),
                &cwd,
            );
        }
        other => other,
    };
    let project = Project::discover(cli.project.as_deref(), &cwd)?;
    match command {
        Command::Export(args) => export(&project, &cwd, args, redactor).await,
        Command::Run(args) => run(&project, *args, redactor).await,
        Command::Check(args) => check(&project, args, redactor).await,
        Command::Secrets {
            command: SecretsCommand::List,
        } => crate::listing::secrets_list(&project),
        // `new` and `inspect` returned above.
        Command::Plugins { .. } => crate::listing::plugins_list(&project),
        // Returned above.
        Command::Import { .. } => Ok(exit::OK),
        // Handled before any project is looked for (`server` and `worker`
        // in main).
        Command::Login(_) | Command::Server(_) | Command::Worker(_) | Command::Agent(_) => {
            Ok(exit::OK)
        }
    }
}

fn journey_names(project: &Project, selection: &Selection) -> Result<Vec<String>> {
    if selection.all {
        let names = project.journey_names();
        if names.is_empty() {
            return Err(Error::Usage(
                "the project has no journeys (journeys/*.yaml)".into(),
            ));
        }
        return Ok(names);
    }
    if selection.journeys.is_empty() {
        return Err(Error::Usage(
            "name a journey to use, or --all (journeys: ".to_string()
                + &reqflo_core::project::list_or_none(&project.journey_names())
                + ")",
        ));
    }
    Ok(selection.journeys.clone())
}

fn plans(
    project: &Project,
    providers: &Providers,
    names: &[String],
    options: &PlanOptions,
) -> Result<Vec<Plan>> {
    let mut plans = Vec::with_capacity(names.len());
    for name in names {
        let journey = project.journey(name)?;
        // A `for_each:` journey is one plan a row.
        plans.extend(plan::plan_iterations(
            project, providers, &journey, options,
        )?);
    }
    Ok(plans)
}

/// Let a large value go without freeing it, because the process ends right
/// after: freeing a 1000-step journey's plan and report one allocation at a
/// time costs about a millisecond, and the OS takes the pages back at once.
/// (The parsed file is freed after planning: the run reuses its memory, and
/// fresh pages cost more than the frees.) Only for values that hold no
/// secret: those must be zeroed when dropped.
fn let_go<T>(value: T) {
    std::mem::forget(value);
}

async fn run(project: &Project, args: RunArgs, redactor: &Arc<Redactor>) -> Result<i32> {
    let timeout = reqflo_core::duration::parse(&args.timeout)
        .map_err(|m| Error::Usage(format!("--timeout: {m}")))?;
    let max_body = reqflo_engine::run::parse_size(&args.max_body)
        .map_err(|m| Error::Usage(format!("--max-body: {m}")))?;
    let names = journey_names(project, &args.selection)?;
    let providers = Providers::from_project(project)?;
    // Hooks are checked before planning: a mistake in them is a config error.
    reqflo_sandbox::hooks::HookSpecs::from_project(project)?;
    let options = PlanOptions {
        environment: args.selection.environment.clone(),
        secrets: args.selection.secrets.clone(),
        inputs: parse_pairs("--input", &args.selection.inputs)?,
        variables: parse_pairs("--var", &args.selection.variables)?,
        input_mode: if args.no_prompt {
            InputMode::NoPrompt
        } else {
            InputMode::Prompt(&console::Terminal)
        },
    };
    // Every journey is planned before anything is resolved or sent.
    let plans = plans(project, &providers, &names, &options)?;
    let targets = ReportTargets {
        json: args.report_json.clone(),
        junit: args.report_junit.clone(),
        html: args.report_html.clone(),
    };
    let console = Console::for_terminal(args.verbose, args.quiet, usize::from(args.jobs));
    let settings = RunSettings {
        timeout,
        record_messages: targets.any(),
        max_body,
        max_body_setting: "--max-body",
        jobs: usize::from(args.jobs),
        redactor: Arc::clone(redactor),
        held: None,
    };
    // From here on Ctrl-C stops the run and still writes its reports (before
    // this point nothing has been resolved or sent, and it simply quits).
    let stop = crate::interrupt::on_signals()?;
    let (report, error) = run_plans(project, &providers, &plans, &settings, &console, &stop).await;
    if targets.any() {
        // Reports are written for error runs too; a scan hit is the worst error.
        write_reports(&report, &targets, redactor)?;
    }
    let code = exit::for_report(&report);
    // Plans and reports hold names, templates and redacted text, no secret.
    let_go(report);
    let_go(plans);
    match error {
        Some(e) => Err(e),
        None => Ok(code),
    }
}

/// Run a bundle's journey: the bundle becomes a project in memory, standing
/// in the bundle file's folder.
async fn run_bundle(path: &Path, mut args: RunArgs, redactor: &Arc<Redactor>) -> Result<i32> {
    let bundle = Bundle::read(path)?;
    if !args.selection.journeys.is_empty() && args.selection.journeys != [bundle.journey.clone()] {
        return Err(Error::Usage(format!(
            "the bundle holds journey `{}` only",
            bundle.journey
        )));
    }
    args.selection.journeys = vec![bundle.journey.clone()];
    let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let project = bundle.into_project(root)?;
    run(&project, args, redactor).await
}

async fn export(
    project: &Project,
    cwd: &Path,
    args: ExportArgs,
    redactor: &Arc<Redactor>,
) -> Result<i32> {
    let bundle = reqflo_core::bundle::export(project, &args.journey)?;
    if !args.no_resolve {
        learn_values(project, &args.journey, args.environment.as_ref(), redactor).await?;
        if let Some((place, name)) = bundle.find_value(redactor) {
            return Err(Error::Runtime(format!(
                "{place} holds the value of secret `{name}`; a bundle names secrets and never holds them, so nothing was written \
                 (in a journey write `{{type: secret, name: {name}}}` instead)"
            )));
        }
    }
    let text = bundle.to_yaml()?;
    match args.output {
        None => console::out(text.trim_end()),
        Some(path) => {
            let path = cwd.join(path);
            let fail =
                |e: std::io::Error| Error::Runtime(format!("cannot write {}: {e}", path.display()));
            let file = std::fs::File::create(&path).map_err(fail)?;
            let mut writer = reqflo_core::redact::RedactingWriter::with(file, redactor);
            std::io::Write::write_all(&mut writer, text.as_bytes()).map_err(fail)?;
            writer.finish().map_err(fail)?;
            reqflo_core::report::scan_file(&path, redactor)?;
        }
    }
    Ok(exit::OK)
}

/// Resolve `journey`'s secrets where they resolve, so the redactor knows
/// their values, for `export` to refuse a bundle that holds one. A secret
/// that does not resolve here is named on stderr: the bundle is not checked
/// for it.
async fn learn_values(
    project: &Project,
    journey: &str,
    environment: Option<&String>,
    redactor: &Arc<Redactor>,
) -> Result<()> {
    let providers = Providers::from_project(project)?;
    for environment in environments(project, environment) {
        let options = PlanOptions {
            environment,
            secrets: None,
            inputs: IndexMap::new(),
            variables: IndexMap::new(),
            input_mode: InputMode::Check,
        };
        let plan = plan::plan_journey(project, &providers, &project.journey(journey)?, &options)?;
        let mut store = SecretStore::default();
        let mut resolver = Resolver::new(project, &providers, &plan.secrets, Arc::clone(redactor));
        for resolution in resolver.check_all(&plan.secrets, &mut store).await {
            if let Err(e) = resolution.outcome {
                console::err(&format!(
                    "note: secret {} (env {}) does not resolve here, so the bundle is not checked for its value: {e}",
                    resolution.name, plan.environment
                ));
            }
        }
    }
    Ok(())
}

/// The environments a command covers: the one asked for, else every one
/// the project defines (or the default when it defines at most one).
fn environments(project: &Project, asked: Option<&String>) -> Vec<Option<String>> {
    match asked {
        Some(env) => vec![Some(env.clone())],
        None if project.config.environments.len() > 1 => project
            .config
            .environments
            .keys()
            .map(|k| Some(k.clone()))
            .collect(),
        None => vec![None],
    }
}

async fn check(project: &Project, args: CheckArgs, redactor: &Arc<Redactor>) -> Result<i32> {
    let names = journey_names(project, &args.selection)?;
    let providers = Providers::from_project(project)?;
    let hooks = reqflo_sandbox::hooks::HookSpecs::from_project(project)?;
    let environments = environments(project, args.selection.environment.as_ref());
    let inputs = parse_pairs("--input", &args.selection.inputs)?;
    let variables = parse_pairs("--var", &args.selection.variables)?;
    let mut code = exit::OK;
    for environment in environments {
        let options = PlanOptions {
            environment,
            secrets: args.selection.secrets.clone(),
            inputs: inputs.clone(),
            variables: variables.clone(),
            input_mode: InputMode::Check,
        };
        let plans = plans(project, &providers, &names, &options)?;
        for plan in &plans {
            check_pins(project, plan, &providers, &hooks)?;
            let secrets: Vec<&str> = plan.secrets.iter().map(|s| s.name.as_str()).collect();
            console::out(&format!(
                "ok {} (env {}): {} step{}, secrets: {}",
                plan.journey,
                plan.environment,
                plan.steps.len(),
                if plan.steps.len() == 1 { "" } else { "s" },
                if secrets.is_empty() {
                    "none".into()
                } else {
                    secrets.join(", ")
                }
            ));
            // Which hooks run where: the environment's run on every step.
            let mut hooked: Vec<String> = Vec::new();
            for step in &plan.steps {
                for hook in &step.hooks {
                    if !hooked.contains(&hook.name) {
                        hooked.push(hook.name.clone());
                    }
                }
            }
            if !hooked.is_empty() {
                console::out(&format!("  hooks: {}", hooked.join(", ")));
            }
            if args.resolve {
                let mut store = SecretStore::default();
                let mut resolver =
                    Resolver::new(project, &providers, &plan.secrets, Arc::clone(redactor));
                for resolution in resolver.check_all(&plan.secrets, &mut store).await {
                    match resolution.outcome {
                        Ok(provider) => console::out(&format!(
                            "  secret {}: resolves via {provider}",
                            resolution.name
                        )),
                        Err(e) => {
                            code = code.max(exit::for_error(&e));
                            console::out(&format!("  secret {}: {e}", resolution.name));
                        }
                    }
                }
            }
        }
        // A plan holds no secret value (resolved values live in `store`,
        // dropped above): the process ends now, so its memory goes with it.
        let_go(plans);
    }
    Ok(code)
}

/// Hash every plugin the plan could load (each provider in its secrets'
/// chains, each hook on its steps) against its `sha256` pin. Hashing runs
/// nothing, so `check` can refuse what `run` would refuse.
fn check_pins(
    project: &Project,
    plan: &Plan,
    providers: &Providers,
    hooks: &reqflo_sandbox::hooks::HookSpecs,
) -> Result<()> {
    let pinned = |error: Error, spot| match error {
        Error::Plugin(why) => {
            Error::Config(reqflo_core::error::Diagnostic::new(why.to_string()).at(spot))
        }
        other => other,
    };
    let mut seen: Vec<&str> = Vec::new();
    for name in plan.secrets.iter().flat_map(|s| s.chain.iter()) {
        if seen.contains(&name.as_str()) {
            continue;
        }
        seen.push(name);
        if let Some(spec) = providers.get(name).filter(|s| s.sha256.is_some()) {
            let spot = project.config_source.value(&["providers", name, "sha256"]);
            spec.load().map_err(|e| pinned(e, spot))?;
        }
    }
    for hook in plan.steps.iter().flat_map(|s| s.hooks.iter()) {
        if seen.contains(&hook.name.as_str()) {
            continue;
        }
        seen.push(&hook.name);
        if let Some(spec) = hooks.get(&hook.name).filter(|s| s.sha256.is_some()) {
            let spot = project
                .config_source
                .value(&["hooks", &hook.name, "sha256"]);
            spec.load().map_err(|e| pinned(e, spot))?;
        }
    }
    Ok(())
}
