//! `client`: a small gRPC client for a running driver, for operators and the demo.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand, ValueEnum};
use futures::StreamExt;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tonic::transport::{Channel, Endpoint};

use crate::proto::compute_driver_client::ComputeDriverClient;
use crate::proto::json::to_json;
use crate::proto::phase::gateway_phase;
use crate::proto::watch_sandboxes_event::Payload;
use crate::proto::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The driver's socket.
    #[arg(
        long,
        env = "OPENSHELL_DRIVER_SOCKET",
        default_value = "/var/run/openshell-driver/driver.sock"
    )]
    pub socket: PathBuf,
    #[arg(long, short = 'o', value_enum, default_value = "table", global = true)]
    pub output: Output,
    #[command(subcommand)]
    pub command: ClientCommand,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// GetCapabilities.
    Capabilities,
    /// ValidateSandboxCreate then CreateSandbox.
    Create(CreateArgs),
    Get {
        id: String,
    },
    List,
    /// Follow WatchSandboxes until interrupted.
    Watch,
    /// Wait until a sandbox reaches a phase (ready, stopped, deleted).
    Wait {
        id: String,
        #[arg(long = "for", default_value = "ready")]
        phase: String,
        #[arg(long, default_value = "120s", value_parser = |s: &str| humantime::parse_duration(s))]
        timeout: Duration,
    },
    Stop {
        id: String,
    },
    Start {
        id: String,
    },
    Delete {
        id: String,
    },
    /// ResolveSandboxEndpoint.
    Endpoint {
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Request file (JSON/YAML); flags below fill a request when absent.
    #[arg(long, short = 'f')]
    pub file: Option<PathBuf>,
    #[arg(long)]
    pub name: Option<String>,
    /// Sandbox id (a new UUID when absent).
    #[arg(long)]
    pub id: Option<String>,
    #[arg(long, default_value = "default")]
    pub workspace: String,
    #[arg(long, default_value = "")]
    pub image: String,
    /// The command, repeated per argument (default: /bin/bash -l).
    #[arg(long = "command", num_args = 1..)]
    pub command: Vec<String>,
    /// KEY=VALUE, repeatable.
    #[arg(long = "env")]
    pub env: Vec<String>,
    #[arg(long, default_value = "")]
    pub cpu: String,
    #[arg(long, default_value = "")]
    pub memory: String,
    #[arg(long)]
    pub gpu: Option<u32>,
}

/// A channel to the driver's Unix socket (the authority is meaningless, as for the gateway).
pub async fn channel(socket: &Path) -> anyhow::Result<Channel> {
    let path = socket.to_path_buf();
    Endpoint::from_static("http://driver.invalid")
        .connect_with_connector(tower::service_fn(move |_| {
            let path = path.clone();
            async move { tokio::net::UnixStream::connect(path).await.map(TokioIo::new) }
        }))
        .await
        .map_err(|e| anyhow::anyhow!("connecting to {}: {e}", socket.display()))
}

pub async fn connect(socket: &Path) -> anyhow::Result<ComputeDriverClient<Channel>> {
    Ok(ComputeDriverClient::new(channel(socket).await?))
}

/// A gRPC failure as the CLI reports it: code and message.
#[derive(Debug, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct RpcFailed {
    pub code: tonic::Code,
    pub message: String,
}

impl From<tonic::Status> for RpcFailed {
    fn from(s: tonic::Status) -> Self {
        Self {
            code: s.code(),
            message: s.message().to_string(),
        }
    }
}

fn print(output: Output, value: &Value, table: impl FnOnce() -> String) -> anyhow::Result<()> {
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(value)?),
        Output::Yaml => print!("{}", serde_yaml::to_string(value)?),
        Output::Table => print!("{}", table()),
    }
    Ok(())
}

fn table(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            r.iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
                + "\n"
        })
        .collect()
}

fn sandbox_rows(sandboxes: &[DriverSandbox]) -> String {
    let mut rows = vec![vec![
        "ID".into(),
        "NAME".into(),
        "WORKSPACE".into(),
        "PHASE".into(),
        "INSTANCE".into(),
    ]];
    for s in sandboxes {
        let instance = s.status.as_ref().map(|x| x.instance_id.clone()).unwrap_or_default();
        rows.push(vec![
            s.id.clone(),
            s.name.clone(),
            s.workspace.clone(),
            gateway_phase(s).into(),
            instance,
        ]);
    }
    table(&rows)
}

