//! OpenShift: SCC- and SELinux-aware pod specs, Routes and the OAuth proxy, behind the
//! [`crate::kubernetes::enricher::PlatformEnricher`] seam. The provisioner knows none of this.
//!
//! `decision`, `namespace`, `expose`, `detect`, `pod`, `companions`, `scc`, `routes` and
//! `permissions` are pure; `enricher` is the I/O.

pub mod api;
pub mod companions;
pub mod decision;
pub mod detect;
pub mod enricher;
pub mod expose;
pub mod namespace;
pub mod permissions;
pub mod pod;
pub mod routes;
pub mod scc;

pub use decision::enrich_offline;
pub use enricher::OpenShiftEnricher;
