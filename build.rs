// Compiles proto/compute_driver.proto with a protoc shipped by a crate, so that a fresh
// machine needs no system protoc, and generates the protobuf JSON mapping of its messages
// (pbjson) from the same descriptors.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptors = out.join("compute_driver.descriptors.bin");
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    let include = protoc_bin_vendored::include_path()?;
    // The spec carries the sandbox token: its Debug is written by hand to redact it.
    // google.protobuf comes from pbjson-types, whose Struct reads and writes plain JSON.
    tonic_prost_build::configure()
        .skip_debug(["openshell.compute.v1.DriverSandboxSpec"])
        .file_descriptor_set_path(&descriptors)
        .compile_well_known_types(true)
        .extern_path(".google.protobuf", "::pbjson_types")
        // Written by hand (src/proto/list.rs): a List sends the bytes each sandbox was encoded to.
        .extern_path(
            ".openshell.compute.v1.ListSandboxesResponse",
            "crate::proto::list::ListSandboxesResponse",
        )
        .compile_with_config(
            config,
            &["proto/compute_driver.proto".into()],
            &[std::path::PathBuf::from("proto"), include],
        )?;
    pbjson_build::Builder::new()
        .register_descriptors(&std::fs::read(&descriptors)?)?
        .exclude([".openshell.compute.v1.ListSandboxesResponse"])
        .build(&[".openshell.compute.v1"])?;
    println!("cargo:rerun-if-changed=proto/compute_driver.proto");
    Ok(())
}
