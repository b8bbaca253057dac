//! `trainyard-demo-data`: writes the synthetic document-page dataset (form, invoice, letter,
//! receipt, table) as an ImageFolder ZIP, the input of the demo training.

use anyhow::{Context, Result};
use clap::Parser;
use std::path::PathBuf;
use trainyard_engine::synth;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Write the synthetic document-page demo dataset as a ZIP"
)]
struct Args {
    /// Path of the ZIP to write.
    #[arg(long)]
    out: PathBuf,
    /// Pages per class.
    #[arg(long, default_value_t = 200)]
    per_class: usize,
    /// Page side in pixels.
    #[arg(long, default_value_t = 64)]
    size: u32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let classes = synth::CLASSES.len();
    synth::write_zip(&args.out, classes, args.per_class, args.size, args.seed)
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "wrote {} pages in {classes} classes to {}",
        classes * args.per_class,
        args.out.display()
    );
    Ok(())
}
