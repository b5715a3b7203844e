fn main() {
    std::process::exit(rt_build::cli::main());
}
