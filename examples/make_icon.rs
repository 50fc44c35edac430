//! Writes lockscope's app icon as PNGs: `cargo run --example make_icon` rewrites
//! `assets/lockscope.png` (256×256) and `assets/lockscope-64.png` (64×64) from `icon_rgba`.
//! An optional argument names another output directory (default `assets`).
//!
//! The icon module is included by path so that this needs neither the `gui` feature nor eframe.

#[path = "../src/gui/icon.rs"]
#[allow(dead_code)]
mod icon;

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

fn write_png(path: &Path, size: u32) -> anyhow::Result<()> {
    let file = File::create(path)?;
    let mut encoder = png::Encoder::new(BufWriter::new(file), size, size);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_source_srgb(png::SrgbRenderingIntent::Perceptual);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&icon::icon_rgba(size))?;
    writer.finish()?;
    println!("wrote {} ({size}x{size})", path.display());
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let dir = std::env::args_os().nth(1).map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("assets"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir)?;
    write_png(&dir.join("lockscope.png"), 256)?;
    write_png(&dir.join("lockscope-64.png"), 64)?;
    Ok(())
}
