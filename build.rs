// Compiles proto/compute_driver.proto with a protoc shipped by a crate, so that a fresh
// machine needs no system protoc.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    let include = protoc_bin_vendored::include_path()?;
    // The spec carries the sandbox token: its Debug is written by hand to redact it.
    tonic_prost_build::configure()
        .skip_debug(["openshell.compute.v1.DriverSandboxSpec"])
        .compile_with_config(
            config,
            &["proto/compute_driver.proto".into()],
            &[std::path::PathBuf::from("proto"), include],
        )?;
    println!("cargo:rerun-if-changed=proto/compute_driver.proto");
    Ok(())
}
