//! The command line (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use indexmap::IndexMap;

use reqflo_core::error::{Error, Result};

const EXIT_CODES: &str = "\
Exit codes:
  0  every step passed
  1  usage or project configuration error
  2  journey or template definition error
  3  runtime error: network, secret resolution, plugin fault, policy denial
  4  an expectation failed";

/// Run multi-step HTTP API journeys whose secrets are resolved by sandboxed
/// WebAssembly plugins and never written down.
#[derive(Debug, Parser)]
#[command(name = "reqflo", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// The project folder (default: the nearest folder upwards with reqflo.yaml).
    #[arg(long, global = true, value_name = "DIR")]
    pub project: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run journeys.
    #[command(after_help = EXIT_CODES)]
    Run(Box<RunArgs>),
    /// Validate journeys, templates, references and policy; send nothing.
    #[command(after_help = EXIT_CODES)]
    Check(CheckArgs),
    /// The secrets registry.
    Secrets {
        /// What to do with it.
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Write a journey as a shareable bundle (secrets by name only).
    Export(ExportArgs),
    /// Make a template and a journey from another tool's request; every
    /// credential in it becomes a secret by name.
    Import {
        /// Where from.
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// The Cloud Runner: admin-managed secrets, uploaded journeys, queued runs.
    Server(ServerArgs),
    /// Take queued runs from a server's Postgres database and run them (on
    /// any machine; as many as you like).
    Worker(WorkerArgs),
    /// A private agent: inside a network the server cannot reach, take the
    /// runs submitted for this agent's location (outbound requests only).
    Agent(AgentArgs),
    /// Save a server's token for `run --remote` (reads the token from stdin).
    Login(LoginArgs),
    /// Built-in and custom plugins; write and inspect your own.
    #[command(visible_alias = "plugin")]
    Plugins {
        /// What to do with them.
        #[command(subcommand)]
        command: PluginsCommand,
    },
}

/// `reqflo server`
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// `init`: set up the data folder and print a new admin token.
    #[command(subcommand)]
    pub command: Option<ServerCommand>,
    /// Where to listen (default 127.0.0.1:8080, or `listen:` in server.yaml).
    #[arg(long, value_name = "HOST:PORT", global = true)]
    pub listen: Option<std::net::SocketAddr>,
    /// The data folder: database, master key, server.yaml (default: the
    /// user's data folder, e.g. ~/.local/share/reqflo/server).
    #[arg(long, value_name = "DIR", global = true)]
    pub data: Option<PathBuf>,
    /// Settings file (default: DIR/server.yaml when it exists).
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// The store: `postgres://USER@HOST:PORT/NAME` (a password is better
    /// in PGPASSWORD than here), or `sqlite` for reqflo.db in the data
    /// folder (the default, or `database:` in server.yaml).
    #[arg(long, value_name = "URL", global = true)]
    pub database: Option<String>,
    /// Runs executed at once by in-process workers (default 4; 0 leaves
    /// them to `reqflo worker` processes, with a Postgres database).
    #[arg(long, value_name = "N", global = true, value_parser = clap::value_parser!(u16).range(0..=256))]
    pub workers: Option<u16>,
    /// Write logs as JSON lines (default: plain text), on stderr.
    #[arg(long, global = true)]
    pub log_json: bool,
}

/// `reqflo worker`
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The server's database: `postgres://USER@HOST:PORT/NAME` (a password
    /// is better in PGPASSWORD than here).
    #[arg(long, value_name = "URL")]
    pub database: String,
    /// A data folder holding the server's `master.key` (copied, mode 0600)
    /// and settings (`server.yaml`: timeouts, limits, `lease`).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Settings file (default: DIR/server.yaml when it exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Runs executed at once by this worker (default 4).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: Option<u16>,
    /// Write logs as JSON lines (default: plain text), on stderr.
    #[arg(long)]
    pub log_json: bool,
}

/// `reqflo import …`
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// A curl command line, quoted as one argument:
    /// `reqflo import curl 'curl -X POST https://… -H "Authorization: Bearer …"'`.
    Curl(ImportCurlArgs),
    /// A Hurl file: each entry a template and a step of one journey, its
    /// captures and asserts as reqflo's.
    Hurl(ImportFileArgs),
    /// A Postman collection (v2.0, v2.1): each request a template and a
    /// step of one journey; scripts are reported, not carried over.
    Postman(ImportFileArgs),
    /// An OpenAPI 3 description (YAML or JSON): a template per operation,
    /// one journey with a step per operation.
    Openapi(ImportFileArgs),
}

