//! Tier 1: the tests of `copies`.

use k8s_openapi::ByteString;

use super::*;

fn config(mode: WorkspaceMode, tls: &str, pulls: &[&str]) -> DriverConfig {
    let mut c = DriverConfig::defaults();
    c.workspace_mode = mode;
    c.client_tls_secret = tls.into();
    c.image_pull_secrets = pulls.iter().map(|s| s.to_string()).collect();
    c
}

#[test]
fn what_is_copied_by_mode() {
    let names = |c: &DriverConfig| -> Vec<(String, &'static str)> {
        copied_secrets(c).into_iter().map(|s| (s.name, s.flag)).collect()
    };
    let tls = ("client-tls".to_string(), "--client-tls-secret");
    let reg = ("regcred".to_string(), "--image-pull-secrets");
    let cases = [
        (config(WorkspaceMode::Shared, "client-tls", &["regcred"]), vec![]),
        (
            config(WorkspaceMode::Managed, "client-tls", &["regcred"]),
            vec![tls.clone(), reg.clone()],
        ),
        (
            config(WorkspaceMode::Managed, "", &["regcred", "regcred"]),
            vec![reg.clone()],
        ),
        // One Secret named by both flags is copied once.
        (
            config(WorkspaceMode::Managed, "client-tls", &["client-tls"]),
            vec![tls.clone()],
        ),
        // Operator mode: the platform team provides pull Secrets in its namespaces.
        (
            config(WorkspaceMode::Operator, "client-tls", &["regcred"]),
            vec![tls.clone()],
        ),
        (config(WorkspaceMode::Managed, "", &[]), vec![]),
    ];
    for (c, want) in cases {
        assert_eq!(
            names(&c),
            want,
            "{:?} {:?} {:?}",
            c.workspace_mode,
            c.client_tls_secret,
            c.image_pull_secrets
        );
    }
}

#[test]
fn a_copy_is_the_sources_type_and_data_labelled_as_ours() {
    let source = Secret {
        metadata: ObjectMeta {
            name: Some("regcred".into()),
            namespace: Some("openshell-system".into()),
            labels: Some([("team".to_string(), "infra".to_string())].into()),
            annotations: Some(
                [(
                    "kubectl.kubernetes.io/last-applied-configuration".to_string(),
                    "{}".to_string(),
                )]
                .into(),
            ),
            resource_version: Some("42".into()),
            uid: Some("u-1".into()),
            ..Default::default()
        },
        type_: Some("kubernetes.io/dockerconfigjson".into()),
        data: Some([(".dockerconfigjson".to_string(), ByteString(b"{}".to_vec()))].into()),
        ..Default::default()
    };
    let copy = secret_copy(&source, "regcred", "openshell-ws-a", Ownership::new("gw"));
    assert_eq!(copy.metadata.namespace.as_deref(), Some("openshell-ws-a"));
    assert_eq!(copy.type_, source.type_);
    assert_eq!(copy.data, source.data);
    let labels = copy.metadata.labels.clone().expect("labels");
    assert!(Ownership::new("gw").owns(&labels));
    assert_eq!(labels[LABEL_COPY_OF], "regcred");
    assert!(!labels.contains_key("team"), "the source's own labels stay with it");
    assert!(
        copy.metadata.annotations.is_none() && copy.metadata.uid.is_none() && copy.metadata.resource_version.is_none()
    );

    let mut stale = copy.clone();
    assert!(copy_is_current(&stale, &copy));
    stale.data = Some([(".dockerconfigjson".to_string(), ByteString(b"old".to_vec()))].into());
    assert!(!copy_is_current(&stale, &copy), "changed data is written");
    let mut relabelled = copy.clone();
    relabelled.metadata.labels = Some(Ownership::new("gw").labels());
    assert!(
        !copy_is_current(&relabelled, &copy),
        "a copy without its copy-of label is relabelled"
    );
}

#[test]
fn render_notes_say_what_goes_into_the_namespace() {
    assert!(render_notes(&config(WorkspaceMode::Shared, "client-tls", &[]), "x").is_empty());
    let mut managed = config(WorkspaceMode::Managed, "client-tls", &["regcred"]);
    managed.resolve_mode_defaults();
    let note = render_notes(&managed, "openshell-ws-a").join("\n");
    assert!(
        note.contains("namespace openshell-ws-a is made by the driver"),
        "{note}"
    );
    assert!(note.contains("ServiceAccount openshell-sandbox"), "{note}");
    assert!(
        note.contains("client-tls, regcred from namespace openshell-system"),
        "{note}"
    );
    let mut operator = config(WorkspaceMode::Operator, "client-tls", &[]);
    operator.operator_namespace_label = "openshell.ai/workspace=true".into();
    let note = render_notes(&operator, "team-a").join("\n");
    assert!(
        note.contains("team-a must be on the allowlist (namespaces labelled openshell.ai/workspace=true)"),
        "{note}"
    );
    assert!(note.contains("ServiceAccount default"), "{note}");
    assert!(
        note.contains(
            "client-tls from namespace openshell-system, labelled openshell.ai/copy-of, written on each create"
        ),
        "{note}"
    );
}
