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
pub const KEEP_FLAG: &str = "--keep";
pub const FILE_NAME: &str = "openshell-launcher";

/// What the launcher was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// Copy the launcher's own binary to this path (or into this directory).
    CopySelf(OsString),
    /// Scrub the environment down to `keep`, then exec `program` with `args`.
    Exec {
        keep: Vec<String>,
        program: OsString,
        args: Vec<OsString>,
    },
}

/// `copy-self DEST` or `--keep A,B,... -- PROGRAM ARGS...`.
pub fn parse_args(args: &[OsString]) -> Result<Launch, String> {
    const USAGE: &str = "usage: openshell-launcher copy-self DEST | --keep VAR,... -- PROGRAM [ARG...]";
    match args {
        [cmd, dest] if cmd == COPY_SELF => Ok(Launch::CopySelf(dest.clone())),
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
            })
        }
        _ => Err(USAGE.into()),
    }
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
mod tests {
    use super::*;

    fn os(s: &str) -> OsString {
        s.into()
    }

    #[test]
    fn each_variable_kept_or_dropped_and_why() {
        let keep: Vec<String> = ["OPENSHELL_SANDBOX_ID", "OPENSHELL_ENDPOINT", "OPENSHELL_LOG_LEVEL"]
            .map(str::to_string)
            .to_vec();
        let cases = [
            (
                "OPENSHELL_SANDBOX_ID",
                Verdict::Rendered,
                "the driver's identity for the sandbox",
            ),
            (
                "OPENSHELL_LOG_LEVEL",
                Verdict::Rendered,
                "rendered: the pod's value beats the image's",
            ),
            (
                "OPENSHELL_POLICY_RULES",
                Verdict::Dropped,
                "a local policy would replace the gateway's",
            ),
            ("OPENSHELL_POLICY_DATA", Verdict::Dropped, "same"),
            (
                "OPENSHELL_TLS_CA",
                Verdict::Dropped,
                "trust anchors are the driver's to give",
            ),
            (
                "OPENSHELL_NETWORK_BINARY_IDENTITY",
                Verdict::Dropped,
                "relaxes network policy",
            ),
            ("OPENSHELL_INFERENCE_ROUTES", Verdict::Dropped, "local inference routes"),
            (
                "OPENSHELL_SANDBOX_TOKEN",
                Verdict::Dropped,
                "a token source the driver did not give",
            ),
            ("OPENSHELL_", Verdict::Dropped, "the bare prefix"),
            (
                "openshell_policy_rules",
                Verdict::NotSupervisor,
                "names are case-sensitive; the supervisor reads upper case",
            ),
            ("PATH", Verdict::NotSupervisor, "the image's own environment"),
            ("GREETING", Verdict::NotSupervisor, "the user's variables"),
            (
                "XOPENSHELL_POLICY_RULES",
                Verdict::NotSupervisor,
                "prefix only at the start",
            ),
        ];
        for (name, want, why) in cases {
            assert_eq!(verdict(OsStr::new(name), &keep), want, "{name}: {why}");
        }
    }

    #[test]
    fn scrub_keeps_order_and_reports_what_it_dropped() {
        let env = [
            (os("PATH"), os("/usr/bin")),
            (os("OPENSHELL_POLICY_DATA"), os("/etc/p.yaml")),
            (os("OPENSHELL_ENDPOINT"), os("http://gw")),
            (os("OPENSHELL_POLICY_RULES"), os("/etc/p.rego")),
        ];
        let (kept, dropped) = scrub(env, &["OPENSHELL_ENDPOINT".into()]);
        assert_eq!(
            kept,
            vec![
                (os("PATH"), os("/usr/bin")),
                (os("OPENSHELL_ENDPOINT"), os("http://gw"))
            ]
        );
        assert_eq!(dropped, ["OPENSHELL_POLICY_DATA", "OPENSHELL_POLICY_RULES"]);
    }

    #[test]
    fn arguments() {
        let args = |a: &[&str]| a.iter().map(|s| os(s)).collect::<Vec<_>>();
        assert_eq!(
            parse_args(&args(&["copy-self", "/opt/bin"])),
            Ok(Launch::CopySelf(os("/opt/bin")))
        );
        assert_eq!(
            parse_args(&args(&[
                "--keep",
                "OPENSHELL_A,OPENSHELL_B",
                "--",
                "/sup",
                "--workdir",
                "/sandbox"
            ])),
            Ok(Launch::Exec {
                keep: vec!["OPENSHELL_A".into(), "OPENSHELL_B".into()],
                program: os("/sup"),
                args: args(&["--workdir", "/sandbox"]),
            })
        );
        for bad in [
            &[][..],
            &["--keep", "A"][..],
            &["--keep", "A", "/sup"][..],
            &["copy-self"][..],
        ] {
            assert!(parse_args(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
