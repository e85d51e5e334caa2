fn main() -> std::process::ExitCode {
    tg_wrapper::cli::main()
}
