//! Compiles the tfplugin6 and go-plugin controller protos with `protox`, a
//! protobuf compiler written in Rust, so `cargo build` and `cargo install
//! --path` work on a bare Rust toolchain (no system `protoc`). protox
//! carries the `google/protobuf/*` well-known types tfplugin6 imports.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(["tfplugin6.proto", "grpc_controller.proto"], ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // compile_protos adds this itself; compile_fds does not, and the
        // generated code is not ours to lint.
        .type_attribute(".", "#[allow(clippy::all)]")
        .compile_fds(descriptors)?;
    Ok(())
}
