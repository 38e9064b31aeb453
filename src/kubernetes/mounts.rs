//! The two builders every part of the pod uses for its volumes: an emptyDir and a mount. A leaf,
//! so the settings that add a volume (proxy, SPIFFE, topology) need not reach into `volumes`.

use k8s_openapi::api::core::v1::{EmptyDirVolumeSource, Volume, VolumeMount};

pub fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Default::default()
    }
}

pub fn mount(volume: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: volume.into(),
        mount_path: path.into(),
        read_only: Some(read_only),
        ..Default::default()
    }
}
