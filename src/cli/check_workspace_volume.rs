//! `check` line for `--workspace-volume`: a persistent workspace needs a StorageClass that can
//! make its claims, the one named or the cluster's default; without it every sandbox stays
//! Pending. The driver's own RBAC has no rights on StorageClasses (it needs none to run), so a
//! refused read is a warning that says what to look at.

use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, ListParams};

use crate::cli::check_line::{CheckLine, Verdict, line};
use crate::config::DriverConfig;
use crate::config::workspace_volume::WorkspaceVolumeMode;
use crate::error::DriverError;
use crate::kubernetes::client::KubeCalls;

const CHECK: &str = "workspace-volume";
const DEFAULT_CLASS_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";

pub(crate) async fn workspace_volume_line(kube: &KubeCalls, config: &DriverConfig) -> CheckLine {
    let ws = &config.workspace_volume;
    let retain = if ws.retain { ", kept after delete" } else { "" };
    match ws.mode {
        WorkspaceVolumeMode::Off => return line(CHECK, Verdict::Pass, "off: /sandbox is the image's own directory"),
        WorkspaceVolumeMode::Ephemeral => {
            return line(
                CHECK,
                Verdict::Pass,
                "ephemeral: an emptyDir at /sandbox, seeded from the image",
            );
        }
        WorkspaceVolumeMode::Persistent => {}
    }
    let what = format!(
        "persistent: a {} {} claim per sandbox{retain}",
        ws.size,
        ws.access_mode.as_k8s()
    );
    let classes: Api<StorageClass> = Api::all(kube.client.clone());
    if !ws.storage_class.is_empty() {
        return match kube.call("get", "storageclasses", classes.get(&ws.storage_class)).await {
            Ok(class) => line(
                CHECK,
                Verdict::Pass,
                format!("{what}, StorageClass {} ({})", ws.storage_class, class.provisioner),
            ),
            Err(DriverError::NotFound(_)) => line(
                CHECK,
                Verdict::Fail,
                format!(
                    "{what}: no StorageClass {}: every sandbox would stay Pending",
                    ws.storage_class
                ),
            ),
            Err(e) => unreadable(&what, &e),
        };
    }
    match kube
        .call("list", "storageclasses", classes.list(&ListParams::default()))
        .await
    {
        Ok(list) => default_class_verdict(&what, &list.items),
        Err(e) => unreadable(&what, &e),
    }
}

/// The cluster's default class, which a claim without `storageClassName` gets.
pub(crate) fn default_class_verdict(what: &str, classes: &[StorageClass]) -> CheckLine {
    let default = classes.iter().find(|c| {
        c.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
            .is_some_and(|v| v == "true")
    });
    match default {
        Some(class) => line(
            CHECK,
            Verdict::Pass,
            format!(
                "{what}, the default StorageClass {} ({})",
                class.metadata.name.as_deref().unwrap_or_default(),
                class.provisioner
            ),
        ),
        None => line(
            CHECK,
            Verdict::Warn,
            format!(
                "{what}: the cluster has no default StorageClass, so claims stay Pending unless a volume is provided by hand: set --workspace-storage-class, or --workspace-volume ephemeral"
            ),
        ),
    }
}

fn unreadable(what: &str, e: &DriverError) -> CheckLine {
    line(
        CHECK,
        Verdict::Warn,
        format!("{what}; cannot read StorageClasses ({e}): make sure one can provision the claims"),
    )
}
