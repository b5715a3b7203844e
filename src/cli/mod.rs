//! Command line: parse flags, call the library, map errors to exit codes.
pub fn main() -> i32 {
    eprintln!("rt: not implemented yet");
    1
}