/// `reqflo import hurl` and `reqflo import postman`
#[derive(Debug, Args)]
pub struct ImportFileArgs {
    /// The file (`.hurl`, a collection's `.json`, an OpenAPI description).
    pub file: PathBuf,
    /// The journey's name, and its templates' (`NAME-1`, `NAME-2`, …;
    /// default: the file's name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Replace templates or a journey of those names.
    #[arg(long)]
    pub force: bool,
}

/// `reqflo import curl`
#[derive(Debug, Args)]
pub struct ImportCurlArgs {
    /// The command line (the leading `curl` is optional).
    pub command: String,
    /// The template's and the journey's name (default: from the method and
    /// the URL's last path segment).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Replace a template or journey of that name.
    #[arg(long)]
    pub force: bool,
}

/// `reqflo agent`
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The server: `https://…` (plain `http://` only on this machine).
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// The agent's token (`rqa_…`, from `POST /api/agents`); better in
    /// the environment than on the command line, where `ps` shows it.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "REQFLO_AGENT_TOKEN",
        hide_env_values = true
    )]
    pub token: String,
    /// Where the agent keeps its key (`agent.key`, made on first start;
    /// default: the user's data folder, e.g. ~/.local/share/reqflo/agent).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// `agent.yaml`: variables, providers and secrets of the agent's own.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Write logs as JSON lines (default: plain text), on stderr.
    #[arg(long)]
    pub log_json: bool,
}

/// `reqflo server …`
#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Create the data folder, master key and database if needed, and print
    /// a new admin token (shown once).
    Init {
        /// The token's name, for the audit log.
        #[arg(long, default_value = "admin")]
        name: String,
    },
}

/// `reqflo login`
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The server's URL, e.g. http://127.0.0.1:8080.
    #[arg(value_name = "URL")]
    pub url: String,
}

/// `reqflo secrets …`
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Names, descriptions, providers and allowed journeys; never values.
    List,
}

/// `reqflo plugins …`
#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// Every provider's plugin, its digest and grants.
    List,
    /// Scaffold a provider crate that builds into a component (no project needed).
    New(NewArgs),
    /// Show a component's world, imports and sha256 digest (no project needed).
    Inspect(InspectArgs),
    /// Check a provider component against the contract every provider keeps
    /// (no project needed).
    Test(ContractArgs),
}

/// `reqflo plugin new`
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The crate's name: lowercase letters, digits, `-` and `_`.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Where to create it (default: ./NAME); must be empty or absent.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// A checkout of reqflo (or its plugins/sdk) to take the SDK from
    /// (default: the checkout the crate is in, or the one reqflo was built from).
    #[arg(long, value_name = "PATH")]
    pub sdk: Option<PathBuf>,
}

/// `reqflo plugin inspect`
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A component file, or `builtin:NAME`.
    #[arg(value_name = "FILE")]
    pub file: String,
}

/// `reqflo plugin test`
#[derive(Debug, Args)]
pub struct ContractArgs {
    /// A provider component file, or `builtin:NAME`.
    #[arg(value_name = "FILE")]
    pub file: String,
    /// A reference that exists: it must resolve, twice to the same value.
    #[arg(long, value_name = "REF")]
    pub reference: String,
    /// A reference that does not exist: it must be `not-found`.
    #[arg(long, value_name = "REF")]
    pub missing: Option<String>,
    /// A `config:` entry for the provider (repeatable).
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// An environment variable the sandbox may read (repeatable), from this
    /// process's environment.
    #[arg(long = "grant-env", value_name = "NAME")]
    pub grant_env: Vec<String>,
    /// A host the provider may reach (repeatable), as in `grants.hosts`.
    #[arg(long = "grant-host", value_name = "HOST")]
    pub grant_host: Vec<String>,
    /// A file the provider may read (repeatable), as in `grants.files`.
    #[arg(long = "grant-file", value_name = "PATH")]
    pub grant_file: Vec<PathBuf>,
    /// Plain HTTP to hosts other than loopback is meant.
    #[arg(long)]
    pub allow_http: bool,
    /// A file the provider reads as its stdin, as `builtin:file` reads the
    /// file its `config.path` names.
    #[arg(long, value_name = "PATH")]
    pub secret_file: Option<PathBuf>,
    /// The budget of one call, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub timeout_ms: u64,
    /// The sandbox's memory cap, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    pub memory_mib: u64,
}

