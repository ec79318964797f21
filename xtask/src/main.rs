//! Project tasks: `cargo xtask codegen` regenerates committed artefacts (the pipeline JSON
//! Schema). `cargo test -p xtask` runs the tidy checks in `tidy.rs`.

mod codegen;
#[cfg(test)]
mod tidy;

fn main() -> anyhow::Result<()> {
    let task = std::env::args().nth(1);
    match task.as_deref() {
        Some("codegen") => codegen::write_all(),
        _ => {
            anyhow::bail!("usage: cargo xtask codegen");
        }
    }
}
