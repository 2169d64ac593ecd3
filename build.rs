//! Compiles the public API in `proto/` and writes the descriptor set that reflection serves.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded; nothing else reads the environment concurrently.
    unsafe { std::env::set_var("PROTOC", protoc) };

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let mut protos: Vec<PathBuf> = std::fs::read_dir("proto/sfgate/v1")?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "proto"))
        .collect();
    protos.sort();

    tonic_prost_build::configure()
        // Requests that do not decode are INVALID_ARGUMENT (src/api/wire.rs), not INTERNAL.
        .codec_path("crate::api::wire::ApiCodec")
        .file_descriptor_set_path(out_dir.join("sfgate_descriptor.bin"))
        .compile_protos(&protos, &[PathBuf::from("proto")])?;

    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
