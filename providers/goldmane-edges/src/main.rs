//! The provider binary: Terraform starts it and speaks plugin protocol 6.
fn main() -> std::process::ExitCode {
    tfplugin::serve(goldmane_edges::GoldmaneProvider::default())
}
