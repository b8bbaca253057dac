//! Compiles `proto/onnx.proto` into Rust types with protox (a pure-Rust protobuf compiler, so no
//! `protoc` is needed on build machines) and prost-build.

use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let proto = "proto/onnx.proto";
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([proto], ["proto"])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
