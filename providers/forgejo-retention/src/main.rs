fn main() -> std::process::ExitCode {
    tfplugin::serve(terraform_provider_forgejo_retention::RetentionProvider::default())
}