fn create_request(args: CreateArgs) -> anyhow::Result<DriverSandbox> {
    let mut sandbox = match &args.file {
        Some(path) => crate::cli::read_sandbox(&std::fs::read_to_string(path)?)?,
        None => {
            let name = args
                .name
                .clone()
                .ok_or_else(|| anyhow::anyhow!("--name or --file is required"))?;
            crate::cli::read_sandbox(&serde_json::to_string(&json!({ "name": name }))?)?
        }
    };
    if let Some(name) = args.name {
        sandbox.name = name;
    }
    if let Some(id) = args.id {
        sandbox.id = id;
    }
    if sandbox.workspace.is_empty() {
        sandbox.workspace = args.workspace;
    }
    let spec = sandbox.spec.get_or_insert_with(Default::default);
    if !args.command.is_empty() {
        spec.command = args.command;
    }
    for pair in args.env {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--env {pair:?}: expected KEY=VALUE"))?;
        spec.environment.insert(k.to_string(), v.to_string());
    }
    if let Some(count) = args.gpu {
        spec.resource_requirements = Some(ResourceRequirements {
            gpu: Some(GpuResourceRequirements { count: Some(count) }),
        });
    }
    let template = spec.template.get_or_insert_with(Default::default);
    if !args.image.is_empty() {
        template.image = args.image;
    }
    let resources = template.resources.get_or_insert_with(Default::default);
    if !args.cpu.is_empty() {
        resources.cpu_limit = args.cpu;
    }
    if !args.memory.is_empty() {
        resources.memory_limit = args.memory;
    }
    Ok(sandbox)
}

/// Runs one client command; errors carry the gRPC code for the caller to print.
pub async fn run(args: ClientArgs) -> anyhow::Result<()> {
    let mut client = connect(&args.socket).await?;
    let out = args.output;
    match args.command {
        ClientCommand::Capabilities => capabilities(&mut client, out).await,
        ClientCommand::Create(create) => create_sandbox(&mut client, out, create).await,
        ClientCommand::Get { id } => get(&mut client, out, id).await,
        ClientCommand::List => list(&mut client, out).await,
        ClientCommand::Watch => watch(&mut client, out).await,
        ClientCommand::Wait { id, phase, timeout } => wait(&mut client, &id, &phase, timeout).await,
        ClientCommand::Stop { id } => stop(&mut client, out, id).await,
        ClientCommand::Start { id } => start(&mut client, out, id).await,
        ClientCommand::Delete { id } => delete(&mut client, out, id).await,
        ClientCommand::Endpoint { id } => endpoint(&mut client, out, id).await,
    }
}

type Client = ComputeDriverClient<Channel>;

async fn capabilities(client: &mut Client, out: Output) -> anyhow::Result<()> {
    let c = client
        .get_capabilities(GetCapabilitiesRequest {})
        .await
        .map_err(RpcFailed::from)?
        .into_inner();
    print(out, &to_json(&c), || {
        table(&[
            vec!["DRIVER".into(), "VERSION".into(), "DEFAULT IMAGE".into()],
            vec![c.driver_name.clone(), c.driver_version.clone(), c.default_image.clone()],
        ])
    })
}

async fn create_sandbox(client: &mut Client, out: Output, create: CreateArgs) -> anyhow::Result<()> {
    let sandbox = create_request(create)?;
    client
        .validate_sandbox_create(ValidateSandboxCreateRequest {
            sandbox: Some(sandbox.clone()),
        })
        .await
        .map_err(RpcFailed::from)?;
    client
        .create_sandbox(CreateSandboxRequest {
            sandbox: Some(sandbox.clone()),
        })
        .await
        .map_err(RpcFailed::from)?;
    let v = json!({"id": sandbox.id, "name": sandbox.name, "workspace": sandbox.workspace});
    print(out, &v, || format!("{}\n", sandbox.id))
}

async fn get(client: &mut Client, out: Output, id: String) -> anyhow::Result<()> {
    let s = client
        .get_sandbox(GetSandboxRequest {
            sandbox_id: id,
            sandbox_name: String::new(),
        })
        .await
        .map_err(RpcFailed::from)?;
    let s = s.into_inner().sandbox.unwrap_or_default();
    print(out, &to_json(&s), || sandbox_rows(std::slice::from_ref(&s)))
}

async fn list(client: &mut Client, out: Output) -> anyhow::Result<()> {
    let list = client
        .list_sandboxes(ListSandboxesRequest {})
        .await
        .map_err(RpcFailed::from)?
        .into_inner()
        .sandboxes;
    print(out, &Value::Array(list.iter().map(to_json).collect()), || {
        sandbox_rows(&list)
    })
}

