//! The spec files and fixtures are embedded in the binary (`src/runner/corpus.rs`); an edit
//! to either must rebuild it.

fn main() {
    println!("cargo:rerun-if-changed=specs");
    println!("cargo:rerun-if-changed=fixtures");
}
