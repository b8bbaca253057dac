//! Linker arguments that let binaries linking libtorch start without `LD_LIBRARY_PATH`.
//!
//! This file is shared verbatim between the crate (as `trainyard_engine::linking`) and its build
//! script (through `include!`), so every package that links tch can reproduce the same flags.
//!
//! A package with binaries or tests that link tch (a trainer-worker, say) must:
//! 1. depend on `torch-sys` directly (only direct dependents see `DEP_TCH_LIBTORCH_LIB`), and
//! 2. have a build script that prints, for every `arg` of [`link_args`]
//!    called with that variable's value, `cargo:rustc-link-arg={arg}`.
//!
//! ```text
//! // build.rs
//! fn main() {
//!     let lib = std::env::var("DEP_TCH_LIBTORCH_LIB").expect("torch-sys sets this");
//!     for arg in trainyard_link_args(&lib) { println!("cargo:rustc-link-arg={arg}"); }
//! }
//! ```
//!
//! Why each flag: torch-sys's own rpath never reaches dependent binaries; rustc passes
//! `--as-needed`, which would drop the (CPU-empty) `libtorch.so` and with it CUDA on GPU hosts;
//! `libtorch_cpu.so` needs `libcudart.so.13`, which lives in the wheel's `nvidia/cu13/lib` folder.

/// The `rustc-link-arg` values for a libtorch whose `lib` folder is `libtorch_lib`.
pub fn link_args(libtorch_lib: &str) -> Vec<String> {
    let lib = std::path::Path::new(libtorch_lib);
    let mut args = vec![format!("-Wl,-rpath,{}", lib.display())];
    // <LIBTORCH>/lib -> <LIBTORCH>/../nvidia/cu13/lib, the wheel's layout.
    if let Some(root) = lib.parent().and_then(|torch| torch.parent()) {
        let cuda = root.join("nvidia").join("cu13").join("lib");
        if cuda.is_dir() {
            args.push(format!("-Wl,-rpath,{}", cuda.display()));
        }
    }
    args.push("-Wl,--no-as-needed,-ltorch,--as-needed".to_string());
    args
}
