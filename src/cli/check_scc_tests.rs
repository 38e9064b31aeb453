use super::*;
use crate::kubernetes::sideload::SupervisorSideload;

#[test]
fn a_plain_sandbox_renders_under_the_defaults_with_its_delivery_volumes() {
    let cases = [
        (SupervisorSideload::ImageVolume, true),
        (SupervisorSideload::InitContainer, false),
    ];
    for (sideload, image) in cases {
        let config = DriverConfig {
            supervisor_sideload: sideload,
            ..DriverConfig::defaults()
        };
        let volumes = plain_pod_volumes(&config).expect("renders");
        assert!(volumes.contains("emptyDir"), "{sideload:?}: {volumes:?}");
        assert_eq!(volumes.contains("image"), image, "{sideload:?}: {volumes:?}");
    }
}
