fn main() -> std::process::ExitCode {
    tfplugin::serve(authentik_forward_auth::FwdAuthProvider::default())
}