/// Choices shared by `run` and `check`.
#[derive(Debug, Args)]
pub struct Selection {
    /// Journeys to use (names of files in journeys/).
    #[arg(value_name = "JOURNEY")]
    pub journeys: Vec<String>,
    /// Every journey of the project.
    #[arg(long, conflicts_with = "journeys")]
    pub all: bool,
    /// The environment (variables and provider chain) from reqflo.yaml.
    #[arg(long = "env", short = 'e', value_name = "NAME")]
    pub environment: Option<String>,
    /// Resolve every secret with this provider instead of the environment's chain.
    #[arg(long, value_name = "PROVIDER")]
    pub secrets: Option<String>,
    /// A run input, `NAME=VALUE` (repeatable).
    #[arg(long = "input", short = 'i', value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    /// Override an environment variable, `NAME=VALUE` (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub variables: Vec<String>,
}

/// `reqflo run`
#[derive(Debug, Args)]
pub struct RunArgs {
    /// What to run.
    #[command(flatten)]
    pub selection: Selection,
    /// Per-request timeout, e.g. 30s, 500ms.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub timeout: String,
    /// Keep at most this much of each response body (e.g. 10MiB, 512KiB);
    /// the rest is not read.
    #[arg(long, default_value = "10MiB", value_name = "SIZE")]
    pub max_body: String,
    /// Run up to N journeys at once, each with its own cookies and captures;
    /// their lines print whole as each ends.
    #[arg(short, long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,
    /// Print each request and response (secrets redacted) to stderr.
    #[arg(short, long)]
    pub verbose: bool,
    /// Never prompt for inputs, even on a terminal.
    #[arg(long)]
    pub no_prompt: bool,
    /// Print only each journey's summary line (and errors).
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Write a JSON report (schema: docs/report.schema.json).
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
    /// Write a JUnit XML report.
    #[arg(long, value_name = "FILE")]
    pub report_junit: Option<PathBuf>,
    /// Write a self-contained HTML report into this folder (index.html).
    #[arg(long, value_name = "DIR")]
    pub report_html: Option<PathBuf>,
    /// Run the journey in a bundle made by `reqflo export` (no project needed).
    #[arg(long, value_name = "FILE", conflicts_with = "all")]
    pub bundle: Option<PathBuf>,
    /// Run on a reqflo server: upload the project (journeys, templates,
    /// environments), run there with its managed secrets, stream the same
    /// lines here and exit with the run's code. Token: REQFLO_TOKEN, else
    /// `reqflo login URL`.
    #[arg(long, value_name = "URL", env = "REQFLO_REMOTE")]
    pub remote: Option<String>,
    /// The project's name on the server (default: the project folder's name).
    #[arg(long, value_name = "NAME", requires = "remote")]
    pub remote_project: Option<String>,
    /// Run on the server's private agent at this location (`reqflo
    /// agent`), inside the network it serves.
    #[arg(long, value_name = "NAME", requires = "remote")]
    pub location: Option<String>,
}

/// `reqflo export`
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The journey to bundle.
    #[arg(value_name = "JOURNEY")]
    pub journey: String,
    /// Write to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Resolve the secrets through this environment's chain only (default:
    /// every environment's), to check the bundle holds none of their values.
    #[arg(long = "env", short = 'e', value_name = "NAME")]
    pub environment: Option<String>,
    /// Do not resolve the journey's secrets: the bundle is then not checked
    /// for their values.
    #[arg(long)]
    pub no_resolve: bool,
}

/// `reqflo check`
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// What to check.
    #[command(flatten)]
    pub selection: Selection,
    /// Also resolve each secret and report whether it resolves (never its value).
    #[arg(long)]
    pub resolve: bool,
}

/// `NAME=VALUE` pairs from a repeatable flag.
pub fn parse_pairs(flag: &str, raw: &[String]) -> Result<IndexMap<String, String>> {
    raw.iter()
        .map(|pair| {
            pair.split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| Error::Usage(format!("{flag} takes NAME=VALUE, got `{pair}`")))
        })
        .collect()
}
