//! The launcher: the agent container's entrypoint, in front of the supervisor. Kubernetes cannot
//! remove a variable an image's `ENV` sets, and the supervisor reads settings that change what it
//! enforces from its environment (a local policy file first of all). The launcher removes every
//! `OPENSHELL_*` variable the driver did not render, then `execve`s the supervisor, which stays
//! PID 1. Pure logic here; `src/bin/openshell-launcher.rs` is the I/O. std only, so the binary
//! stays small and links statically.

use std::ffi::{OsStr, OsString};

/// The prefix of every supervisor setting (crates/openshell-core/src/sandbox_env.rs).
pub const SUPERVISOR_PREFIX: &str = "OPENSHELL_";
pub const COPY_SELF: &str = "copy-self";
/// `seed-workspace SRC DEST`: the workspace init container (`kubernetes::workspace_volume`).
pub const SEED_WORKSPACE: &str = "seed-workspace";
pub const OWNER_FLAG: &str = "--owner";
pub const KEEP_FLAG: &str = "--keep";
/// `wait-identity DIR --keep ... -- PROGRAM ...`: a warm pool member (`warm_identity`).
pub const WAIT_IDENTITY: &str = "wait-identity";
pub const FILE_NAME: &str = "openshell-launcher";

/// What the launcher was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// Copy the launcher's own binary to this path (or into this directory).
    CopySelf(OsString),
    /// Copy the image's `SRC` into the workspace volume at `DEST`, once; owned by `owner`
    /// (`--owner UID:GID`) instead of the image's owners when given.
    SeedWorkspace {
        source: OsString,
        dest: OsString,
        owner: Option<(u32, u32)>,
    },
    /// Scrub the environment down to `keep`, then exec `program` with `args`; with
    /// `identity_dir`, only once a bind has delivered the sandbox's identity there, whose
    /// variables are added.
    Exec {
        keep: Vec<String>,
        program: OsString,
        args: Vec<OsString>,
        identity_dir: Option<OsString>,
    },
}

/// `copy-self DEST` or `--keep A,B,... -- PROGRAM ARGS...`.
pub fn parse_args(args: &[OsString]) -> Result<Launch, String> {
    const USAGE: &str = "usage: openshell-launcher copy-self DEST | seed-workspace SRC DEST [--owner UID:GID] | [wait-identity DIR] --keep VAR,... -- PROGRAM [ARG...]";
    match args {
        [cmd, dir, rest @ ..] if cmd == WAIT_IDENTITY => match parse_args(rest) {
            Ok(Launch::Exec {
                keep,
                program,
                args,
                identity_dir: None,
            }) => Ok(Launch::Exec {
                keep,
                program,
                args,
                identity_dir: Some(dir.clone()),
            }),
            _ => Err(USAGE.into()),
        },
        [cmd, dest] if cmd == COPY_SELF => Ok(Launch::CopySelf(dest.clone())),
        [cmd, source, dest] if cmd == SEED_WORKSPACE => Ok(Launch::SeedWorkspace {
            source: source.clone(),
            dest: dest.clone(),
            owner: None,
        }),
        [cmd, source, dest, flag, owner] if cmd == SEED_WORKSPACE && flag == OWNER_FLAG => Ok(Launch::SeedWorkspace {
            source: source.clone(),
            dest: dest.clone(),
            owner: Some(parse_owner(owner).ok_or("--owner takes UID:GID")?),
        }),
        [flag, keep, sep, program, rest @ ..] if flag == KEEP_FLAG && sep == "--" => {
            let keep = keep
                .to_str()
                .ok_or("--keep must be ASCII variable names")?
                .split(',')
                .filter(|k| !k.is_empty())
                .map(str::to_string)
                .collect();
            Ok(Launch::Exec {
                keep,
                program: program.clone(),
                args: rest.to_vec(),
                identity_dir: None,
            })
        }
        _ => Err(USAGE.into()),
    }
}

/// `UID:GID`, both numeric.
fn parse_owner(text: &OsStr) -> Option<(u32, u32)> {
    let (uid, gid) = text.to_str()?.split_once(':')?;
    Some((uid.parse().ok()?, gid.parse().ok()?))
}

/// Why a variable is kept or dropped, for the scrub table and the launcher's one log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not a supervisor setting: the image's and the user's variables pass.
    NotSupervisor,
    /// Rendered by the driver: its value is the pod's, which wins over the image's.
    Rendered,
    /// A supervisor setting the driver did not render: only the image can have set it.
    Dropped,
}

pub fn verdict(name: &OsStr, keep: &[String]) -> Verdict {
    let Some(name) = name.to_str() else {
        // Not UTF-8, so not a name the supervisor reads; but never let it pose as one.
        return if name.as_encoded_bytes().starts_with(SUPERVISOR_PREFIX.as_bytes()) {
            Verdict::Dropped
        } else {
            Verdict::NotSupervisor
        };
    };
    if !name.starts_with(SUPERVISOR_PREFIX) {
        Verdict::NotSupervisor
    } else if keep.iter().any(|k| k == name) {
        Verdict::Rendered
    } else {
        Verdict::Dropped
    }
}

/// The environment the supervisor gets, and the names that were dropped.
pub fn scrub(
    env: impl IntoIterator<Item = (OsString, OsString)>,
    keep: &[String],
) -> (Vec<(OsString, OsString)>, Vec<String>) {
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for (name, value) in env {
        match verdict(&name, keep) {
            Verdict::Dropped => dropped.push(name.to_string_lossy().into_owned()),
            Verdict::NotSupervisor | Verdict::Rendered => kept.push((name, value)),
        }
    }
    dropped.sort();
    (kept, dropped)
}

#[cfg(test)]
#[path = "launcher_tests.rs"]
mod tests;