async fn watch(client: &mut Client, out: Output) -> anyhow::Result<()> {
    let mut stream = client
        .watch_sandboxes(WatchSandboxesRequest {})
        .await
        .map_err(RpcFailed::from)?
        .into_inner();
    while let Some(event) = stream.next().await {
        let event = event.map_err(RpcFailed::from)?;
        match out {
            Output::Table => println!("{}", event_line(&event)),
            _ => println!("{}", serde_json::to_string(&to_json(&event))?),
        }
    }
    Ok(())
}

async fn stop(client: &mut Client, out: Output, id: String) -> anyhow::Result<()> {
    client
        .stop_sandbox(StopSandboxRequest {
            sandbox_id: id.clone(),
            sandbox_name: String::new(),
        })
        .await
        .map_err(RpcFailed::from)?;
    print(out, &json!({"stopped": id}), || format!("stopped {id}\n"))
}

async fn start(client: &mut Client, out: Output, id: String) -> anyhow::Result<()> {
    client
        .start_sandbox(StartSandboxRequest {
            sandbox_id: id.clone(),
            sandbox_name: String::new(),
        })
        .await
        .map_err(RpcFailed::from)?;
    print(out, &json!({"started": id}), || format!("started {id}\n"))
}

async fn delete(client: &mut Client, out: Output, id: String) -> anyhow::Result<()> {
    let r = client
        .delete_sandbox(DeleteSandboxRequest {
            sandbox_id: id.clone(),
            sandbox_name: String::new(),
        })
        .await
        .map_err(RpcFailed::from)?;
    let deleted = r.into_inner().deleted;
    print(out, &json!({"id": id, "deleted": deleted}), || {
        if deleted {
            format!("deleted {id}\n")
        } else {
            format!("{id} was already absent\n")
        }
    })
}

async fn endpoint(client: &mut Client, out: Output, id: String) -> anyhow::Result<()> {
    let e = client
        .resolve_sandbox_endpoint(ResolveSandboxEndpointRequest {
            sandbox_id: id,
            sandbox_name: String::new(),
        })
        .await
        .map_err(RpcFailed::from)?
        .into_inner();
    print(out, &to_json(&e), || {
        table(&[
            vec![
                "POD IPS".into(),
                "NODE".into(),
                "INSTANCE".into(),
                "SERVICE".into(),
                "ROUTE".into(),
            ],
            vec![
                e.pod_ips.join(","),
                e.node_name.clone(),
                e.instance_id.clone(),
                e.service_fqdn.clone(),
                e.route_host.clone(),
            ],
        ])
    })
}

fn event_line(e: &WatchSandboxesEvent) -> String {
    match &e.payload {
        Some(Payload::Sandbox(s)) => {
            let s = s.sandbox.clone().unwrap_or_default();
            format!("sandbox  {}  {}  {}", s.id, s.name, gateway_phase(&s))
        }
        Some(Payload::Deleted(d)) => format!("deleted  {}", d.sandbox_id),
        Some(Payload::PlatformEvent(p)) => {
            let ev = p.event.clone().unwrap_or_default();
            format!("event    {}  {} {}: {}", p.sandbox_id, ev.r#type, ev.reason, ev.message)
        }
        None => "empty".into(),
    }
}

/// Follows the watch until `id` reaches `phase` ("deleted" waits for the deleted event).
async fn wait(client: &mut Client, id: &str, phase: &str, timeout: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut stream = client
        .watch_sandboxes(WatchSandboxesRequest {})
        .await
        .map_err(RpcFailed::from)?
        .into_inner();
    let mut last: HashMap<String, &'static str> = HashMap::new();
    let follow = async {
        while let Some(event) = stream.next().await {
            match event.map_err(RpcFailed::from)?.payload {
                Some(Payload::Sandbox(s)) => {
                    let s = s.sandbox.unwrap_or_default();
                    let p = gateway_phase(&s);
                    if s.id == id && last.insert(s.id.clone(), p) != Some(p) {
                        println!("{:>6.2}s  {id}  {p}", started.elapsed().as_secs_f64());
                    }
                    if s.id == id && p == phase {
                        return Ok(());
                    }
                    if s.id == id && p == "error" {
                        anyhow::bail!("sandbox {id} is in phase error");
                    }
                }
                Some(Payload::Deleted(d)) if d.sandbox_id == id && phase == "deleted" => {
                    println!("{:>6.2}s  {id}  deleted", started.elapsed().as_secs_f64());
                    return Ok(());
                }
                _ => {}
            }
        }
        anyhow::bail!("the watch stream ended")
    };
    tokio::time::timeout(timeout, follow)
        .await
        .map_err(|_| anyhow::anyhow!("sandbox {id} did not reach {phase} within {timeout:?}"))?
}
