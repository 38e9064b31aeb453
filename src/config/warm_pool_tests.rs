use std::time::Duration;

use super::*;

const PROFILE: &str = r#"
profiles:
  - name: python
    size: 3
    maxAge: 30m
    template:
      image: quay.io/example/python:3
      resources: {cpuRequest: 500m, memoryLimit: 1Gi}
      platformConfig: {runtime_class_name: kata}
    resourceRequirements: {gpu: {count: 1}}
  - name: plain
    workspace: team
    size: 0
    template: {image: quay.io/example/plain:1}
"#;

#[test]
fn profiles_read_in_the_gateways_json_names() {
    let profiles = parse_profiles(PROFILE).expect("parses");
    let [python, plain] = &profiles[..] else {
        panic!("two profiles: {profiles:?}")
    };
    assert_eq!(
        (python.name.as_str(), python.workspace.as_str(), python.size),
        ("python", "", 3)
    );
    assert_eq!(python.max_age, Duration::from_secs(1800));
    let template = python.spec.template.clone().unwrap_or_default();
    assert_eq!(template.image, "quay.io/example/python:3");
    let resources = template.resources.unwrap_or_default();
    assert_eq!(
        (resources.cpu_request.as_str(), resources.memory_limit.as_str()),
        ("500m", "1Gi")
    );
    assert!(template.platform_config.is_some());
    assert!(
        python
            .spec
            .resource_requirements
            .as_ref()
            .and_then(|r| r.gpu.as_ref())
            .is_some()
    );
    assert_eq!(
        (plain.workspace.as_str(), plain.size, plain.max_age),
        ("team", 0, DEFAULT_MAX_AGE)
    );
    assert!(parse_profiles("profiles: []").expect("empty").is_empty());
}

#[test]
fn a_bad_profile_is_refused_naming_the_field() {
    let image = "template: {image: quay.io/example/a:1}";
    let cases: &[(&str, String, &str)] = &[
        ("no image", "- {name: a, size: 1}".into(), "template.image"),
        ("a bad name", format!("- {{name: A_B, size: 1, {image}}}"), "name"),
        (
            "a bad workspace",
            format!("- {{name: a, workspace: 'x y', size: 1, {image}}}"),
            "workspace",
        ),
        ("too big", format!("- {{name: a, size: 101, {image}}}"), "size"),
        (
            "too young",
            format!("- {{name: a, size: 1, maxAge: 10s, {image}}}"),
            "maxAge",
        ),
        (
            "not a duration",
            format!("- {{name: a, size: 1, maxAge: soon, {image}}}"),
            "maxAge",
        ),
        (
            "labels",
            "- {name: a, size: 1, template: {image: i:1, labels: {x: y}}}".into(),
            "template.labels",
        ),
        (
            "environment",
            "- {name: a, size: 1, template: {image: i:1, environment: {X: y}}}".into(),
            "template.environment",
        ),
        (
            "a wrong type",
            "- {name: a, size: 1, template: {image: [1]}}".into(),
            "template.image",
        ),
        (
            "an unknown field",
            format!("- {{name: a, size: 1, sise: 2, {image}}}"),
            "sise",
        ),
        (
            "two of a name",
            format!("- {{name: a, size: 1, {image}}}\n  - {{name: a, size: 1, {image}}}"),
            "a second profile",
        ),
    ];
    for (what, entries, names) in cases {
        let text = format!("profiles:\n  {entries}\n");
        let err = parse_profiles(&text).expect_err(what);
        assert!(err.contains(names), "{what}: {err}");
    }
}

/// The chart writes `driver.warmPool.profiles` into a ConfigMap: the driver reads it as written.
#[test]
fn the_charts_warm_pool_configmap_is_a_profile_file() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/chart/warm.yaml");
    let rendered = std::fs::read_to_string(path).expect("the chart's warm golden file");
    let file = serde_yaml::Deserializer::from_str(&rendered)
        .filter_map(|doc| serde_yaml::Value::deserialize(doc).ok())
        .filter(|doc| doc["kind"] == "ConfigMap")
        .find(|doc| {
            doc["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.ends_with("-warm-pool"))
        })
        .and_then(|doc| doc["data"]["profiles.yaml"].as_str().map(str::to_string))
        .expect("a warm-pool ConfigMap with profiles.yaml");
    let profiles = parse_profiles(&file).expect("parses");
    assert_eq!(profiles.len(), 1);
    let python = &profiles[0];
    assert_eq!((python.name.as_str(), python.size), ("python", 3));
    assert_eq!(python.max_age, Duration::from_secs(30 * 60));
    let template = python.spec.template.as_ref().expect("a template");
    assert_eq!(template.image, "quay.io/example/python:3");
}
