//! Adds libtorch's rpaths and keeps `libtorch.so` linked (the worker trains in-process, and on a
//! GPU host `libtorch.so` is what brings CUDA in); see `trainyard_engine::linking`.

#[allow(dead_code)]
#[path = "../../shared/engine/src/linking.rs"]
mod linking;

fn main() {
    println!("cargo:rerun-if-changed=../../shared/engine/src/linking.rs");
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let lib = std::env::var("DEP_TCH_LIBTORCH_LIB")
        .expect("torch-sys must be a direct dependency so DEP_TCH_LIBTORCH_LIB is set");
    for arg in linking::link_args(&lib) {
        println!("cargo:rustc-link-arg={arg}");
    }
}
