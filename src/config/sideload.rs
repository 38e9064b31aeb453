//! `--supervisor-sideload`: how the supervisor reaches the agent container. The choice for
//! `auto` and the pod parts are `kubernetes::sideload`'s.

use clap::ValueEnum;

/// `--supervisor-sideload`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SupervisorSideload {
    /// image-volume where the API server supports it, else init-container.
    Auto,
    /// Mount the supervisor's (and the launcher's) image read-only: no init container, no copy.
    ImageVolume,
    /// Init containers copy both binaries into an emptyDir (`copy-self`).
    InitContainer,
}

impl SupervisorSideload {
    pub fn as_flag(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::ImageVolume => "image-volume",
            Self::InitContainer => "init-container",
        }
    }

    /// What rendering does. The provisioner replaces `auto` with the cluster's answer before
    /// it renders; offline (`render`, tests) `auto` renders as on Kubernetes 1.36 or newer.
    pub fn rendered(self) -> Self {
        match self {
            Self::Auto | Self::ImageVolume => Self::ImageVolume,
            Self::InitContainer => Self::InitContainer,
        }
    }
}
