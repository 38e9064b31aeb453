//! The agent container's entrypoint: scrubs the supervisor settings the driver did not render,
//! then execs the supervisor (see `src/launcher.rs`).

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

// The pure logic is compiled in directly, not through the driver's library: the launcher links
// nothing but std, so it stays small and static.
#[path = "../launcher.rs"]
mod launcher;
// The driver writes what the launcher reads: the encoder is the driver's half.
#[allow(dead_code)]
#[path = "../warm_identity.rs"]
mod warm_identity;
#[path = "../workspace_seed.rs"]
mod workspace_seed;

use launcher::{FILE_NAME, Launch, parse_args, scrub};

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let result = match parse_args(&args) {
        Ok(Launch::CopySelf(dest)) => copy_self(Path::new(&dest)),
        Ok(Launch::SeedWorkspace { source, dest, owner }) => {
            seed_workspace(Path::new(&source), Path::new(&dest), owner)
        }
        Ok(Launch::Exec {
            keep,
            program,
            args,
            identity_dir,
        }) => {
            let (mut env, dropped) = scrub(std::env::vars_os(), &keep);
            if !dropped.is_empty() {
                // Names only: values can be secrets.
                eprintln!(
                    "openshell-launcher: removed supervisor settings the driver did not render: {}",
                    dropped.join(", ")
                );
            }
            if let Some(dir) = identity_dir {
                match wait_for_identity(Path::new(&dir)) {
                    Ok(delivered) => env = warm_identity::with_identity(env, delivered),
                    Err(e) => return finish(Err(e)),
                }
            }
            // Only returns on failure; on success the supervisor replaces this process (same PID).
            let err = Command::new(&program).args(args).env_clear().envs(env).exec();
            Err(format!("cannot exec {}: {err}", Path::new(&program).display()))
        }
        Err(usage) => Err(usage),
    };
    finish(result)
}

fn finish(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("openshell-launcher: {e}");
            ExitCode::from(127)
        }
    }
}

/// A warm pool member: waits, for as long as it takes (the pool retires members past their
/// age), until a bind delivers the identity, then returns the variables to add.
fn wait_for_identity(dir: &Path) -> Result<Vec<(std::ffi::OsString, std::ffi::OsString)>, String> {
    let mut said = None;
    loop {
        match warm_identity::read_delivery(dir) {
            warm_identity::Delivery::Bound { sandbox_id, env } => {
                eprintln!("openshell-launcher: bound to sandbox {sandbox_id}; starting the supervisor");
                return Ok(env);
            }
            warm_identity::Delivery::Refused(why) => return Err(why),
            warm_identity::Delivery::Waiting(why) => {
                if said != Some(why) {
                    eprintln!("openshell-launcher: warm: {why}");
                    said = Some(why);
                }
                std::thread::sleep(IDENTITY_POLL);
            }
        }
    }
}

/// The kubelet rewrites the volume within ~0.2 s of a bind; a poll adds at most this much.
const IDENTITY_POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// Copies this binary (an init container delivers it into the pod's emptyDir; no shell needed).
fn copy_self(dest: &Path) -> Result<(), String> {
    let me = std::env::current_exe().map_err(|e| format!("cannot find my own binary: {e}"))?;
    let target: PathBuf = if dest.is_dir() {
        dest.join(FILE_NAME)
    } else {
        dest.to_path_buf()
    };
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    std::fs::copy(&me, &target).map_err(|e| format!("copying to {}: {e}", target.display()))?;
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("{}: {e}", target.display()))
}

/// The workspace init container: one line either way, for `kubectl logs`.
fn seed_workspace(source: &Path, dest: &Path, owner: Option<(u32, u32)>) -> Result<(), String> {
    let done = workspace_seed::seed(source, dest, owner).map_err(|e| format!("seeding the workspace: {e}"))?;
    if done.already {
        eprintln!(
            "openshell-launcher: workspace already seeded ({})",
            workspace_seed::SEEDED_MARKER
        );
    } else {
        eprintln!(
            "openshell-launcher: seeded the workspace from {}: {} dirs, {} files ({} bytes), {} links, {} skipped, owners {}",
            source.display(),
            done.dirs,
            done.files,
            done.bytes,
            done.links,
            done.skipped,
            if done.owners_kept { "kept" } else { "the process's own" }
        );
    }
    Ok(())
}
