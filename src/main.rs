fn main() {
    std::process::exit(rt::cli::main());
}
