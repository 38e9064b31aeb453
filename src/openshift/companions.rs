//! The objects an exposed sandbox gets next to its Sandbox: Service, Route and (with
//! `auth: openshift`) the oauth-proxy's cookie Secret and the ServiceAccount's redirect. Pure.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Secret, Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::config::ExposeAuth;
use crate::kubernetes::identity::{LABEL_GATEWAY_ID, LABEL_SANDBOX_ID, SandboxIdentity, driver_labels};
use crate::openshift::expose::{Exposure, OAUTH_PROXY_PORT};
use crate::openshift::pod::{
    COOKIE_KEY, OAUTH_CLIENT_ANNOTATION, OAUTH_PROXY_CONTAINER, SANDBOX_PORT_NAME, SERVING_CERT_ANNOTATION,
    expose_names,
};

/// The objects an exposed sandbox gets besides its Sandbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Companions {
    pub service: Service,
    pub route: serde_json::Value,
    /// The oauth-proxy's cookie secret (`auth: openshift` only).
    pub cookie_secret: Option<Secret>,
    /// Annotation to set on the sandbox ServiceAccount so that it is an OAuth client
    /// redirecting to the Route (`auth: openshift` only).
    pub redirect_annotation: Option<(String, String)>,
}

/// The Service, Route and (with auth) cookie Secret of an exposed sandbox; `owner` makes the
/// garbage collector delete them with the Sandbox.
pub fn companions(
    identity: &SandboxIdentity,
    gateway_id: &str,
    exposure: &Exposure,
    service_account: &str,
    owner: Option<OwnerReference>,
    cookie: &str,
) -> Companions {
    let names = expose_names(&identity.object_name);
    let labels = driver_labels(identity, gateway_id);
    let auth = exposure.auth == ExposeAuth::Openshift;
    let meta = |name: &str, annotations: BTreeMap<String, String>| ObjectMeta {
        name: Some(name.into()),
        namespace: Some(identity.namespace.clone()),
        labels: Some(labels.clone()),
        annotations: (!annotations.is_empty()).then_some(annotations),
        owner_references: owner.clone().map(|o| vec![o]),
        ..Default::default()
    };
    let (port_name, port) = if auth {
        (OAUTH_PROXY_CONTAINER, OAUTH_PROXY_PORT)
    } else {
        (SANDBOX_PORT_NAME, exposure.port)
    };
    let service_annotations = if auth {
        BTreeMap::from([(SERVING_CERT_ANNOTATION.to_string(), names.tls_secret.clone())])
    } else {
        BTreeMap::new()
    };
    let service = Service {
        metadata: meta(&names.service, service_annotations),
        spec: Some(ServiceSpec {
            selector: Some(BTreeMap::from([
                (LABEL_SANDBOX_ID.to_string(), identity.id.clone()),
                (LABEL_GATEWAY_ID.to_string(), gateway_id.to_string()),
            ])),
            ports: Some(vec![ServicePort {
                name: Some(port_name.into()),
                port: i32::from(port),
                target_port: Some(IntOrString::String(port_name.into())),
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let route_annotations = if auth {
        BTreeMap::from([(OAUTH_CLIENT_ANNOTATION.to_string(), service_account.to_string())])
    } else {
        BTreeMap::new()
    };
    let mut route_spec = serde_json::json!({
        "to": {"kind": "Service", "name": names.service, "weight": 100},
        "port": {"targetPort": port_name},
        "tls": {"termination": exposure.tls.as_route(), "insecureEdgeTerminationPolicy": "Redirect"},
        "wildcardPolicy": "None",
    });
    if let Some(host) = &exposure.host {
        route_spec["host"] = host.clone().into();
    }
    let route = serde_json::json!({
        "apiVersion": crate::openshift::api::route_resource().api_version,
        "kind": "Route",
        "metadata": meta(&names.route, route_annotations),
        "spec": route_spec,
    });
    let cookie_secret = auth.then(|| Secret {
        metadata: meta(&names.cookie_secret, BTreeMap::new()),
        type_: Some("Opaque".into()),
        string_data: Some(BTreeMap::from([(COOKIE_KEY.to_string(), cookie.to_string())])),
        immutable: Some(true),
        ..Default::default()
    });
    let redirect_annotation = auth.then(|| {
        let reference = serde_json::json!({
            "kind": "OAuthRedirectReference", "apiVersion": "v1",
            "reference": {"kind": "Route", "name": names.route}
        });
        (names.redirect_annotation.clone(), reference.to_string())
    });
    Companions {
        service,
        route,
        cookie_secret,
        redirect_annotation,
    }
}
